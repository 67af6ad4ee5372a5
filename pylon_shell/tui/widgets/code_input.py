"""The REPL's input: Python-highlighted, multi-line while the code is incomplete,
history on Up/Down (persisted, shared with the line REPL), completion from the
guest in a list that narrows as you type, and ptpython's conveniences: the
newest history entry that starts with what is typed, greyed (Right takes it),
the matching bracket highlighted, Backspace and the lines after `return` going
back one indent level (editing.py has the rules, shared with the line REPL)."""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit.history import FileHistory
from textual import events
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import TextArea

from pylon_shell.editing import backspace_width, clean_words, next_indent, should_accept
from pylon_shell.tui.messages import Submitted
from pylon_shell.tui.widgets.completions import CompletionList


class CodeInput(TextArea):
    BINDINGS = [
        Binding("ctrl+d", "end_or_delete", "Quit", show=False),
        Binding("ctrl+r", "search_history", "Search history", show=False),
        Binding("up", "history(-1)", "Older", show=False),
        Binding("down", "history(1)", "Newer", show=False),
    ]

    def __init__(self, history: FileHistory | None, *, id: str | None = None) -> None:
        super().__init__(
            language="python", soft_wrap=True, tab_behavior="indent", id=id, show_line_numbers=False
        )
        self._history = history
        # Oldest first; the position is one past the newest while editing new text.
        self._entries = list(reversed(list(history.load_history_strings()))) if history else []
        self._position = len(self._entries)
        self._draft = ""
        #: Asks the guest whether code is complete; None while the guest is busy.
        self.is_complete: Callable[[str], bool] | None = None
        #: Asks the guest for completions of the text before the cursor.
        self.complete: Callable[[str], list[str]] | None = None
        #: Lines entered while the guest was busy, replayed as if typed now
        #: (a terminal buffers type-ahead the same way).
        self._typed_ahead: list[str] = []
        #: Reverse search in progress: (query, index of the entry shown).
        self._search: tuple[str, int] | None = None
        self.completions = CompletionList(id="completions")

    def on_mount(self) -> None:
        # Just above the input, in the input's own column.
        if isinstance(self.parent, Widget):
            self.parent.mount(self.completions, before=self)

    def ready(
        self,
        is_complete: Callable[[str], bool] | None,
        complete: Callable[[str], list[str]] | None,
    ) -> None:
        """The guest is idle (callables given) or busy (None)."""
        self.is_complete, self.complete = is_complete, complete
        if not self._typed_ahead or is_complete is None:
            return
        # The lines entered while it was busy come first, then what is being
        # typed now.
        partial = self.text
        self.clear()
        while self._typed_ahead and self.is_complete is not None:
            self.move_cursor(self.document.end)
            self.insert(self._typed_ahead.pop(0))
            self.action_submit()
        self.move_cursor(self.document.end)
        self.insert(partial)

    async def _on_key(self, event: events.Key) -> None:
        # Enter and Tab are handled here, in the order keys arrive: an app-level
        # (priority) binding would run before the keys typed just ahead of it.
        # Enter typed before the app took the terminal arrives as ctrl+j.
        if event.key in ("up", "down") and self.completions.is_open:
            # Here too, not in a binding (which runs only once the key has
            # bubbled up): Down then Enter typed at once take the entry.
            event.stop()
            event.prevent_default()
            self.completions.move(1 if event.key == "down" else -1)
            return
        if event.key in ("enter", "ctrl+j", "tab", "escape"):
            event.stop()
            event.prevent_default()
            if event.key == "tab":
                self.action_complete()
            elif event.key == "escape":
                # Esc closes the completion list; the keyboard stays here.
                self.completions.close()
                self.update_suggestion()
            elif (word := self.completions.chosen()) is not None:
                self._take(word)
            else:
                self.action_submit()
            return
        await super()._on_key(event)

    def action_submit(self) -> None:
        self._end_search()
        self.completions.close()
        if self.is_complete is None:
            self._typed_ahead.append(self.text)
            self.clear()
            return
        text = self.text
        at_end = self.cursor_location == self.document.end
        if at_end and should_accept(text, self.is_complete):
            if text.strip():
                self.remember(text.rstrip())
                self.post_message(Submitted(text.rstrip() + "\n"))
                self.is_complete = None  # busy until the app says the guest is idle
            self.clear()
            return
        before = self.document.get_text_range((0, 0), self.cursor_location)
        self.insert("\n" + next_indent(before))

    def remember(self, text: str) -> None:
        if not self._entries or self._entries[-1] != text:
            self._entries.append(text)
            if self._history is not None:
                self._history.append_string(text)
        self._position = len(self._entries)
        self._draft = ""

    def action_search_history(self) -> None:
        """Reverse search: the newest entry that contains the query (what was
        typed when the search began); pressing again goes to older ones."""
        if self._search is None:
            self._search = (self.text, len(self._entries))
        query, start = self._search
        for index in range(start - 1, -1, -1):
            if query in self._entries[index]:
                self._search = (query, index)
                self._position = index
                self.load_text(self._entries[index])
                self.move_cursor(self.document.end)
                self.border_subtitle = f"search: {query!r}"
                return
        if start == len(self._entries):
            self._search = None  # nothing matched at all
        self.app.bell()

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        search = self._search
        if search is not None and self.text != self._entries[search[1]]:
            self._end_search()
        self._narrow()

    def _end_search(self) -> None:
        self._search = None
        self.border_subtitle = ""

    def action_end_or_delete(self) -> None:
        """Ctrl+D quits on an empty input, as in the python REPL; else deletes."""
        if self.text:
            self.action_delete_right()
        else:
            self.app.exit()

    def action_history(self, step: int) -> None:
        row = self.cursor_location[0]
        on_edge = row == 0 if step < 0 else row == self.document.line_count - 1
        if not on_edge:
            self.move_cursor_relative(rows=step)
            return
        target = self._position + step
        if not 0 <= target <= len(self._entries):
            return
        if self._position == len(self._entries):
            self._draft = self.text
        self._position = target
        self.load_text(self._draft if target == len(self._entries) else self._entries[target])
        self.move_cursor(self.document.end)

    def action_delete_left(self) -> None:
        """In leading whitespace Backspace removes one indent level, not one space."""
        row, column = self.cursor_location
        if self.selection.is_empty and column > 0:
            width = backspace_width(self.document.get_line(row)[:column])
            if width > 1:
                self._delete_via_keyboard((row, column - width), (row, column))
                return
        super().action_delete_left()

    def _before_cursor(self) -> str:
        return self.document.get_text_range((0, 0), self.cursor_location)

    def _guest_words(self, before: str) -> list[str]:
        """The guest's completions of the word before the cursor ([] while it is busy)."""
        word = _last_word(before)
        if not word or self.complete is None:
            return []
        return [found for found in clean_words(self.complete(before)) if found.startswith(word)]

    def action_complete(self) -> None:
        """Tab: the common part of the completions goes in, and when several
        remain they are listed (Tab again moves down the list)."""
        if self.completions.is_open:
            self.completions.move(1)
            return
        before = self._before_cursor()
        word = _last_word(before)
        if not word or self.complete is None:
            self.insert("    ")
            return
        found = self._guest_words(before)
        if not found:
            self.app.bell()
            return
        if len(found) == 1:
            self._take(found[0])
            return
        common = _common_prefix(found)
        if len(common) > len(word):
            self.insert(common[len(word) :])
        self.completions.show(found)
        self.suggestion = ""

    def _take(self, word: str) -> None:
        """Put the chosen completion in place of the word before the cursor."""
        self.completions.close()
        row, column = self.cursor_location
        typed = _last_word(self.document.get_line(row)[:column])
        self.replace(word, (row, column - len(typed)), (row, column))

    def _narrow(self) -> None:
        """What is typed narrows the list; it closes when nothing (or only
        what is typed) is left."""
        if not self.completions.is_open:
            return
        before = self._before_cursor()
        found = self._guest_words(before)
        if not found or found == [_last_word(before)]:
            self.completions.close()
        else:
            self.completions.show(found)

    def on_completion_list_chosen(self, message: CompletionList.Chosen) -> None:
        self._take(message.word)
        self.focus()

    def update_suggestion(self) -> None:
        """The rest of the newest history entry that starts with the input's
        text, shown greyed after the cursor; Right takes it (as in ptpython)."""
        self.suggestion = self._suggest()

    def _suggest(self) -> str:
        text = self.text
        if not text.strip() or self.completions.is_open or self._search is not None:
            return ""
        if self.cursor_location != self.document.end:
            return ""
        for entry in reversed(self._entries):
            if entry.startswith(text) and len(entry) > len(text):
                return entry[len(text) :].split("\n", 1)[0]
        return ""


def _last_word(text: str) -> str:
    end = len(text)
    start = end
    while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_."):
        start -= 1
    return text[start:end]


def _common_prefix(words: list[str]) -> str:
    first, last = min(words), max(words)
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]
