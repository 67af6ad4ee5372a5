"""The `fs` cap: host directories preopened with --dir, served by WASI itself.

It has no interface, provider or guest module of its own: the engine's WASI
preopens are the power, fixed when the instance starts. Its page is
docs/caps/fs.md; the plan (plan.py) makes its preopens.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="fs",
    cap=Cap(
        "fs",
        "host directories preopened with --dir",
        (),
        None,
        (Provider("wasi", "wasi", BOUNDARY, BOTH, "WASI preopens; :ro makes them read-only"),),
        live=False,
    ),
    rank=10,
    wasi_interface="wasi:filesystem (preopened directories)",
)
