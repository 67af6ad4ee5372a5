"""Shows a long build on stderr so the first run never looks frozen.

On a terminal one line is redrawn with a spinner and the time spent on the
step; elsewhere (CI logs, pipes) each step is one plain line.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Protocol, TextIO

_SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Progress(Protocol):
    """Told what the build is doing, so the user sees progress and not a frozen screen."""

    def step(self, index: int, total: int, label: str) -> None: ...

    def finish(self, message: str) -> None: ...


class QuietProgress:
    def step(self, index: int, total: int, label: str) -> None:
        pass

    def finish(self, message: str) -> None:
        pass


BUILD_INTRO = "pylon: first run: building the runtime artifacts (about a minute, once)\n"


class TerminalProgress:
    def __init__(self, stream: TextIO | None = None, *, intro: str | None = BUILD_INTRO) -> None:
        self._stream = stream or sys.stderr
        self._intro = intro
        self._tty = self._stream.isatty()
        self._label = ""
        self._started = 0.0
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._announced = False

    def _announce(self) -> None:
        if not self._announced:
            self._announced = True
            if self._intro:
                self._write(self._intro)

    def step(self, index: int, total: int, label: str) -> None:
        self._announce()
        with self._lock:
            self._clear()
            self._label = f"[{index}/{total}] {label}"
            self._started = time.monotonic()
        if not self._tty:
            self._write(f"pylon: {self._label}\n")
            return
        if self._ticker is None:
            self._ticker = threading.Thread(target=self._tick, daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        frame = 0
        while not self._stop.wait(0.1):
            with self._lock:
                elapsed = time.monotonic() - self._started
                spin = _SPINNER[frame % len(_SPINNER)]
                self._write(f"\r\x1b[2K{spin} {self._label}  {elapsed:4.1f}s")
            frame += 1

    def _clear(self) -> None:
        if self._tty and self._label:
            self._write("\r\x1b[2K")

    def finish(self, message: str) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            self._clear()
            self._label = ""
        self._write(f"pylon: {message}\n")
        self._stop.clear()

    def _write(self, text: str) -> None:
        try:
            self._stream.write(text)
            self._stream.flush()
        except (OSError, ValueError):
            pass
