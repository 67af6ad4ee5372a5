"""The `hash` cap: non-cryptographic and fast hashing, `import xxhash` and `import blake3`.

One package holds the whole cap, as every cap package does (docs/caps/writing-a-cap.md):
this catalog entry, the host provider (provider.py, on the xxhash and blake3
distributions, run in the confined provider process), and the guest modules
that stand in for those libraries on both runtimes (guest/). It is registered
in pyproject's `pylon.caps` entry points; nothing else in pylon names it.
"""

from pathlib import Path

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider
from pylon_shell.caps.registry import CapPackage

_GUEST = Path(__file__).resolve().parent / "guest"

PACKAGE = CapPackage(
    name="hash",
    cap=Cap(
        "hash",
        "fast hashing: xxhash (xxh32, xxh64, xxh3) and blake3, with those packages' APIs",
        ("xxhash", "blake3"),
        "pylon:cap/dispatch@0.1.0",
        (
            Provider(
                "host",
                "host",
                BOUNDARY,
                BOTH,
                "the xxhash and blake3 packages on the host, in the provider process",
            ),
        ),
    ),
    provider="pylon_shell.caps.hash.provider:HashProvider",
    methods=("oneshot", "new", "update", "digest", "copy", "reset", "drop", "versions"),
    guest={"xxhash": _GUEST / "xxhash.py", "blake3": _GUEST / "blake3.py"},
    libraries=("xxhash", "blake3"),
)
