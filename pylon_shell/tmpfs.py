"""A real size limit for the guest's private /tmp: a tmpfs of --tmp-size,
mounted at the session's directory in pylon's own mount namespace.

Host-side accounting (scratch.py) can only notice a /tmp past its limit
after the fact and end the session; a tmpfs with `size=` makes the write
itself fail, so the guest gets OSError(ENOSPC) and goes on. Mounting needs
CAP_SYS_ADMIN over a mount namespace, which an unprivileged user gets from
a user namespace of its own: at start, before any thread exists (unshare
of CLONE_NEWUSER refuses a threaded process), pylon unshares a user and a
mount namespace, maps only its own uid and gid, and from then on mounts a
tmpfs per session directory. Shared mounts become slaves in a namespace
owned by a less privileged user namespace, so nothing mounted here is
seen outside; the host only ever sees the empty directory. As root, a
mount namespace alone (made a slave of the host's) does it, and root
keeps its access to every user's files.

Where that is refused (no user namespaces, an LSM that forbids them, not
Linux, PYLON_NO_USERNS=1), `status()` says why and scratch.py keeps its
accounting. Measured on Linux 6.18: unshare and the maps 0.2 ms, a mount
0.15 ms; ctypes is already loaded by wasmtime-py.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_SLAVE = 16384, 1 << 19
MNT_DETACH = 2
#: Bytes an inode counts for in the limit: tmpfs's size= counts only data, so
#: the number of inodes is bounded too (a flood of empty files must end).
INODE_BYTES = 4096

_state: dict[str, object] = {"ready": False, "why": "not tried"}


def _libc() -> tuple[Any, Any]:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = (
        ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p,
    )
    libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)
    libc.unshare.argtypes = (ctypes.c_int,)
    return libc, ctypes


def _threads() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def enter() -> None:
    """Once, at start, single-threaded: a mount namespace pylon may mount in."""
    if _state["ready"] or _state["why"] != "not tried":
        return
    if not sys.platform.startswith("linux"):
        _state["why"] = "not Linux"
        return
    if os.environ.get("PYLON_NO_USERNS") == "1":
        _state["why"] = "PYLON_NO_USERNS=1"
        return
    if _threads() != 1:
        _state["why"] = "pylon already had threads at start"
        return
    try:
        libc, ctypes = _libc()
        uid, gid = os.getuid(), os.getgid()
        root = os.geteuid() == 0
        if libc.unshare(CLONE_NEWNS if root else CLONE_NEWUSER | CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        if root:  # the same user namespace: stop mounts propagating to the host's
            if libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
                raise OSError(ctypes.get_errno(), "mount --make-rslave /")
        else:
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1")
            _write("/proc/self/gid_map", f"{gid} {gid} 1")
    except OSError as error:
        _state["why"] = f"user namespaces are unavailable ({os.strerror(error.errno or 0)})"
        return
    _state["ready"] = True
    _state["why"] = ""


def mount(path: str, limit_mib: int) -> bool:
    """A tmpfs of `limit_mib` at `path` (an empty directory of ours); False
    when that cannot be done here (the reason is in `status()`)."""
    if not _state["ready"]:
        return False
    libc, ctypes = _libc()
    inodes = max(64, limit_mib * 1024 * 1024 // INODE_BYTES)
    options = f"size={limit_mib}m,nr_inodes={inodes},mode=0700,uid={os.getuid()},gid={os.getgid()}"
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    if libc.mount(b"pylon-tmp", os.fsencode(path), b"tmpfs", flags, options.encode()) != 0:
        errno = ctypes.get_errno()
        _state["ready"] = False
        _state["why"] = f"a tmpfs could not be mounted ({os.strerror(errno)})"
        return False
    return True


def unmount(path: str) -> None:
    libc, _ctypes = _libc()
    libc.umount2(os.fsencode(path), MNT_DETACH)


def _probe() -> None:
    """Mount one small tmpfs and unmount it: an LSM may allow the namespace
    and still refuse the mount (then `mount` records why)."""
    import tempfile

    path = tempfile.mkdtemp(prefix="pylon-tmpfs-probe-")
    try:
        if mount(path, 1):
            unmount(path)
    finally:
        os.rmdir(path)


def status() -> str:
    """How the /tmp limit is kept, for `pylon caps`."""
    enter()
    if _state["ready"]:
        _probe()
    if _state["ready"]:
        return (
            "a tmpfs of --tmp-size in pylon's own mount namespace: a write past it fails "
            "in the guest with ENOSPC and the session goes on"
        )
    return (
        f"host-side accounting, the session ends past --tmp-size ({_state['why']}; "
        "a tmpfs needs user namespaces)"
    )
