"""The tls cap's calls from the guests: `pylon:cap/tls` (CPython's _ssl stand-in)
and `https.request` over the bridge (MicroPython's pylon.https).

They end in the provider process (provider.py), through the layer's proxy;
the host _ssl's constants are read in the launcher, once per session.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link


def _constants() -> dict[str, Any]:
    from pylon_shell.caps.tls.provider import constants

    return constants()


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    tls = layer.provider(package.name)
    octets = layer.from_octets
    with root.add_instance(package.interface) as instance:
        instance.add_func("constants", lambda _store: json.dumps(_constants()))
        instance.add_func("handshake", kit.untagged(lambda c, s, name: tls.handshake(c, s, name)))
        instance.add_func("unwrap", kit.untagged(lambda c: tls.unwrap(c)))
        instance.add_func("bio-new", kit.untagged(lambda s, name: tls.bio_new(s, name)))
        instance.add_func(
            "bio-step",
            kit.untagged(
                lambda o, inc, eof, op, data, size: tls.bio_step(o, inc, eof, op, data, size)
            ),
        )
        instance.add_func("bio-close", lambda _store, o: tls.bio_close(o))
        instance.add_func("parse", kit.untagged(lambda data, form: tls.parse(octets(data), form)))
        instance.add_func(
            "check-cert-chain",
            kit.untagged(
                lambda cert, key, password: tls.check_cert_chain(
                    octets(cert),
                    None if key is None else octets(key),
                    None if password is None else octets(password),
                )
            ),
        )
        instance.add_func("context-info", kit.untagged(lambda s: tls.context_info(s)))


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    tls = layer.provider("tls")
    return {"https.request": kit.raw_bytes(lambda *args: tls.https(*args))}
