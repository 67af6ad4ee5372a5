"""Reading a host file the user named (a plan, a secret, a requirements file, a
component) without letting that file hang or flood pylon.

A FIFO or a device could deliver without end and a size stat can lie, so only
a regular file is read, opened non-blocking until fstat says what it is, and
never more than its limit + 1 bytes.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path


class NotRegular(Exception):
    """The path is not a regular file; the message says what it is."""


class TooLarge(Exception):
    """The file holds more than the limit."""


def open_regular(path: Path, what: str) -> int:
    """A read-only descriptor of `path`, which must be a regular file. Opened
    non-blocking so a FIFO with no writer cannot hang pylon before fstat says
    what it is."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file"
            )
            raise NotRegular(f"is {kind}, not a {what}" if kind[0] == "a" else f"is {kind}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path: Path, limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file `path`; TooLarge past `limit` bytes,
    found by reading at most limit + 1 of them (a size stat can lie: the file
    may grow while it is read)."""
    fd = open_regular(path, what)
    try:
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise TooLarge
    return b"".join(chunks)


def file_sha256(path: Path, limit: int) -> str:
    """SHA-256 of the regular file `path`, read at most limit + 1 bytes."""
    fd = open_regular(path, "component file")
    digest = hashlib.sha256()
    read = 0
    try:
        while read <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            read += len(chunk)
    finally:
        os.close(fd)
    if read > limit:
        raise TooLarge
    return digest.hexdigest()
