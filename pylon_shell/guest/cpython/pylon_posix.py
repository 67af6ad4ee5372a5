"""Runs INSIDE the CPython guest: the POSIX parts WASI lacks that stdlib code
and test runners assume: file descriptors 0-2 as python has them, `os.dup`/
`os.dup2` for them, a null device at `os.devnull`, `os.umask` and the user ids.

WASI has no dup, no dup2 and no /dev. The session's sys.stdin/stdout/stderr
talk to the host through pylon:shell/host (so output reaches the launcher in
order and input can be interrupted), and here they are descriptors 0, 1 and 2
again: `fileno()` works, `os.write(1, ...)` goes the same ordered way as
`print`, and what stdlib code and pytest do with them works:

- `os.dup(fd)` of 0-2 (or of a descriptor made here) gives a new descriptor
  for the same stream, numbered from FIRST up (real WASI descriptors are small
  numbers, pylon sockets count from 1000).
- `os.dup2(fd, fd2)` onto 0-2 (or onto a descriptor made here) makes fd2 stand
  for what fd is: a real file (pytest's capture redirects 1 and 2 into a
  temporary file), the null device, or an original stream (restored).
  Writes to fd 1 through `sys.__stdout__`/`os.write` then land in that file,
  as on a host. Other real descriptors cannot be duplicated (WASI): ENOTSUP.
- `os.close` of 0-2 closes them for the program (EBADF afterwards, until a
  dup2 reopens them); WASI's own descriptors stay open underneath, so their
  numbers are never handed to another file.
- `os.umask`, which WASI lacks (it has no permission bits): it keeps the
  mask (0o022 at start) and returns the previous one; file modes are
  whatever the host's directory gives.
- `os.getuid`, `geteuid`, `getgid`, `getegid`, which WASI lacks (it has no
  users): 0, the owner every file in the guest stats as (Emscripten's CPython
  answers the same).
- `os.devnull` (`/dev/null`) opened with `open`/`os.open` is a null device
  kept in the guest: reads give end of file, writes vanish, `os.fstat` says
  it is a character device. Nothing reaches the host's disk.

Only the Python-level functions know these descriptors: a C extension (or
`_io.FileIO` itself) writing to fd 1 reaches WASI's stdout directly, which
the launcher also shows, but past a redirect.
"""

import errno
import io
import os
import stat

#: The first descriptor number made here.
FIRST = 1 << 24
NULL = os.devnull
_NULL_NAMES = (NULL, os.fsencode(NULL))

_STD0, _STD1, _STD2 = ("std", 0), ("std", 1), ("std", 2)
_SINK = ("null", None)
#: What each descriptor of ours stands for: ("std", n) an original stream,
#: ("fd", n) a real WASI descriptor, ("null", None) the null device, None a
#: closed one of 0-2. Real descriptors not in here are WASI's alone.
_table = {0: _STD0, 1: _STD1, 2: _STD2}

_write, _read, _readinto, _close, _dup = os.write, os.read, os.readinto, os.close, os.dup
_ftruncate = os.ftruncate
_get_inheritable = getattr(os, "get_inheritable", None)
_set_inheritable = getattr(os, "set_inheritable", None)
_fstat, _isatty, _lseek, _open, _stat, _lstat = (
    os.fstat, os.isatty, os.lseek, os.open, os.stat, os.lstat
)
_io_open = io.open
#: The session's streams: write_std(n, bytes), read_std(size) -> bytes.
_write_std = _read_std = None
_NULL_STAT = os.stat_result((stat.S_IFCHR | 0o666, 0, 0, 1, 0, 0, 0, 0, 0, 0))


def _bad():
    return OSError(errno.EBADF, "Bad file descriptor")


def _end(fd):
    """What `fd` stands for; EBADF for a closed one."""
    end = _table[fd]
    if end is None:
        raise _bad()
    return end


def _ours(fd):
    return type(fd) is int and fd in _table


def _new(end):
    fd = FIRST
    while fd in _table:
        fd += 1
    _table[fd] = end
    return fd


def _is_null(path):
    return (type(path) is str or type(path) is bytes) and path in _NULL_NAMES or (
        isinstance(path, os.PathLike) and os.fspath(path) in _NULL_NAMES
    )


def write(fd, data, /):
    if not _ours(fd):
        return _write(fd, data)
    kind, target = _end(fd)
    if kind == "fd":
        return _write(target, data)
    size = memoryview(data).nbytes
    if kind == "null":
        return size
    if target == 0:
        raise _bad()
    if size:
        _write_std(target, bytes(data))
    return size


def read(fd, length, /):
    if not _ours(fd):
        return _read(fd, length)
    kind, target = _end(fd)
    if kind == "fd":
        return _read(target, length)
    if length < 0:
        raise ValueError("negative length")
    if kind == "null" or not length:
        return b""
    if target != 0:
        raise _bad()
    return _read_std(length)


def readinto(fd, buffer, /):
    if not _ours(fd):
        return _readinto(fd, buffer)
    kind, target = _end(fd)
    if kind == "fd":
        return _readinto(target, buffer)
    view = memoryview(buffer).cast("B")
    data = read(fd, len(view))
    view[: len(data)] = data
    return len(data)


def ftruncate(fd, length, /):
    if not _ours(fd):
        return _ftruncate(fd, length)
    kind, target = _end(fd)
    if kind == "fd":
        return _ftruncate(target, length)
    if kind == "std":
        raise OSError(errno.EINVAL, "Invalid argument")
    return None


def get_inheritable(fd, /):
    if not _ours(fd):
        return _get_inheritable(fd)
    _end(fd)
    return fd <= 2


def set_inheritable(fd, inheritable, /):
    if not _ours(fd):
        return _set_inheritable(fd, inheritable)
    _end(fd)
    return None


def close(fd):
    if not _ours(fd):
        return _close(fd)
    _end(fd)
    if fd <= 2:
        _table[fd] = None
    else:
        del _table[fd]


def dup(fd, /):
    if not _ours(fd):
        try:
            return _dup(fd)
        except OSError as error:
            if error.errno == errno.ENOTSUP:
                raise OSError(
                    errno.ENOTSUP,
                    "WASI cannot duplicate a file's descriptor (pylon duplicates only 0-2, "
                    "and descriptors made from them or os.devnull)",
                ) from None
            raise
    return _new(_end(fd))


def dup2(fd, fd2, inheritable=True):
    """Duplicate file descriptor."""
    if _ours(fd):
        end = _end(fd)
    else:
        _fstat(fd)  # EBADF for a descriptor that is not open
        end = ("fd", fd)
    if _ours(fd2) or (type(fd2) is int and fd2 >= FIRST):
        _table[fd2] = end
        return fd2
    if fd2 == fd:
        return fd2
    raise OSError(
        errno.ENOTSUP,
        "WASI cannot duplicate onto a file's descriptor (pylon redirects only 0-2, "
        "and descriptors made from them or os.devnull)",
    )


def fstat(fd):
    if not _ours(fd):
        return _fstat(fd)
    kind, target = _end(fd)
    if kind == "null":
        return _NULL_STAT
    return _fstat(target)


def isatty(fd, /):
    if not _ours(fd):
        return _isatty(fd)
    kind, target = _end(fd)
    return kind != "null" and _isatty(target)


def lseek(fd, position, whence, /):
    if not _ours(fd):
        return _lseek(fd, position, whence)
    kind, target = _end(fd)
    if kind == "fd":
        return _lseek(target, position, whence)
    if kind == "null":
        return 0
    raise OSError(errno.ESPIPE, "Illegal seek")


def os_open(path, flags, mode=0o777, *, dir_fd=None):
    if dir_fd is None and _is_null(path):
        return _new(_SINK)
    return _open(path, flags, mode, dir_fd=dir_fd)


def os_stat(path, *, dir_fd=None, follow_symlinks=True):
    if dir_fd is None and _is_null(path):
        return _NULL_STAT
    if type(path) is int:
        return fstat(path)
    return _stat(path, dir_fd=dir_fd, follow_symlinks=follow_symlinks)


def os_lstat(path, *, dir_fd=None):
    if dir_fd is None and _is_null(path):
        return _NULL_STAT
    return _lstat(path, dir_fd=dir_fd)


def open(file, mode="r", buffering=-1, encoding=None, errors=None, newline=None,
         closefd=True, opener=None):
    """io.open, and os.devnull and descriptors 0-2 (and ours) as files."""
    if (type(file) is int and file in _table) or (opener is None and _is_null(file)):
        import _pyio  # the io stack over os.read/os.write, which know our descriptors

        return _pyio.open(file, mode, buffering, encoding, errors, newline, closefd, opener)
    return _io_open(file, mode, buffering, encoding, errors, newline, closefd, opener)


_NAMES = ("write", "read", "readinto", "close", "dup", "fstat", "isatty", "lseek", "ftruncate")
if _set_inheritable is not None:
    _NAMES += ("get_inheritable", "set_inheritable")
for _name in _NAMES:
    globals()[_name].__doc__ = getattr(os, _name).__doc__
os_open.__doc__, os_stat.__doc__, os_lstat.__doc__ = _open.__doc__, _stat.__doc__, _lstat.__doc__
open.__doc__ = _io_open.__doc__


_umask = [0o022]


def umask(mask, /):
    """Set the current numeric umask and return the previous umask."""
    old, _umask[0] = _umask[0], int(mask) & 0o777
    return old


def install(write_std, read_std):
    """Serve 0-2 through the session's streams: write_std(n, data), read_std(size)."""
    global _write_std, _read_std
    import builtins

    _write_std, _read_std = write_std, read_std
    for name in _NAMES:
        setattr(os, name, globals()[name])
        globals()[name].__module__ = "posix"
    os.dup2 = dup2
    dup2.__module__ = "posix"
    os.open, os.stat, os.lstat = os_open, os_stat, os_lstat
    if not hasattr(os, "umask"):
        os.umask = umask
        umask.__module__ = "posix"
    for name in ("getuid", "geteuid", "getgid", "getegid"):
        if not hasattr(os, name):
            def user_id():
                return 0

            user_id.__name__ = user_id.__qualname__ = name
            user_id.__module__ = "posix"
            user_id.__doc__ = f"Return the current process's {name[3:]} (WASI has none: 0)."
            setattr(os, name, user_id)
    os.open.__name__, os.stat.__name__, os.lstat.__name__ = "open", "stat", "lstat"
    io.open = builtins.open = open
