"""Where in the user's code an exception was raised, from its traceback.

A cap denial is shown as one line instead of a traceback; this says which
file and line of the program hit it (`job.py:12`), so a script's user does
not have to guess. The user's frame is the innermost one of the last
traceback (the exception that was raised, not the ones it was handling) that
is not in the interpreter's library or a package: the place in their own code
that made the call. The traceback text comes from the guest, so the name is
bounded and made printable before it is shown.
"""

from __future__ import annotations

import re

from pylon_shell.packages import GUEST_ROOT

#: Where the guest's library code lives: CPython's stdlib, the packages, frozen code.
LIBRARY = ("/python/", GUEST_ROOT.rstrip("/") + "/", "<frozen")
#: A file name longer than this is cut.
MAX_NAME = 200

_FRAME = re.compile(r'^  File "(?P<file>[^"\n]+)", line (?P<line>\d{1,9})', re.MULTILINE)
_LAST = "Traceback (most recent call last):"


def user_frame(traceback: str) -> tuple[str, int] | None:
    """(file, line) of the innermost frame in the user's own code, or None."""
    last = traceback[traceback.rfind(_LAST) :] if _LAST in traceback else traceback
    found = None
    for match in _FRAME.finditer(last):
        name = match.group("file")
        if not name.startswith(LIBRARY):
            found = (name, int(match.group("line")))
    return found


def location(traceback: str) -> str:
    """`FILE:LINE` of the user's frame (printable, bounded), or ""."""
    frame = user_frame(traceback)
    if frame is None:
        return ""
    name, line = frame
    name = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in name)
    if len(name) > MAX_NAME:
        name = "…" + name[-MAX_NAME:]
    return f"{name}:{line}"
