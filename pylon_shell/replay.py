"""Which REPL inputs may run again in a fresh interpreter, when nothing could keep one.

A trap (a C loop that never checks for Ctrl+C, memory exhaustion, a crash)
throws the interpreter away. The session is then restored by running the
earlier inputs again, silently, in a fresh one, but only those whose effects
were all inside the guest, so that running them twice changes nothing outside
it. The log keeps the inputs from the start of the interpreter up to (not
including) the first one that is not safe to run again:

- it made a granted call through a cap that reaches outside the guest (files
  in granted directories, read or written: pylon cannot tell which; the
  network; SQLite and DuckDB); denied calls did nothing, and the computing
  caps (compression, crypto, env) have no effect to repeat;
- it read the guest's stdin (input(), sys.stdin): a replay would read again;
- it was stopped (KeyboardInterrupt): where it stopped cannot be reproduced.

The input that trapped is not replayed, of course.

An input that raised anything else ran to its end and is replayed. Stopping
at the first unsafe input (instead of skipping it) keeps the restored state a
state the session really had. docs/tui.md states the rule for users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Event, Grants
from pylon_shell.options import GuestInput
from pylon_shell.runtimes.base import Ok, Outcome, Raised

#: Caps whose granted calls compute and return, with no effect outside the guest.
PURE_CAPS = frozenset(name for name, cap in CAPS.items() if cap.pure)


@dataclass
class ReplayLog:
    """The replayable inputs of the running interpreter, in order."""

    inputs: list[str] = field(default_factory=list)
    #: Why the log stopped growing ("" while it still grows).
    stopped: str = ""
    #: Inputs run since the log stopped (they are not replayed either).
    after: int = 0
    _reason: str = ""

    def watch(self, grants: Grants) -> None:
        grants.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if isinstance(event, CapCallEvent) and event.granted and event.cap not in PURE_CAPS:
            self._reason = self._reason or f"it used the {event.cap} cap"

    def read_stdin(self) -> None:
        self._reason = self._reason or "it read stdin"

    def begin(self) -> None:
        self._reason = ""

    def end(self, source: str, outcome: Outcome) -> None:
        if self.stopped:
            self.after += 1
            return
        if not isinstance(outcome, Ok | Raised):
            return  # a trap (the restore that follows says so) or the session's end
        reason = self._reason
        if not reason and isinstance(outcome, Raised) and outcome.type_name == "KeyboardInterrupt":
            reason = "it was interrupted"
        if reason:
            self.stopped = reason
        else:
            self.inputs.append(source)

    def clear(self) -> None:
        self.inputs.clear()
        self.stopped = ""
        self.after = 0
        self._reason = ""

    def summary(self, replayed: int) -> str:
        """What the fresh session holds, in a few words for one line."""
        plural = "" if replayed == 1 else "s"
        line = f"replayed {replayed} earlier input{plural} into a fresh session"
        if self.stopped:
            line += f" (not input {len(self.inputs) + 1} or later: {self.stopped})"
        return line


class CountedInput:
    """The guest's stdin, telling the log when it is read."""

    def __init__(self, inner: GuestInput, on_read: Callable[[], None]) -> None:
        self._inner = inner
        self._on_read = on_read

    def read_line(self, prompt: str, cancelled: Callable[[], bool]) -> str | None:
        self._on_read()
        return self._inner.read_line(prompt, cancelled)

    def read(self, size: int, cancelled: Callable[[], bool]) -> bytes:
        self._on_read()
        return self._inner.read(size, cancelled)
