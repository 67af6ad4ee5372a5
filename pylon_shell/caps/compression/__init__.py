"""The `compression` cap: bz2, lzma and zstd, streaming as in the stdlib, on the host's codecs.

The folder holds all of it: this catalog entry, the host provider
(provider.py, run in the confined provider process), its wiring (wiring.py:
`pylon:cap/compression` on CPython, one-shot bridge calls on MicroPython) and
the guest stand-ins (guest/cpython/: _bz2, _lzma and _zstd over
pylon_codecs.py, built into the session component; guest/micropython/: bz2,
lzma and compression, sent over the bridge). The lz4 package adds lz4 to
this cap. Its page is docs/caps/compression.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="compression",
    cap=Cap(
        "compression",
        "bz2, lzma and zstd codecs, streaming as in the stdlib",
        (
            "bz2",
            "_bz2",
            "lzma",
            "_lzma",
            "compression.bz2",
            "compression.lzma",
            "compression.zstd",
            "_zstd",
        ),
        iface("compression"),
        (
            Provider(
                "host",
                "host",
                BOUNDARY,
                BOTH,
                "CPython's bz2 and lzma codecs and zstd on the host; MicroPython: one-shot",
            ),
        ),
        pure=True,
    ),
    rank=50,
    checks_own_grant=True,
    make="pylon_shell.caps.compression.provider:make",
    wiring="pylon_shell.caps.compression.wiring",
    stand_ins={
        # The stdlib's bz2, lzma and compression.zstd run unchanged over these.
        "cpython": {"host": {"_bz2": "pylon_bz2", "_lzma": "pylon_lzma", "_zstd": "pylon_zstd"}},
        "micropython": {"host": {"bz2": "bz2", "lzma": "lzma", "compression": "compression"}},
    },
    backing="pylon_shell.caps.compression.provider:backing",
)
