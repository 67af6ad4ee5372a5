"""Guest paths as the plan's preopens map them onto the host, resolved beneath them.

Host providers (DuckDB) run outside the sandbox, yet the user writes guest
paths (`duckdb.connect('/data/x.duckdb')`, `read_csv('/data/x.csv')` in SQL).
The host OS would follow whatever the guest left in a writable grant: a
symbolic link `/data/v.duckdb -> ../outside/victim.duckdb` made with
`os.symlink` is an ordinary file operation inside the sandbox, and a host
`open()` of the mapped path lands outside every grant. So a guest path is
never joined onto the host directory and handed over as it is: `resolve`
walks it component by component beneath the granted directory, with
`openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)`
where the kernel has it (Linux 5.6+) and an `openat(O_NOFOLLOW)` walk
otherwise, and refuses a path in which any component is a symbolic link or a
`..` climbs out. The provider gets the real host path only after that check.

What this cannot close: the guest runs concurrently with the host call and
can swap a checked component for a link between the check and the library's
own `open()` (DuckDB opens by path). Landlock in the provider process, which
limits the process itself to the granted directories, is the backstop for
that race; this check is what makes the ordinary case right and the refusal
readable. Hard links are not refused in general: a guest cannot make one to
a file it cannot reach through WASI, so a link can only join files that are
already inside the plan's grants (two grants on one file system); callers
that write refuse a file with more than one link, so a read-only grant's
file linked into a writable one is not written through.
"""

from __future__ import annotations

import errno
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pylon_shell.caps.values import ProviderError
from pylon_shell.options import Preopen

_LITERAL = re.compile(r"'((?:[^']|'')*)'")
#: Linux's limits; a longer guest path or name could not be opened by the guest either.
PATH_MAX = 4096
NAME_MAX = 255

_O_PATH = getattr(os, "O_PATH", os.O_RDONLY)
_DIR_FLAGS = _O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
#: openat2(2): RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH.
_RESOLVE_FLAGS = 0x02 | 0x04 | 0x08
_SYS_OPENAT2 = 437  # the same number on every Linux architecture (a post-5.1 syscall)


class PathRefused(ProviderError):
    """A guest path that resolving beneath its grant refused: PermissionError in the guest."""

    def __init__(self, message: str) -> None:
        super().__init__("PermissionError", message)


@dataclass(frozen=True)
class HostPath:
    """A guest path resolved beneath its grant."""

    #: The guest path as the guest wrote it.
    guest: str
    #: The real host path: every component that exists was checked to be no link.
    host: Path
    preopen: Preopen
    #: Whether the final component exists (as a file, directory or anything but a link).
    exists: bool
    #: The final component's lstat, when it exists.
    status: os.stat_result | None = None


class _Openat2:
    """openat2(2) through ctypes, or None where the kernel or libc lacks it."""

    def __init__(self) -> None:
        self.call: Callable[[int, str, int], int] | None = None
        if not sys.platform.startswith("linux"):
            return
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)

            class OpenHow(ctypes.Structure):
                _fields_ = [
                    ("flags", ctypes.c_uint64),
                    ("mode", ctypes.c_uint64),
                    ("resolve", ctypes.c_uint64),
                ]

            syscall = libc.syscall
            syscall.restype = ctypes.c_long

            def call(dir_fd: int, path: str, flags: int) -> int:
                how = OpenHow(flags, 0, _RESOLVE_FLAGS)
                fd = syscall(
                    _SYS_OPENAT2,
                    ctypes.c_int(dir_fd),
                    ctypes.c_char_p(os.fsencode(path)),
                    ctypes.byref(how),
                    ctypes.c_size_t(ctypes.sizeof(how)),
                )
                if fd < 0:
                    code = ctypes.get_errno()
                    raise OSError(code, os.strerror(code), path)
                return int(fd)

            probe = os.open("/", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.close(call(probe, ".", _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
            finally:
                os.close(probe)
        except (OSError, AttributeError):
            return  # ENOSYS on kernels before 5.6, or a seccomp filter: the walk serves
        self.call = call


_openat2: _Openat2 | None = None


def openat2_available() -> bool:
    global _openat2
    if _openat2 is None:
        _openat2 = _Openat2()
    return _openat2.call is not None


def _guest_parts(guest: str) -> list[str]:
    """The components of an absolute guest path, `//` and `/./` dropped, `..` kept
    (the walk resolves it, so a `..` after a link is never taken lexically)."""
    if not isinstance(guest, str):
        raise PathRefused(f"a path must be a string, not {type(guest).__name__}")
    if "\x00" in guest:
        raise PathRefused("a path with a NUL character is refused")
    if len(os.fsencode(guest)) >= PATH_MAX:
        raise PathRefused(f"a path of {len(guest)} characters is too long (the limit is 4095)")
    if not guest.startswith("/"):
        raise PathRefused(
            f"{guest} is not an absolute guest path (name a file in a granted directory, "
            "such as /data/...)"
        )
    parts = [p for p in guest.split("/") if p not in ("", ".")]
    for part in parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise PathRefused(f"a name of {len(part)} characters in {guest[:60]}... is too long")
    return parts


def _is_link(name: str, dir_fd: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=dir_fd).st_mode)
    except OSError:
        return False


class GuestFS:
    def __init__(self, preopens: list[Preopen]) -> None:
        # Longest guest path first, so /data/sub wins over /data.
        self.preopens = sorted(preopens, key=lambda p: len(p.guest), reverse=True)

    def to_host(self, guest: str, *, writable: bool = False) -> Path | None:
        """The host path for `guest` by its spelling alone, or None when no
        (suitable) preopen covers it. For classifying paths (trace), never for
        opening one: that is `resolve`."""
        path = PurePosixPath(guest)
        if not path.is_absolute() or ".." in path.parts:
            return None
        for preopen in self.preopens:
            root = PurePosixPath(preopen.guest)
            if path == root or root in path.parents:
                if writable and preopen.readonly:
                    return None
                return Path(preopen.host, *path.relative_to(root).parts)
        return None

    def covering(self, guest: str) -> tuple[Preopen, list[str]] | None:
        """The preopen whose guest directory holds `guest`, and the components below it."""
        parts = _guest_parts(guest)
        for preopen in self.preopens:
            root = [p for p in preopen.guest.split("/") if p not in ("", ".")]
            if parts[: len(root)] == root:
                return preopen, parts[len(root) :]
        return None

    def resolve(
        self,
        guest: str,
        *,
        cap: str,
        write: bool = False,
        siblings: Iterable[str] = (),
    ) -> HostPath:
        """`guest` resolved beneath its grant, or PathRefused.

        Refused: a path no preopen covers, one in which any component (the last
        one too, existing or dangling) is a symbolic link, a `..` that would
        climb above the granted directory, NUL, over-long paths, and with
        `write` a read-only grant or a file with more than one hard link.
        `siblings` are suffixes of files a library creates beside the final
        component (DuckDB's `.wal`): each must be absent or no link either.
        A component that does not exist ends the walk; what follows it is kept
        as written (nothing on disk to follow, and a glob such as `*.csv` stays
        a pattern), except that a `..` there is refused.
        """
        found = self.covering(guest)
        if found is None:
            raise PathRefused(
                f"{guest} is outside the directories this plan grants {cap} "
                "(the fs cap); grant one with --dir HOST:GUEST"
            )
        preopen, parts = found
        if write and preopen.readonly:
            raise PathRefused(
                f"{guest} is in {preopen.guest}, which this plan grants read-only "
                f"(--dir {preopen.guest}:ro): {cap} may not write or create files there"
            )
        fd = os.open(preopen.host, _O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            return self._walk(guest, cap, preopen, parts, fd, write, tuple(siblings))
        finally:
            os.close(fd)

    def _walk(
        self,
        guest: str,
        cap: str,
        preopen: Preopen,
        parts: list[str],
        root_fd: int,
        write: bool,
        siblings: tuple[str, ...],
    ) -> HostPath:
        real_root = os.path.realpath(f"/proc/self/fd/{root_fd}")
        if not os.path.isabs(real_root) or real_root.startswith("/proc/"):
            real_root = os.path.realpath(preopen.host)
        fds: list[int] = []
        done: list[str] = []  # the components walked, `..` applied

        def shown(upto: list[str]) -> str:
            return "/".join([preopen.guest.rstrip("/"), *upto]) or "/"

        def refuse_link(name: str) -> PathRefused:
            return PathRefused(
                f"{shown([*done, name])} is a symbolic link; {cap} follows no link in a "
                "granted directory (it could lead outside the grant)"
            )

        def refuse_climb() -> PathRefused:
            return PathRefused(f"{guest} leads outside its granted directory {preopen.guest}")

        dirs, last = (parts[:-1], parts[-1]) if parts else ([], None)
        if last == "..":
            dirs, last = parts, None
        try:
            fd = root_fd
            if dirs and ".." not in dirs and openat2_available():
                assert _openat2 is not None and _openat2.call is not None
                try:
                    fd = _openat2.call(root_fd, "/".join(dirs), _DIR_FLAGS & ~os.O_NOFOLLOW)
                    fds.append(fd)
                    done.extend(dirs)
                    dirs = []
                except OSError:
                    fd = root_fd  # walk it again to say which component and why
            missing: list[str] = []
            for index, name in enumerate(dirs):
                if name == "..":
                    if not done:
                        raise refuse_climb()
                    done.pop()
                    os.close(fds.pop())
                    fd = fds[-1] if fds else root_fd
                    continue
                try:
                    next_fd = os.open(name, _DIR_FLAGS, dir_fd=fd)
                except OSError as error:
                    if _is_link(name, fd):
                        raise refuse_link(name) from None
                    if error.errno in (errno.ENOENT, errno.ENOTDIR, errno.EACCES):
                        missing = dirs[index:]
                        break
                    raise PathRefused(f"{shown([*done, name])}: {error.strerror}") from None
                fds.append(next_fd)
                fd = next_fd
                done.append(name)
            if missing or last is None:
                if ".." in missing or last == "..":
                    raise refuse_climb()
                rest = [*missing, last] if last is not None else missing
                host = Path(real_root, *done, *rest)
                exists = not rest
                status = os.stat(fd) if exists else None
                return HostPath(guest, host, preopen, exists, status)
            try:
                status = os.lstat(last, dir_fd=fd)
            except FileNotFoundError:
                status = None
            except OSError as error:
                raise PathRefused(f"{shown([*done, last])}: {error.strerror}") from None
            if status is not None and stat.S_ISLNK(status.st_mode):
                raise refuse_link(last)
            if write and status is not None and stat.S_ISREG(status.st_mode):
                if status.st_nlink > 1:
                    raise PathRefused(
                        f"{shown([*done, last])} has {status.st_nlink} hard links; {cap} writes "
                        "no file that is also reachable under another name"
                    )
            for suffix in siblings:
                if _is_link(last + suffix, fd):
                    raise refuse_link(last + suffix)
            host = Path(real_root, *done, last)
            return HostPath(guest, host, preopen, status is not None, status)
        finally:
            for opened in fds:
                os.close(opened)

    def writable_roots(self) -> list[Path]:
        return [p.host for p in self.preopens if not p.readonly]

    def guest_text(self, text: str) -> str:
        """`text` (a library's error message) with each granted host directory
        spelled as its guest path, so no message shows the guest a host path."""
        for preopen in self.preopens:
            for host in {str(preopen.host), os.path.realpath(preopen.host)}:
                if host not in ("", "/"):
                    text = text.replace(host.rstrip("/"), preopen.guest.rstrip("/"))
        return text

    def rewrite_sql(
        self, sql: str, on_path: Callable[[str], None] | None = None, *, cap: str = "duckdb"
    ) -> str:
        """Guest paths inside SQL string literals, as real host paths resolved
        beneath their grants (PathRefused for a link or a climb out); `on_path`
        hears each guest path mapped (the fs cap's monitor).

        A literal that spells a granted directory's host path is refused too:
        left alone, it would reach the library unchecked.
        """
        hosts = [str(p.host) for p in self.preopens]
        roots = {h.rstrip("/") + "/" for h in hosts + [os.path.realpath(h) for h in hosts]}

        def replace(match: re.Match[str]) -> str:
            text = match.group(1).replace("''", "'")
            if not text.startswith("/"):
                return match.group(0)
            try:
                found = self.covering(text)
            except PathRefused:
                found = None  # no path the guest could open: a string, left as it is
            if found is None:
                if any((text.rstrip("/") + "/").startswith(root) for root in roots):
                    raise PathRefused(
                        f"{cap} takes guest paths in SQL, not host paths "
                        "(use the directory's guest path, e.g. /data/...)"
                    )
                return match.group(0)
            resolved = self.resolve(text, cap=cap)
            if on_path is not None:
                on_path(text)
            return "'" + str(resolved.host).replace("'", "''") + "'"

        return _LITERAL.sub(replace, sql)
