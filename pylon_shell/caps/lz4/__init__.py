"""`import lz4` and `import lz4.frame` under the compression cap (issue 16 item 5).

The interpreter pylon builds has no lz4; this package adds the lz4 package's
frame API to the `compression` cap: the same grant brings bz2, lzma, zstd and
now lz4. As every cap package it holds all of it: this entry, the host
provider (provider.py, on the lz4 distribution, run in the confined provider
process) and the guest modules written once for both runtimes (guest/). It
`extends` the compression cap, so it defines no grant of its own; it is
registered in pyproject's `pylon.caps` entry points and nothing else in pylon
names it.
"""

from pathlib import Path

from pylon_shell.caps.registry import CapPackage

_GUEST = Path(__file__).resolve().parent / "guest"

PACKAGE = CapPackage(
    name="lz4",
    extends="compression",
    modules=("lz4", "lz4.frame"),
    provider="pylon_shell.caps.lz4.provider:LZ4Provider",
    methods=(
        "versions",
        "compress",
        "decompress",
        "compressor",
        "compress_chunk",
        "compress_flush",
        "decompressor",
        "decompress_chunk",
        "frame_info",
        "drop",
    ),
    guest={"lz4": _GUEST / "lz4.py", "lz4.frame": _GUEST / "frame.py"},
    libraries=("lz4",),
)
