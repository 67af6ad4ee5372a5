"""The guest's private /tmp: a host directory made for one interpreter and removed with it.

It is no grant of the fs cap: the guest sees only what it wrote there itself.
Where pylon could make its own mount namespace (tmpfs.py), the directory is
a tmpfs of the limit's size: a write past it fails with ENOSPC in the guest
and nothing here needs to watch. Otherwise (no user namespaces), WASI
(wasmtime-py 50) has no hook on a preopen's writes and no quota, so the
size limit is kept by accounting on the host (see `TmpDir.check`): while a
guest call runs, a thread measures the directory every POLL seconds, and once
more when the call ends; past the limit the call is stopped (the engine traps
the instance) and the session ends with one line. Disk use may pass the limit
by what the guest writes within one poll interval before it is stopped, then
the directory is removed. docs/runtimes.md states the guarantee.

Directories are named `session-<pid>-<start time of that process>-<random>`,
so a later start can tell the leftovers of a killed pylon (its pid gone, or
reused by a process that started at another time) from a live one's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pylon_shell import tmpfs

#: Where the guest sees it.
GUEST_TMP = "/tmp"
#: Seconds between two measurements while a guest call runs.
POLL = 0.02
#: Each file or directory counts for at least this much (an inode is not free,
#: and a flood of empty files must reach the limit too).
ENTRY_BYTES = 4096


def base_dir() -> Path:
    """The parent of every session's directory: the host's temp dir, per user.

    PYLON_TMP_DIR overrides it (tests). Made 0700 and owned by us, or refused:
    another user's directory in a shared /tmp must never be used."""
    override = os.environ.get("PYLON_TMP_DIR")
    base = Path(override) if override else Path(tempfile.gettempdir()) / f"pylon-{os.getuid()}"
    base.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise OSError(f"{base} is not a directory of this user; remove it or set PYLON_TMP_DIR")
    if stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(base, 0o700)
    return base


def _start_time(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return fields[19].decode()
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return "?"  # alive, start time unknown (no /proc)


def _owner_alive(name: str) -> bool:
    parts = name.split("-")
    if len(parts) != 4 or parts[0] != "session" or not parts[1].isdigit():
        return True  # not ours: never removed
    started = _start_time(int(parts[1]))
    return started is not None and started in (parts[2], "?")


def remove_tree(path: Path) -> None:
    """Remove what the guest left, whatever modes it gave its files."""

    def retry(function: Callable[..., object], target: str, _error: object) -> None:
        try:
            os.chmod(os.path.dirname(target), 0o700)
            function(target)
        except OSError:
            pass

    if sys.version_info >= (3, 12):
        shutil.rmtree(path, onexc=retry)
    else:
        shutil.rmtree(path, onerror=retry)


def remove_leftovers(base: Path) -> None:
    """Remove the directories of pylons that are no longer running."""
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        if entry.name.startswith("session-") and not _owner_alive(entry.name):
            remove_tree(Path(entry.path))


class TmpDir:
    """One interpreter's /tmp on the host, its size limit and its watch thread."""

    def __init__(self, limit_mib: int) -> None:
        self.limit = limit_mib * 1024 * 1024
        self.limit_mib = limit_mib
        base = base_dir()
        remove_leftovers(base)
        pid = os.getpid()
        name = f"session-{pid}-{_start_time(pid) or '?'}-{secrets.token_hex(4)}"
        self.path = base / name
        self.path.mkdir(mode=0o700)
        #: A tmpfs of the limit's size: the kernel keeps the limit (ENOSPC).
        self.mounted = tmpfs.mount(str(self.path), limit_mib)
        self.exceeded = False
        self._closed = False
        self._running = threading.Event()
        self._wake = threading.Event()
        self._on_exceeded: Callable[[], object] | None = None
        self._thread: threading.Thread | None = None

    def usage(self) -> int:
        """Bytes the directory holds, as counted against the limit: every entry's
        apparent size or its allocated blocks, whichever is larger, and at least
        ENTRY_BYTES. Stops counting once past the limit."""
        total = 0
        stack = [str(self.path)]
        while stack:
            try:
                entries = os.scandir(stack.pop())
            except OSError:
                continue
            with entries:
                for entry in entries:
                    try:
                        info = entry.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    total += max(info.st_size, info.st_blocks * 512, ENTRY_BYTES)
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
                    if total > self.limit:
                        return total
        return total

    def check(self) -> bool:
        """True (and `exceeded` set for good) when the directory is past its limit."""
        if self.mounted:
            return False
        if not self.exceeded and not self._closed and self.usage() > self.limit:
            self.exceeded = True
        return self.exceeded

    def watch(self, on_exceeded: Callable[[], object]) -> None:
        """Measure every POLL seconds while a call runs; call `on_exceeded` once past it."""
        if self.mounted:
            return
        self._on_exceeded = on_exceeded
        self._thread = threading.Thread(target=self._loop, name="pylon-tmp-watch", daemon=True)
        self._thread.start()

    def begin(self) -> None:
        self._running.set()
        self._wake.set()

    def end(self) -> bool:
        """The call ended: the last measurement, True when past the limit."""
        self._running.clear()
        return self.check()

    def message(self) -> str:
        return (
            f"the guest's /tmp passed its limit of {self.limit_mib} MiB "
            "(raise it with --tmp-size); its session is gone"
        )

    def _loop(self) -> None:
        while not self._closed:
            if not self._running.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            if self.check():
                if self._on_exceeded is not None:
                    self._on_exceeded()
                return
            time.sleep(POLL)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._running.clear()
        self._wake.set()
        if self.mounted:
            tmpfs.unmount(str(self.path))
        remove_tree(self.path)
