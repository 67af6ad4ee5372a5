"""Messages that carry what the guest thread produced to the widgets (Textual
posts them on the UI thread, so widgets never touch guest state directly)."""

from __future__ import annotations

from textual.message import Message

from pylon_shell.caps.grants import Event
from pylon_shell.runtimes.base import Outcome


class GuestOutput(Message):
    """Bytes the guest wrote to stdout (fd 1) or stderr (fd 2), as it wrote them."""

    def __init__(self, fd: int, text: str) -> None:
        super().__init__()
        self.fd = fd
        self.text = text


class CapEvent(Message):
    """An import or a cap call the grants table published."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunFinished(Message):
    """The guest finished running one input."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__()
        self.outcome = outcome


class SessionReady(Message):
    """The interpreter is up (after start, restart or a runtime switch)."""

    def __init__(self, version: str, note: str | None = None) -> None:
        super().__init__()
        self.version = version
        self.note = note


class Submitted(Message):
    """The input area holds complete code: run it."""

    def __init__(self, source: str) -> None:
        super().__init__()
        self.source = source
