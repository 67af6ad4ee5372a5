"""The crypto cap's calls from the guests: `pylon:cap/crypto` (CPython) and the
same functions over the bridge (MicroPython, bytes as hex).

Both end in the provider process (provider.py), through the layer's proxy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link

#: The provider's functions (the WIT names, with - for _), and which of
#: their arguments are bytes (the MicroPython bridge sends those as hex).
FUNCTIONS = {
    "pbkdf2_hmac": (1, 2),
    "scrypt": (0, 1),
    "aead_encrypt": (1, 2, 3, 4),
    "aead_decrypt": (1, 2, 3, 4),
    "public_key": (1,),
    "ed25519_sign": (0, 1),
    "ed25519_verify": (0, 1, 2),
    "x25519_exchange": (0, 1),
}


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    crypto = layer.provider(package.name)
    with root.add_instance(package.interface) as instance:
        for name in FUNCTIONS:
            instance.add_func(
                name.replace("_", "-"),
                kit.untagged(lambda *args, name=name: getattr(crypto, name)(*args)),
            )


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    crypto = layer.provider("crypto")

    def function(name: str) -> Callable[[str], str]:
        """pylon.crypto for MicroPython: its bytes arguments and results as
        hex in the JSON (keys and messages are small)."""
        positions = FUNCTIONS[name]

        def run(*args: Any) -> Any:
            decoded = [
                bytes.fromhex(a) if i in positions and a is not None else a
                for i, a in enumerate(args)
            ]
            out = getattr(crypto, name)(*decoded)
            return out.hex() if isinstance(out, bytes) else out

        return kit.handler(run)

    return {
        **{f"crypto.{name}": function(name) for name in FUNCTIONS},
        "crypto.random_bytes": kit.handler(lambda n: crypto.random_bytes(n).hex()),
    }
