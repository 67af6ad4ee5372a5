"""The Runtime protocol: what the CLI, the REPL and the TUI may ask of an interpreter.

Both runtimes (CPython component, MicroPython module) sit behind it, so nothing
above this layer knows which one it is talking to.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: Receives guest output as it is written: (fd, bytes), fd 1 stdout and 2 stderr.
Output = Callable[[int, bytes], None]


@dataclass(frozen=True)
class Ok:
    """The code ran to completion."""


@dataclass(frozen=True)
class Exited:
    """The code raised SystemExit with this status."""

    code: int


@dataclass(frozen=True)
class Raised:
    """An uncaught exception; `traceback` shows the user's frames only."""

    type_name: str
    traceback: str
    #: Set when the exception is a cap denial: the one line that explains it.
    denial: str | None = None


@dataclass(frozen=True)
class Trapped:
    """The engine stopped the guest (timeout, interrupt, crash): the instance is gone.

    `reason` is one of "timeout", "interrupt", "crash".
    """

    reason: str
    message: str


Outcome = Ok | Exited | Raised | Trapped


@dataclass(frozen=True)
class Preopen:
    """A host directory the guest may see, at `guest` path."""

    host: Path
    guest: str
    readonly: bool = False


@dataclass
class RuntimeOptions:
    """How to start a runtime: what it may see and how far it may go."""

    preopens: list[Preopen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: Wall-clock limit for each call into the guest, in seconds.
    timeout: float | None = None
    #: Limit on the guest's linear memory, in MiB.
    memory_mib: int | None = None
    #: Let the guest read the launcher's stdin (script mode), or give it none.
    inherit_stdin: bool = False
    #: Package directories (read-only) the guest finds on its sys.path (CPython only).
    packages: list[Preopen] = field(default_factory=list)


class Runtime(Protocol):
    """A persistent interpreter in wasmtime. Not thread-safe: one caller at a time,
    except `interrupt`, which any thread may call."""

    #: "cpython" or "micropython".
    name: str
    #: Shown to the user, e.g. "CPython 3.14.0".
    version: str

    @property
    def alive(self) -> bool: ...

    def run_input(self, source: str) -> Outcome: ...

    def is_complete(self, source: str) -> bool: ...

    def run_program(self, source: str, filename: str, argv: list[str]) -> Outcome: ...

    def complete(self, text: str) -> list[str]: ...

    def interrupt(self) -> None: ...

    def close(self) -> None: ...


class Watchdog:
    """Stops a running guest call on timeout or on request, through epoch interruption.

    The engine traps a store whose epoch deadline has passed. Each call arms a
    deadline of one tick; the watchdog ticks the engine only while that same
    call is still running, so a late timer can never kill the next call.
    """

    def __init__(
        self, increment_epoch: Callable[[], None], on_fire: Callable[[], None] | None = None
    ) -> None:
        self._increment = increment_epoch
        #: Stops what the host is doing for the guest (a DuckDB query, a socket
        #: read): the epoch only stops wasm, and a host call runs to its end.
        self._on_fire = on_fire
        self._lock = threading.Lock()
        self._call = 0
        self._running = False
        self._timer: threading.Timer | None = None
        self.fired: str | None = None

    def begin(self, timeout: float | None) -> None:
        with self._lock:
            self._call += 1
            self._running = True
            self.fired = None
            if timeout is not None:
                call = self._call
                self._timer = threading.Timer(timeout, self._fire, args=(call, "timeout"))
                self._timer.daemon = True
                self._timer.start()

    def end(self) -> None:
        with self._lock:
            self._running = False
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    def interrupt(self) -> bool:
        """Stop the running call; False when nothing is running."""
        with self._lock:
            call = self._call
        return self._fire(call, "interrupt")

    def _fire(self, call: int, reason: str) -> bool:
        with self._lock:
            if not self._running or call != self._call:
                return False
            self.fired = reason
            self._increment()
        if self._on_fire is not None:
            self._on_fire()
        return True


def trap_outcome(error: str, fired: str | None, timeout: float | None) -> Trapped:
    """Explain an engine trap (its message is `error`) in the user's terms."""
    if fired == "timeout":
        return Trapped("timeout", f"timed out after {timeout:g} s (raise it with --timeout)")
    if fired == "interrupt":
        return Trapped("interrupt", "KeyboardInterrupt: the guest was stopped")
    # wasmtime's message is a backtrace followed by a "Caused by" chain; the
    # last link is the one that says what happened (e.g. out of bounds access).
    head, _, chain = error.partition("Caused by:")
    causes = [re.sub(r"^\d+:\s*", "", line.strip()) for line in chain.splitlines() if line.strip()]
    reason = (causes or [line for line in head.strip().splitlines()[:1]] or ["unknown trap"])[-1]
    return Trapped("crash", f"the guest crashed ({reason}); its session is gone")
