"""A build the TUI's session needs on the way (the SQLite provider component
on its first use, a runtime rebuilt after an update) shown in the TUI: the
builder reports its steps through the Progress protocol (pylon_shell/progress.py),
which the CLI draws on stderr; here each step becomes a message to the app,
which shows it in a status line above the input until the build finishes.

The builder runs on the guest's thread: post_message is the thread-safe way
to reach the UI, and never waits for it."""

from __future__ import annotations

from typing import Protocol

from textual.message import Message


class BuildProgress(Message):
    """A build's step began (`label`), or it finished (`finished`, its last line)."""

    def __init__(self, label: str | None = None, finished: str | None = None) -> None:
        super().__init__()
        self.label = label
        self.finished = finished


class _Poster(Protocol):
    def post_message(self, message: Message) -> bool: ...


class TuiProgress:
    """A Progress that tells the app."""

    def __init__(self, app: _Poster) -> None:
        self._app = app

    def step(self, index: int, total: int, label: str) -> None:
        self._app.post_message(BuildProgress(label=f"[{index}/{total}] {label}"))

    def finish(self, message: str) -> None:
        self._app.post_message(BuildProgress(finished=message))
