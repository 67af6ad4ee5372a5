"""The REPL's scrollback: the input echoed with highlighting, output as it
streams, tracebacks and pylon's own notes.

RichLog renders each write once, at the width and in the colours of that
moment. The scrollback keeps what was written (as entries, bounded like the
lines) and renders all of it again when its width changes (a terminal resize,
the scrollbar appearing) or the theme does: old lines rewrap instead of being
cut, and old code takes the new theme's colours instead of staying white on a
light background.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from rich.console import RenderableType
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual import events
from textual.widgets import RichLog

#: Lines the scrollback keeps.
MAX_LINES = 10_000


@dataclass(frozen=True)
class _Entry:
    """One write: what it was and how to draw it (kind: echo, text or traceback)."""

    kind: str
    text: str
    style: str = ""

    @property
    def line_count(self) -> int:
        return self.text.count("\n") + 1


class Scrollback(RichLog):
    def __init__(self, *, theme: str = "monokai", id: str | None = None) -> None:
        # min_width: wrap at the real width (RichLog renders at least 78 columns).
        # max_lines: a flood of output keeps the newest lines, not all of them.
        super().__init__(
            wrap=True, markup=False, highlight=False, min_width=20, max_lines=MAX_LINES, id=id
        )
        self._syntax_theme = theme
        self._partial = {1: "", 2: ""}
        self._entries: deque[_Entry] = deque()
        self._entry_lines = 0
        #: The width the entries were last drawn at, and the height last shown.
        self._drawn_width = 0
        self._seen_height = 0

    # -- what the REPL writes ---------------------------------------------------

    def echo(self, source: str) -> None:
        """The code the user ran, after the python REPL's prompts, highlighted."""
        self.flush_output()
        self._add(_Entry("echo", source.rstrip("\n")))

    def output(self, fd: int, text: str) -> None:
        """Guest output; whole lines are written now, a partial line when the run ends."""
        pending = self._partial[fd] + text
        *lines, rest = pending.split("\n")
        self._partial[fd] = rest
        if len(lines) > MAX_LINES:
            # More than the scrollback keeps: write only what it would keep.
            skipped = f"… {len(lines) - MAX_LINES} lines skipped …"
            self._add(_Entry("text", skipped, "dim italic"))
            lines = lines[-MAX_LINES:]
        if lines:
            # One write for the batch: RichLog's cost is per write, not per line.
            self._add(_Entry("text", "\n".join(lines), "red" if fd == 2 else ""))

    def flush_output(self) -> None:
        for fd, rest in self._partial.items():
            if rest:
                self._add(_Entry("text", rest, "red" if fd == 2 else ""))
                self._partial[fd] = ""

    def traceback(self, text: str) -> None:
        self.flush_output()
        self._add(_Entry("traceback", text.rstrip("\n")))

    def note(self, text: str, style: str = "dim italic") -> None:
        self.flush_output()
        self._add(_Entry("text", text, style))

    def plain(self) -> list[str]:
        """Every line kept, as text (for a search or a copy): not cut by the width."""
        return [line for entry in self._entries for line in entry.text.split("\n")]

    # -- drawing ------------------------------------------------------------------

    @property
    def syntax_theme(self) -> str:
        return self._syntax_theme

    @syntax_theme.setter
    def syntax_theme(self, theme: str) -> None:
        """A new Pygments style: everything already shown is drawn again in it."""
        if theme != self._syntax_theme:
            self._syntax_theme = theme
            self.redraw()

    def _add(self, entry: _Entry) -> None:
        self._entries.append(entry)
        self._entry_lines += entry.line_count
        while self._entry_lines > MAX_LINES and len(self._entries) > 1:
            self._entry_lines -= self._entries.popleft().line_count
        self.write(self._renderable(entry))

    def _renderable(self, entry: _Entry) -> RenderableType:
        if entry.kind == "echo":
            return _prompted(entry.text, self._syntax_theme)
        if entry.kind == "traceback":
            return Syntax(
                entry.text,
                "pytb",
                theme=self._syntax_theme,
                background_color="default",
                word_wrap=True,
            )
        return Text(entry.text, style=entry.style)

    def _on_resize(self, event: events.Resize) -> None:
        # Textual runs RichLog.on_resize (its first, deferred writes) after this.
        # Whether the end was in view is judged at the height it was seen at:
        # a shorter scrollback (the input grew) keeps showing the newest lines.
        at_end = self.scroll_y + self._seen_height >= len(self.lines)
        self._seen_height = event.size.height
        self.call_after_refresh(self._follow_size, at_end)

    def _follow_size(self, at_end: bool) -> None:
        width = self.scrollable_content_region.width
        if width and self._drawn_width and width != self._drawn_width:
            self.redraw()
        self._drawn_width = width or self._drawn_width
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def redraw(self) -> None:
        """Draw every entry again at the current width and theme; the view
        stays at the end when it was there (the usual case)."""
        if not self._size_known:
            return
        at_end = self.scroll_y >= self.max_scroll_y
        RichLog.clear(self)
        for entry in self._entries:
            self.write(self._renderable(entry), scroll_end=False)
        self._drawn_width = self.scrollable_content_region.width
        if at_end:
            self.scroll_end(animate=False, immediate=True, x_axis=False)

    def clear(self) -> Scrollback:
        """Empty the scrollback and what it keeps (nothing comes back on a redraw)."""
        self._entries.clear()
        self._entry_lines = 0
        self._partial = {1: "", 2: ""}
        super().clear()
        return self


#: Inputs longer than this are echoed as one block: each line's own prompt
#: costs a highlighting pass of the whole input.
PROMPTED_LINES = 200


def _prompted(code: str, theme: str) -> Table:
    """The prompts in a column of their own beside the code, a row per line
    of code: a line too long for the width wraps under itself (never cut with
    "…"), and the next line still gets its own "... ". Each row highlights
    the whole input and shows its line, so a string across lines stays one."""
    grid = Table.grid(padding=0)
    grid.add_column(width=4, no_wrap=True)
    # fold: a word longer than the width goes on the next line (a table's
    # default is to cut it with "…").
    grid.add_column(overflow="fold")
    count = code.count("\n") + 1
    prompt = Text(">>> ", style="bold green")
    if count > PROMPTED_LINES:
        grid.add_row(prompt, _syntax(code, theme))
        return grid
    for number in range(1, count + 1):
        grid.add_row(
            prompt if number == 1 else Text("... ", style="bold green"),
            _syntax(code, theme, (number, number)),
        )
    return grid


def _syntax(code: str, theme: str, lines: tuple[int, int] | None = None) -> Syntax:
    return Syntax(
        code, "python", theme=theme, background_color="default", word_wrap=True, line_range=lines
    )
