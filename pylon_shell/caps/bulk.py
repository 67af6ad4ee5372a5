"""Large bulk values from the host to the CPython guest, through a private directory.

`octets` (pylon:cap/types) are base64 text, which crosses the component
boundary as one buffer. For large values even that is slow: base64 runs at
wasm speed in the guest (10 MB: 28 ms to decode, 55 ms to encode) and the
text is a third bigger. So a value of THRESHOLD bytes or more that the host
returns travels as a file: the host writes it into a directory the session's
interpreter has preopened READ-ONLY at GUEST_DIR and sends "@NAME"; the guest
reads it (WASI reads 10 MB in about 20 ms). The host removes its files at the
guest's next call, by which time the guest has read them (it reads a reply
before it can call again).

The other direction stays base64: a directory the guest could write would let
guest code fill the host's disk, and no quota bounds it.
"""

from __future__ import annotations

import binascii
import itertools
import os
import shutil
import tempfile
from pathlib import Path

from pylon_shell.caps.values import ProviderError

#: Where the guest sees the directory (reserved: no plan may preopen it).
GUEST_DIR = "/.pylon-bulk"
#: Values at least this big go through a file.
THRESHOLD = 256 << 10


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
        self._sent: list[Path] = []

    def collect(self) -> None:
        """The guest is calling again: the files it was sent have been read."""
        while self._sent:
            self._sent.pop().unlink(missing_ok=True)

    def encode(self, data: bytes) -> str:
        if len(data) < THRESHOLD:
            return base64_text(data)
        path = self.dir / f"h{next(self._names)}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with open(fd, "wb") as out:
            out.write(data)
        self._sent.append(path)
        return "@" + path.name

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)
