"""The guest's input() and sys.stdin in the TUI: each read asks the app for
an inline prompt (widgets/stdin_prompt.py) and waits for the answer on the
guest's thread, in short slices, so a timeout or an interrupt still ends it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

#: Seconds between two looks at whether the read was cancelled.
POLL = 0.05

Answer = Callable[[str, str], None]


class PromptHost(Protocol):
    """What the app offers the guest's thread (called through call_from_thread)."""

    def call_from_thread(self, callback: Callable[..., object], *args: object) -> object: ...

    def show_stdin_prompt(self, prompt: str, answer: Answer) -> None: ...

    def hide_stdin_prompt(self) -> None: ...


class TuiInput:
    """A GuestInput (runtimes/base.py) answered by the user in the TUI."""

    def __init__(self, app: PromptHost) -> None:
        self._app = app
        #: The rest of a line sys.stdin asked for in pieces.
        self._buffer = b""

    def _ask(self, prompt: str, cancelled: Callable[[], bool]) -> tuple[str, str]:
        answer: list[tuple[str, str]] = []
        done = threading.Event()

        def answered(kind: str, text: str) -> None:
            answer.append((kind, text))
            done.set()

        try:
            self._app.call_from_thread(self._app.show_stdin_prompt, prompt, answered)
        except RuntimeError:  # the app is no longer running
            return "eof", ""
        while not done.wait(POLL):
            if cancelled():
                try:
                    self._app.call_from_thread(self._app.hide_stdin_prompt)
                except RuntimeError:
                    pass
                raise KeyboardInterrupt
        kind, text = answer[0]
        if kind == "interrupt":
            raise KeyboardInterrupt
        return kind, text

    def read_line(self, prompt: str, cancelled: Callable[[], bool]) -> str | None:
        kind, text = self._ask(prompt, cancelled)
        return None if kind == "eof" else text

    def read(self, size: int, cancelled: Callable[[], bool]) -> bytes:
        if not self._buffer:
            kind, text = self._ask("", cancelled)
            if kind == "eof":
                return b""
            self._buffer = (text + "\n").encode("utf-8", "surrogateescape")
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data
