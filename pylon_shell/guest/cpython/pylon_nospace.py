"""Runs INSIDE the CPython guest: a write past the private /tmp's limit says
ENOSPC, as on a host, not EIO.

The kernel refuses the write with ENOSPC (the session's /tmp is a tmpfs of
`--tmp-size`), but the CPython component's libc reaches files through
componentize-py's WASI preview-1 adapter, and that adapter's `fd_write`
reports every failed stream write as EIO without asking the host what the
error was (its `stream_error_to_errno` returns EIO). `os.pwrite` goes another
way and already gets ENOSPC. `open(...).write`, `os.write`, a buffered
flush and the flush in `close` all take the stream path.

No layer under Python can be changed here (the adapter is inside the built
component), so the correction happens where the error enters Python code:
a `sys.monitoring` RAISE callback. It runs only when an exception is raised
(about 0.15 us each; nothing else in the interpreter is instrumented) and
does anything only for an OSError with EIO. Then it asks whether /tmp is
full the only way WASI allows, by trying to store one byte in a new file
there: after a real ENOSPC nothing fits (the kernel writes what fits before
it refuses), so the probe fails too and the error becomes ENOSPC, with
errno, strerror and args as python's own. An EIO with room left in /tmp is
left alone. A file written through a `--dir` grant while /tmp is full would
be called ENOSPC too; both are "no space" on some disk, and WASI names
neither the file nor the device.
"""

import errno
import os
import sys

#: Where the session's private /tmp is (pylon mounts it there; none with
#: --tmp-size 0, and then the probe finds nothing and changes nothing).
TMP = "/tmp"
_NAME = "pylon"
_PROBE = TMP + "/.pylon-nospace-probe"
_MESSAGE = os.strerror(errno.ENOSPC)
_EIO, _ENOSPC = errno.EIO, errno.ENOSPC


def _tmp_is_full():
    """Whether one more byte fits nowhere in /tmp: a new file or its first
    page is refused with ENOSPC (inodes and pages are both bounded)."""
    try:
        fd = os.open(_PROBE, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    except OSError as e:
        return e.errno == _ENOSPC
    try:
        os.pwrite(fd, b"\0", 0)
    except OSError as e:
        return e.errno == _ENOSPC
    else:
        return False
    finally:
        os.close(fd)
        try:
            os.remove(_PROBE)
        except OSError:
            pass


def _on_raise(code, offset, exc):
    if isinstance(exc, OSError) and exc.errno == _EIO and _tmp_is_full():
        exc.errno, exc.strerror, exc.args = _ENOSPC, _MESSAGE, (_ENOSPC, _MESSAGE)


_monitoring = sys.monitoring
_use_tool_id = _monitoring.use_tool_id
#: The tool id taken, or None.
_tool = [None]


def _take():
    """Take a free tool id among those no standard tool claims (4, then 3)."""
    for tool in (4, 3):
        if _monitoring.get_tool(tool) is None:
            _use_tool_id(tool, _NAME)
            _monitoring.register_callback(tool, _monitoring.events.RAISE, _on_raise)
            _monitoring.set_events(tool, _monitoring.events.RAISE)
            _tool[0] = tool
            return


def use_tool_id(tool_id, name, /):
    if tool_id == _tool[0]:  # the program's own tool comes first: pylon moves over
        _monitoring.set_events(tool_id, 0)
        _monitoring.register_callback(tool_id, _monitoring.events.RAISE, None)
        _monitoring.free_tool_id(tool_id)
        _tool[0] = None
        _use_tool_id(tool_id, name)
        _take()
        return None
    return _use_tool_id(tool_id, name)


use_tool_id.__doc__ = _use_tool_id.__doc__


def install():
    """Watch raises under a free tool id; a program that asks for that id
    gets it and pylon takes another (or none, and file writes keep EIO)."""
    _take()
    use_tool_id.__module__ = "sys.monitoring"
    _monitoring.use_tool_id = use_tool_id
