"""The completion list: the guest's completions of the word at the cursor, in
a list just above the input, as ptpython shows them.

It never takes the focus: the input drives it, so typing goes on narrowing it,
Down/Up move in it, Enter or a click takes the highlighted entry and Esc
closes it. The words come from the guest: editing.clean_words bounds them
and keeps the printable ones before they are shown.
"""

from __future__ import annotations

from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class CompletionList(OptionList):
    DEFAULT_CSS = """
    CompletionList {
        display: none;
        height: auto;
        max-height: 8;
        border: none;
        padding: 0 1;
        background: $boost;
    }
    CompletionList.-open {
        display: block;
    }
    """
    can_focus = False

    class Chosen(Message):
        """An entry was clicked."""

        def __init__(self, word: str) -> None:
            super().__init__()
            self.word = word

    def __init__(self, *, id: str | None = None) -> None:
        # markup=False: a word from the guest is shown as it is, never read as markup.
        super().__init__(id=id, markup=False)
        self.words: list[str] = []

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def show(self, words: list[str]) -> None:
        """Open (or refresh) the list with `words`, nothing highlighted yet:
        Enter still runs the code until Down or Up picks an entry."""
        if words != self.words or not self.is_open:
            self.words = words
            self.set_options([Option(word) for word in words])
        self.highlighted = None
        self.add_class("-open")

    def close(self) -> None:
        self.remove_class("-open")
        self.words = []
        self.clear_options()

    def move(self, step: int) -> None:
        if not self.words:
            return
        if self.highlighted is None:
            self.highlighted = 0 if step > 0 else len(self.words) - 1
        else:
            self.highlighted = (self.highlighted + step) % len(self.words)

    def chosen(self) -> str | None:
        index = self.highlighted
        return self.words[index] if index is not None and index < len(self.words) else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.Chosen(self.words[event.option_index]))
