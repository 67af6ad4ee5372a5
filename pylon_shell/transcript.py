"""What a REPL session ran, for the user to take away: every input in order
(exported as a .py file, ptpython's "save session") and the output of the
last one (copied to the clipboard).

The export is a program that runs: an input that raised is kept as a
comment, so the file stops nowhere the session did not. It never writes into
the installed pylon package (a session saved "over" a module of pylon would
change pylon itself), and its errors are one line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pylon_shell
from pylon_shell.errors import UsageError
from pylon_shell.runtimes.base import Outcome, Raised

#: Characters of the last input's output kept for a copy.
MAX_OUTPUT = 1 << 20


@dataclass
class Transcript:
    #: (source, the exception's type name when it raised) per input, in order.
    inputs: list[tuple[str, str | None]] = field(default_factory=list)
    _output: list[str] = field(default_factory=list)
    _size: int = 0

    def begin(self) -> None:
        """A new input runs: its output replaces the last one's."""
        self._output, self._size = [], 0

    def output(self, data: bytes) -> None:
        if self._size < MAX_OUTPUT:
            text = data.decode("utf-8", "replace")[: MAX_OUTPUT - self._size]
            self._output.append(text)
            self._size += len(text)

    def end(self, source: str, outcome: Outcome) -> None:
        raised = outcome.type_name if isinstance(outcome, Raised) else None
        if isinstance(outcome, Raised):
            self.output(outcome.traceback.encode())
        self.inputs.append((source.rstrip("\n"), raised))

    @property
    def last_output(self) -> str:
        return "".join(self._output)

    def program(self) -> str:
        """The inputs as a Python file."""
        parts = ["# A pylon session's inputs, in the order they ran.\n"]
        for source, raised in self.inputs:
            if raised is None:
                parts.append(source + "\n")
            else:
                commented = "\n".join(f"# {line}" if line else "#" for line in source.split("\n"))
                parts.append(f"# raised {raised} in the session:\n{commented}\n")
        return "\n".join(parts)

    def save(self, target: str) -> Path:
        """Write program() to `target`; the absolute path written. UsageError
        (one line) when it cannot be, or may not be, written."""
        if not target.strip():
            raise UsageError("save the session to which file? e.g. :save-session session.py")
        path = Path(target).expanduser().absolute()
        if _in_package(path):
            raise UsageError(
                f"{path} is inside the installed pylon package and is never written; "
                "save to a file of your own, e.g. ./session.py"
            )
        if not self.inputs:
            raise UsageError("nothing to save yet: no input has run in this session")
        try:
            path.write_text(self.program(), encoding="utf-8")
        except OSError as error:
            raise UsageError(f"could not write {path}: {error.strerror or error}") from None
        return path


def _in_package(path: Path) -> bool:
    package = Path(pylon_shell.__file__).resolve().parent
    try:
        return path.resolve().is_relative_to(package)
    except (OSError, RuntimeError):
        return True  # a path that cannot be resolved is not written either
