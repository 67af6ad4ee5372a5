"""The launcher's side of the provider process: start it, forward calls, kill it.

Every host provider call of a session goes through one `ProviderProcess`:
`call(cap, method, args)` sends the call to the worker (caps/worker.py) and
waits for its answer, answering on the way the worker's questions about the
grants (the launcher holds the live table, prompts and events). The worker
starts on the first call, so a session that uses no host cap never pays for
it. A worker that crashes, is killed (`--timeout`, Ctrl+C) or sends garbage
ends that one call with the cap's error class and one line; the next call
starts a fresh worker whose handles never collide with the old one's.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pylon_shell.caps import channel, registry
from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Grants
from pylon_shell.caps.values import ProviderError
from pylon_shell.options import Preopen

if TYPE_CHECKING:
    # subprocess, socket, tempfile and shutil are imported when a worker
    # starts: a session that makes no host cap call (`pylon -c pass`) never
    # pays for them.
    import socket
    import subprocess

#: Handle numbers each worker generation may use (WIT handles are u32).
_GENERATION_SPAN = 1 << 20
#: The name of a worker's scratch directory, before its launcher's pid.
_SCRATCH_PREFIX = "pylon-provider-"
#: How long a worker may take to confine itself and say it is ready.
_START_TIMEOUT = 30.0
#: The questions a worker may ask about the grants: read-only, or deciding one call.
_QUESTIONS: dict[str, tuple[type, ...]] = {
    "decide": (str, str, str),
    "reaches": (str, str),
    "is_granted": (str,),
    "still_allows": (str, str, str),
    "denial": (str, str, str),
}
#: Python code that starts a worker: isolated mode (no PYTHON* variables, no
#: user site), then the package from where the launcher has it.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[2]); import pylon_shell.caps.worker as w; "
    "sys.path.remove(sys.argv[2]); w.main(int(sys.argv[1]))"
)


@dataclass
class _Worker:
    process: subprocess.Popen[bytes]
    sock: socket.socket
    scratch: Path
    ports: set[int] | None
    abi: int


def _remove_leftovers(temp: Path) -> None:
    """Scratch directories of launchers that were killed (kill -9 leaves them):
    each name carries its launcher's pid, and one whose launcher is gone is removed."""
    import shutil

    for folder in temp.glob(f"{_SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(_SCRATCH_PREFIX) :].partition("-")[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except PermissionError:
            pass  # another user's launcher, alive


def connect_ports(grants: Grants) -> set[int] | None:
    """The TCP ports the grants' hosts reach; None when any port may be allowed:
    a grant with port *, audit mode (`pylon trace` allows every connect), or a
    permission prompt (the user may allow a host once, on a port no grant names)."""
    if grants.audit or grants.prompter is not None:
        return None
    ports: set[int] = set()
    for pattern in grants.hosts:
        if pattern.port is None:
            return None
        ports.add(pattern.port)
    return ports


class ProviderProcess:
    """One session's provider process. Thread-safe: one call at a time, and
    `interrupt` from any thread."""

    def __init__(self, grants: Grants, preopens: list[Preopen], memory_mib: int | None) -> None:
        self._grants = grants
        self._preopens = list(preopens)
        self._memory_mib = memory_mib
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._generation = 0
        #: Why the running worker was stopped, when the launcher stopped it.
        self._stopped: str | None = None
        self._busy = False
        #: Workers started in this session (for `pylon bench` and tests).
        self.started = 0

    # -- the worker's life ------------------------------------------------

    def _start(self) -> _Worker:
        import socket
        import subprocess
        import tempfile

        self._generation += 1
        if self._generation == 1:
            _remove_leftovers(Path(tempfile.gettempdir()))
        scratch = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{os.getpid()}-"))
        ports = connect_ports(self._grants)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        package_parent = str(Path(__file__).resolve().parents[2])
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-B", "-c", _BOOT, str(theirs.fileno()), package_parent],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=scratch,
                env={
                    "HOME": str(scratch),
                    "TMPDIR": str(scratch),
                    "LANG": "C.UTF-8",
                    # Fewer allocator arenas: less address space under RLIMIT_AS.
                    "MALLOC_ARENA_MAX": "2",
                },
                start_new_session=True,
            )
        finally:
            theirs.close()
        worker = _Worker(process, ours, scratch, ports, 0)
        try:
            channel.send(
                ours,
                {
                    "handle_base": (self._generation % 4096) * _GENERATION_SPAN + 1,
                    "scratch": str(scratch),
                    "memory_mib": self._memory_mib,
                    "preopens": [[str(p.host), p.guest, p.readonly] for p in self._preopens],
                    "read_write": [str(scratch)]
                    + [str(p.host) for p in self._preopens if not p.readonly],
                    "read_only": [str(p.host) for p in self._preopens if p.readonly],
                    "connect_ports": None if ports is None else sorted(ports),
                    "parent": os.getpid(),
                    "cap_packages": registry.described(),
                },
            )
            ours.settimeout(_START_TIMEOUT)
            ready = channel.receive(ours)
            ours.settimeout(None)
            if not isinstance(ready, dict) or type(ready.get("ready")) is not int:
                raise channel.ChannelError("the provider process did not start")
        except (channel.ChannelError, OSError) as error:
            self._discard(worker)
            raise ProviderError(
                "OSError", f"the provider process could not start: {error}"
            ) from None
        worker.abi = ready["ready"]
        self.started += 1
        return worker

    def _current(self) -> _Worker:
        worker = self._worker
        if worker is not None and worker.ports is not None:
            wanted = connect_ports(self._grants)
            if wanted is None or not wanted <= worker.ports:
                # A host was granted on a port this worker's Landlock rules
                # cannot reach; rules cannot be widened, so start afresh.
                self._discard(worker)
                worker = None
        if worker is None or worker.process.poll() is not None:
            if worker is not None:
                self._discard(worker)
            worker = self._worker = self._start()
        return worker

    def _discard(self, worker: _Worker) -> None:
        import shutil

        if worker.process.poll() is None:
            worker.process.kill()
        worker.process.wait()
        worker.sock.close()
        shutil.rmtree(worker.scratch, ignore_errors=True)
        if self._worker is worker:
            self._worker = None

    @property
    def landlock_abi(self) -> int | None:
        """The running worker's Landlock ABI (0: none), or None when no worker runs."""
        worker = self._worker
        return worker.abi if worker is not None else None

    def interrupt(self) -> bool:
        """Stop the host work of the running call (`--timeout`, Ctrl+C) by
        killing the worker; False when no call is in flight. A call whose
        worker is still starting is stopped before it is sent."""
        if not self._busy:
            return False
        self._stopped = "interrupted"
        worker = self._worker
        if worker is not None:
            worker.process.kill()
        return True

    def close(self) -> None:
        """End the worker, also while a call waits on it (the session is
        closing: nothing will read that call's answer)."""
        worker = self._worker
        if worker is not None:
            worker.process.kill()
        with self._lock:
            if self._worker is not None:
                self._discard(self._worker)

    # -- calls ------------------------------------------------------------

    def call(self, cap: str, method: str, args: list[Any]) -> Any:
        with self._lock:
            self._stopped = None
            self._busy = True
            try:
                worker = self._current()
            except BaseException:
                self._busy = False
                raise
            try:
                if self._stopped is not None:
                    raise channel.ChannelError("stopped before the call was sent")
                channel.send(worker.sock, {"c": [cap, method, args], "g": self._plain_grants()})
                return self._await(worker)
            except (channel.ChannelError, OSError) as error:
                raise self._lost(worker, cap, error) from None
            finally:
                self._busy = False

    def _plain_grants(self) -> list[str]:
        """The caps the table grants outright right now, for the worker to
        allow their checks without asking: caps that reach hosts, audit mode
        and prompts still ask, so the launcher decides every other answer."""
        if self._grants.audit:
            return []
        return sorted(c for c in self._grants.granted if c in CAPS and not CAPS[c].per_host)

    def _await(self, worker: _Worker) -> Any:
        """The call's answer, serving the worker's questions and events meanwhile."""
        while True:
            message = channel.receive(worker.sock)
            if not isinstance(message, dict):
                raise channel.ChannelError("a reply that is not a message")
            if "r" in message:
                return message["r"]
            if "x" in message:
                kind, text = _pair_of_text(message["x"])
                if message.get("internal"):
                    from pylon_shell.errors import log_internal_error

                    log_internal_error(RuntimeError(text))
                raise ProviderError(kind, text)
            if "q" in message:
                channel.send(worker.sock, {"a": self._answer(message["q"])})
            elif "e" in message:
                self._event(message["e"])
            else:
                raise channel.ChannelError("an unknown message")

    def _answer(self, question: Any) -> Any:
        if not (isinstance(question, list) and len(question) == 2):
            raise channel.ChannelError("a malformed question")
        name, args = question
        types = _QUESTIONS.get(name) if isinstance(name, str) else None
        if (
            types is None
            or not isinstance(args, list)
            or len(args) != len(types)
            or not all(isinstance(a, t) for a, t in zip(args, types, strict=True))
        ):
            raise channel.ChannelError("a malformed question")
        if name == "decide":
            allowed, how = self._grants._decide(*args)
            return [allowed, how, None if allowed else self._grants.denial(*args)]
        answer: Callable[..., Any] = getattr(self._grants, name)
        return answer(*args)

    def _event(self, fields: Any) -> None:
        types: tuple[Any, ...] = (str, str, str, bool, (int, float), str, bool)
        if not (
            isinstance(fields, list)
            and len(fields) == len(types)
            and all(isinstance(fields[i], kind) for i, kind in enumerate(types))
        ):
            raise channel.ChannelError("a malformed event")
        cap, operation, target, granted, duration, how, ok = fields
        self._grants.publish(
            CapCallEvent(cap, operation, target, granted, float(duration), decided_by=how, ok=ok)
        )

    def _lost(self, worker: _Worker, cap: str, error: Exception) -> ProviderError:
        """The worker is gone or misbehaved: stop it, and say why in the guest's terms."""
        import subprocess

        # What the cap's call raises in the guest: the class its module would.
        package = registry.defining(cap)
        kind = package.failure if package is not None else "OSError"
        try:
            status = worker.process.wait(timeout=1)
        except subprocess.TimeoutExpired:
            status = None
        self._discard(worker)
        if self._stopped == "interrupted":
            return ProviderError("InterruptedError", f"[Errno 4] the {cap} call was interrupted")
        if status is not None and status < 0:
            try:
                name = signal.Signals(-status).name
            except ValueError:
                name = f"signal {-status}"
            if -status == signal.SIGXCPU:
                why = "used up its CPU time"
            else:
                why = f"crashed ({name})"
            return ProviderError(kind, f"the {cap} provider {why}; its objects are gone")
        if status is not None:
            return ProviderError(
                kind, f"the {cap} provider exited (status {status}); its objects are gone"
            )
        return ProviderError(
            kind, f"the {cap} provider sent a malformed reply ({error}) and was stopped"
        )


def _pair_of_text(value: Any) -> tuple[str, str]:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return value[0], value[1]
    raise channel.ChannelError("a malformed error")


class ProviderProxy:
    """A cap's provider as the cap layer calls it (`layer.provider("duckdb").execute(...)`):
    each method call is forwarded to the provider process."""

    def __init__(self, process: ProviderProcess, cap: str) -> None:
        self._process = process
        self._cap = cap

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        def forward(*args: Any) -> Any:
            return self._process.call(self._cap, method, list(args))

        forward.__name__ = method
        return forward
