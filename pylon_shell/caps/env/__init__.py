"""The `env` cap: environment variables passed with --env, served by WASI itself.

It has no interface, provider or guest module of its own: the engine's WASI
environment is the power, fixed when the instance starts. Its page is
docs/caps/env.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="env",
    cap=Cap(
        "env",
        "environment variables passed with --env",
        (),
        None,
        (Provider("wasi", "wasi", BOUNDARY, BOTH, "WASI environment"),),
        live=False,
        pure=True,
    ),
    rank=20,
    wasi_interface="wasi:cli/environment",
)
