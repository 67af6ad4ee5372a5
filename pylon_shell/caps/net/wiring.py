"""The net cap's calls from the CPython guest: `pylon:cap/net`.

They end in the provider process (provider.py), through the layer's proxy.
MicroPython has no socket stand-in, so no bridge calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    net = layer.provider(package.name)
    with root.add_instance(package.interface) as instance:
        instance.add_func("connect", kit.untagged(lambda h, p, t: net.connect(h, p, t)))
        instance.add_func(
            "send", kit.untagged(lambda c, data: net.send(c, layer.from_octets(data)))
        )
        instance.add_func("recv", kit.untagged(lambda c, size: layer.to_octets(net.recv(c, size))))
        instance.add_func("set-timeout", kit.untagged(lambda c, t: net.set_timeout(c, t)))
        instance.add_func("shutdown", kit.untagged(lambda c, how: net.shutdown(c, how)))
        instance.add_func("peer-name", kit.untagged(lambda c: net.peer_name(c)))
        instance.add_func("sock-name", kit.untagged(lambda c: net.sock_name(c)))
        instance.add_func("close", lambda _store, c: net.close(c))
        instance.add_func(
            "poll",
            kit.untagged(
                lambda items, t: [tuple(pair) for pair in net.poll([list(i) for i in items], t)]
            ),
        )


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    return {}
