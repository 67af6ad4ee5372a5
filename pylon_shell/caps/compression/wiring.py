"""The compression cap's calls from the guests: `pylon:cap/compression` (streaming,
CPython) and the one-shot bridge calls (MicroPython).

Both end in the provider process (provider.py), through the layer's proxy;
bytes cross as `octets` (the layer's bulk channel for large ones).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.witvalues import py_value, wit_record, wit_value

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    codec = layer.provider(package.name)
    with root.add_instance(package.interface) as codecs:
        codecs.add_func(
            "create",
            kit.untagged(lambda kind, args: codec.create(kind, [py_value(a) for a in args])),
        )
        codecs.add_func(
            "compress",
            kit.untagged(
                lambda h, data, mode: layer.to_octets(
                    codec.compress(h, layer.from_octets(data), mode)
                )
            ),
        )
        codecs.add_func(
            "flush", kit.untagged(lambda h, mode: layer.to_octets(codec.flush(h, mode)))
        )

        def decompress(h: int, data: str, limit: int) -> Any:
            out = codec.decompress(h, layer.from_octets(data), limit)
            return wit_record(
                **{
                    **vars(out),
                    "data": layer.to_octets(out.data),
                    "unused_data": layer.to_octets(out.unused_data),
                }
            )

        codecs.add_func("decompress", kit.tagged(decompress))
        codecs.add_func(
            "call",
            kit.untagged(
                lambda name, args: [
                    wit_value(v) for v in codec.call(name, [py_value(a) for a in args])
                ]
            ),
        )
        codecs.add_func("drop", lambda _store, h: codec.drop(h))


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    codec = layer.provider("compression")

    def one_shot(operation: str) -> Callable[..., bytes]:
        def run(codec_name: str, options: dict[str, Any], data: bytes) -> bytes:
            return codec.one_shot(codec_name, operation, data, options)

        return run

    return {
        "compression.compress": kit.raw_bytes(one_shot("compress")),
        "compression.decompress": kit.raw_bytes(one_shot("decompress")),
    }
