"""Large bulk bytes between the CPython guest and the host, through a private directory.

`octets` (pylon:cap/types) are base64 text, which crosses the component
boundary as one buffer. For large values even that is slow: base64 in the
guest runs at wasm speed (10 MB: 55 ms to encode) and the text is a third
bigger. So a value of THRESHOLD bytes or more travels as a file instead: the
sender writes it into a directory only this session's interpreter has
preopened (at GUEST_DIR, in the host's temporary directory, not a RAM disk:
guest code can write there too, and a full disk is a smaller harm than a full
memory) and sends "@NAME"; the receiver reads it and deletes it. Writing and
reading 10 MB through WASI takes about 15 and 20 ms in the guest.

The guest names its files g<n>, the host h<n>. The host opens a guest's file
only by such a name, never through a symbolic link, and only if it is a
regular file with one link, so a guest cannot make the host read anything
else.
"""

from __future__ import annotations

import binascii
import itertools
import os
import re
import shutil
import stat
import tempfile
from pathlib import Path

from pylon_shell.caps.values import ProviderError

#: Where the guest sees the directory (reserved: no plan may preopen it).
GUEST_DIR = "/.pylon-bulk"
#: Values at least this big go through a file.
THRESHOLD = 256 << 10
_GUEST_NAME = re.compile(r"g[0-9]{1,15}")


def base64_text(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def base64_bytes(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except binascii.Error as error:
        raise ProviderError(
            "ValueError", f"bulk bytes from the guest are not base64: {error}"
        ) from None


class BulkChannel:
    """One session's directory for large values, removed when it closes."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pylon-bulk-"))
        self._names = itertools.count(1)

    def encode(self, data: bytes) -> str:
        if len(data) < THRESHOLD:
            return base64_text(data)
        name = f"h{next(self._names)}"
        fd = os.open(self.dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as out:
            out.write(data)
        return "@" + name

    def decode(self, text: str) -> bytes:
        if not text.startswith("@"):
            return base64_bytes(text)
        name = text[1:]
        if not _GUEST_NAME.fullmatch(name):
            raise ProviderError("ValueError", f"not a bulk value of the guest's: {name!r}")
        path = self.dir / name
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        except OSError as error:
            raise ProviderError("ValueError", f"bulk value {name}: {error.strerror}") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
                raise ProviderError("ValueError", f"bulk value {name} is not a plain file")
            with open(fd, "rb", closefd=False) as source:
                data = source.read()
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
        return data

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
