"""Search the scrollback (Ctrl+F): every line that holds the text, newest
first; choosing one scrolls the scrollback to it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

#: Matches listed at most.
MAX_MATCHES = 200


def matches(lines: list[str], query: str) -> list[int]:
    """Indexes of the lines holding `query` (case-insensitive), newest first."""
    if not query:
        return []
    wanted = query.casefold()
    found = [index for index, line in enumerate(lines) if wanted in line.casefold()]
    return list(reversed(found))[:MAX_MATCHES]


class SearchScreen(ModalScreen[int | None]):
    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    #search { width: 90%; max-width: 110; height: auto; max-height: 80%;
              border: round $accent; background: $panel; padding: 0 1; }
    #search-matches { height: auto; max-height: 16; }
    """
    BINDINGS = [
        Binding("escape", "dismiss(None)", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, lines: list[str]) -> None:
        super().__init__()
        self._lines = lines
        self._found: list[int] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="search"):
            yield Label("Search the scrollback (Enter goes to the line, Esc closes)")
            yield Input(placeholder="text to find", id="search-query")
            yield Label("", id="search-count")
            yield OptionList(id="search-matches", markup=False)  # guest output, as it is

    def on_input_changed(self, event: Input.Changed) -> None:
        self._found = matches(self._lines, event.value)
        listing = self.query_one("#search-matches", OptionList)
        listing.set_options(
            Option(f"{index + 1:>5}  {self._lines[index].strip()[:200]}") for index in self._found
        )
        if self._found:
            listing.highlighted = 0
        count = len(self._found)
        more = "+" if count == MAX_MATCHES else ""
        label = f"{count}{more} line{'s' if count != 1 else ''}" if event.value else ""
        self.query_one("#search-count", Label).update(label)

    def action_move(self, step: int) -> None:
        listing = self.query_one("#search-matches", OptionList)
        if self._found:
            current = listing.highlighted or 0
            listing.highlighted = max(0, min(len(self._found) - 1, current + step))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        highlighted = self.query_one("#search-matches", OptionList).highlighted
        self.dismiss(self._found[highlighted or 0] if self._found else None)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self._found[event.option_index])
