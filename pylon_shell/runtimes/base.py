"""The Runtime protocol: what the CLI, the REPL and the TUI may ask of an interpreter.

Both runtimes (CPython component, MicroPython module) sit behind it, so nothing
above this layer knows which one it is talking to.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from pylon_shell.options import Preopen

T = TypeVar("T")

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

    `reason` is one of "timeout", "interrupt", "crash", "limit" (the guest's
    /tmp passed its size limit).
    """

    reason: str
    message: str


Outcome = Ok | Exited | Raised | Trapped


#: Longest line or read the guest gets from one input call (a longer line comes
#: in pieces); prompts longer than this are cut.
MAX_INPUT = 1 << 20


class InputStopped(Exception):
    """Raised out of a host input call when the watchdog stopped the call: the
    engine cannot interrupt host code, so the read ends the call itself."""


class ReadState:
    """The input call a runtime is in, if any: Ctrl+C there cancels the read
    (KeyboardInterrupt in the guest, state kept) instead of trapping the guest."""

    def __init__(self, watchdog: Watchdog) -> None:
        self._watchdog = watchdog
        self._cancel: threading.Event | None = None
        #: A REPL: a read the watchdog stopped raises KeyboardInterrupt in the
        #: guest (its state kept) instead of ending the call.
        self.keep = False

    def cancel(self) -> bool:
        """Cancel the read in progress; False when there is none."""
        cancel = self._cancel
        if cancel is None:
            return False
        cancel.set()
        return True

    def run(self, read: Callable[[Callable[[], bool]], T]) -> tuple[str, T | None]:
        """("data", value), ("eof", None) or ("interrupted", None); raises
        InputStopped when the call's timeout or an engine interrupt fired."""
        cancel = threading.Event()
        self._cancel = cancel

        def cancelled() -> bool:
            return cancel.is_set() or self._watchdog.fired is not None

        try:
            return "data", read(cancelled)
        except KeyboardInterrupt:
            if self._watchdog.fired is not None and not self.keep:
                raise InputStopped(self._watchdog.fired) from None
            return "interrupted", None
        except EOFError:
            return "eof", None
        finally:
            self._cancel = None


class NoInput:
    """No stdin at all: every read is at end of input."""

    def read_line(self, prompt: str, cancelled: Callable[[], bool]) -> str | None:
        return None

    def read(self, size: int, cancelled: Callable[[], bool]) -> bytes:
        return b""


class FdInput:
    """A host file descriptor (the launcher's stdin), read without blocking the
    call for good: it waits in POLL slices and checks `cancelled` between them.

    Bytes are kept here between calls, so input() and sys.stdin share one stream.
    The prompt goes to `output` (stdout), as python's input() writes it."""

    POLL = 0.05

    def __init__(self, fd: int, output: Output) -> None:
        self._fd = fd
        self._output = output
        self._buffer = bytearray()
        self._eof = False

    def _fill(self, cancelled: Callable[[], bool]) -> None:
        import os
        import select

        while True:
            if cancelled():
                raise KeyboardInterrupt
            try:
                ready, _, _ = select.select([self._fd], [], [], self.POLL)
            except (OSError, ValueError):
                ready = [self._fd]
            if ready:
                break
        try:
            chunk = os.read(self._fd, 65536)
        except OSError:
            chunk = b""
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    def _line(self, limit: int, cancelled: Callable[[], bool]) -> bytes:
        while True:
            end = self._buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self._buffer) >= limit or self._eof:
                return self._take(limit)
            self._fill(cancelled)

    def _take(self, count: int) -> bytes:
        taken = bytes(self._buffer[:count])
        del self._buffer[:count]
        return taken

    def read_line(self, prompt: str, cancelled: Callable[[], bool]) -> str | None:
        if prompt:
            self._output(1, prompt[:MAX_INPUT].encode("utf-8", "surrogateescape"))
        line = self._line(MAX_INPUT, cancelled)
        if not line:
            return None
        return line.removesuffix(b"\n").decode("utf-8", "replace")

    def read(self, size: int, cancelled: Callable[[], bool]) -> bytes:
        return self._line(max(1, min(size, MAX_INPUT)), cancelled)


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

    def run_module(self, module: str, argv: list[str]) -> Outcome:
        """`python -m module argv...`: the module as __main__, sys.argv[0] its file."""
        ...

    def complete(self, text: str) -> list[str]: ...

    def interrupt(self) -> bool:
        """Stop the running call or read; False when nothing was running yet."""
        ...

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
        #: Set when an epoch-deadline callback decides (runtimes/interrupt.py).
        self.keep_ticking = False

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

    def stop(self, reason: str) -> bool:
        """Stop the running call for `reason` (the guest's /tmp passed its limit)."""
        with self._lock:
            call = self._call
        return self._fire(call, reason)

    def _fire(self, call: int, reason: str) -> bool:
        with self._lock:
            if not self._running or call != self._call:
                return False
            first = self.fired is None
            self.fired = reason
            self._increment()
        if first and self.keep_ticking:
            ticker = threading.Thread(target=self._tick, args=(call,), daemon=True)
            ticker.start()
        if self._on_fire is not None:
            self._on_fire()
        return True

    def _tick(self, call: int) -> None:
        """Tick the engine while the stopped call still runs, so that an
        epoch-deadline callback that resumed the guest runs again (and traps
        a guest that did not yield)."""
        from pylon_shell.runtimes.interrupt import TICK

        while True:
            time.sleep(TICK)
            with self._lock:
                if not self._running or call != self._call:
                    return
                self._increment()

    def stopped(self) -> str | None:
        """Why the running call was stopped, or None (also between calls)."""
        with self._lock:
            return self.fired if self._running else None


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


#: Where the guest finds the IANA zone data: the first entry of its zoneinfo
#: TZPATH (CPython's compiled default), so `zoneinfo` needs no setting.
GUEST_ZONEINFO = "/usr/share/zoneinfo"


def tzdata_dir() -> Path | None:
    """The zoneinfo directory of the `tzdata` package (PyPI) installed beside
    pylon, found without importing it; None when it is not installed."""
    from importlib.util import find_spec

    spec = find_spec("tzdata")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = Path(list(spec.submodule_search_locations)[0]) / "zoneinfo"
    return found if found.is_dir() else None


def guest_cwd(preopens: list[Preopen], tmp: str | None) -> str | None:
    """The guest's working directory at start, as python users expect it: the
    launcher's own, where a preopen shows it (`--dir .:/app` starts in /app,
    `--dir ~:/home` in the matching directory below /home); else the private
    /tmp (a directory that exists and can be entered again); else None (WASI's
    `/`, which no preopen holds, so a program cannot chdir back to it)."""
    import os

    try:
        here = Path(os.getcwd()).resolve()
    except OSError:
        here = None
    best: tuple[int, str] | None = None
    if here is None:
        return None
    for preopen in preopens:
        try:
            inner = here.relative_to(Path(preopen.host).resolve())
        except (ValueError, OSError):
            continue
        depth = len(Path(preopen.host).resolve().parts)
        if best is None or depth > best[0]:
            guest = preopen.guest.rstrip("/") or "/"
            best = (depth, guest if not inner.parts else f"{guest.rstrip('/')}/{inner.as_posix()}")
    if best is not None:
        return best[1]
    return tmp
