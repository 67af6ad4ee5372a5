"""The REPL's scrollback: the input echoed with highlighting, output as it
streams, tracebacks and pylon's own notes."""

from __future__ import annotations

from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.widgets import RichLog

#: Lines the scrollback keeps.
MAX_LINES = 10_000


class Scrollback(RichLog):
    def __init__(self, *, theme: str = "monokai", id: str | None = None) -> None:
        # min_width: wrap at the real width (RichLog renders at least 78 columns).
        # max_lines: a flood of output keeps the newest lines, not all of them.
        super().__init__(
            wrap=True, markup=False, highlight=False, min_width=20, max_lines=MAX_LINES, id=id
        )
        self.syntax_theme = theme
        self._partial = {1: "", 2: ""}

    def echo(self, source: str) -> None:
        """The code the user ran, after the python REPL's prompts, highlighted."""
        self.flush_output()
        code = source.rstrip("\n")
        self.write(
            _prompted(
                code.count("\n") + 1,
                Syntax(code, "python", theme=self.syntax_theme, background_color="default"),
            )
        )

    def output(self, fd: int, text: str) -> None:
        """Guest output; whole lines are written now, a partial line when the run ends."""
        pending = self._partial[fd] + text
        *lines, rest = pending.split("\n")
        self._partial[fd] = rest
        if len(lines) > MAX_LINES:
            # More than the scrollback keeps: write only what it would keep.
            self.write(Text(f"… {len(lines) - MAX_LINES} lines skipped …", style="dim italic"))
            lines = lines[-MAX_LINES:]
        if lines:
            # One write for the batch: RichLog's cost is per write, not per line.
            self.write(Text("\n".join(lines), style="red" if fd == 2 else ""))

    def flush_output(self) -> None:
        for fd, rest in self._partial.items():
            if rest:
                self.write(Text(rest, style="red" if fd == 2 else ""))
                self._partial[fd] = ""

    def traceback(self, text: str) -> None:
        self.flush_output()
        self.write(
            Syntax(text.rstrip("\n"), "pytb", theme=self.syntax_theme, background_color="default")
        )

    def note(self, text: str, style: str = "dim italic") -> None:
        self.flush_output()
        self.write(Text(text, style=style))


def _prompted(count: int, code: Syntax) -> Table:
    """The prompts in a column of their own beside the code, so wrapped lines
    stay under the code."""
    grid = Table.grid(padding=0)
    grid.add_column(width=4, no_wrap=True)
    grid.add_column()
    prompts = "\n".join(">>> " if i == 0 else "... " for i in range(count))
    grid.add_row(Text(prompts, style="bold green"), code)
    return grid
