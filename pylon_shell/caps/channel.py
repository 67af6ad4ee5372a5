"""Messages between the launcher and the provider process: framed, bounded, and never pickled.

The provider process runs C libraries on guest-chosen input, so the launcher
must assume it may be compromised: what it sends back is decoded here with the
stdlib's JSON parser and a closed set of value types, never with pickle or
marshal (either would let a subverted worker run code in the launcher). Bytes
travel beside the JSON as raw attachments rather than inside it, so a 10 MB
codec buffer costs one copy, not a base64 round trip.

A frame is `u32 total length | u32 JSON length | JSON | attachments`, the JSON
naming each attachment's length. Both directions use the same codec.
"""

from __future__ import annotations

import dataclasses
import json
import struct
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from pylon_shell.caps import values

if TYPE_CHECKING:
    import socket

#: The largest frame either side accepts. A guest call moves at most 8 MiB of
#: data (the stand-ins chunk their input and the codecs' output is capped), so
#: this is a bound on a misbehaving worker, not on legitimate traffic.
MAX_FRAME = 64 << 20
#: How deep a decoded value may nest (a worker that sends "[[[[..." gets a
#: ChannelError, not a RecursionError in the launcher).
MAX_DEPTH = 64
_HEADER = struct.Struct("!II")


class ChannelError(Exception):
    """A frame that is malformed, too large, or the other side went away."""


class Record(SimpleNamespace):
    """A provider's dataclass result on the other side: its fields as
    attributes, and nothing of its class (no methods, no code), so a worker
    cannot make the launcher build an object of its choosing."""


def _encode(value: Any, attachments: list[bytes], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ChannelError("value nests too deeply")
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        attachments.append(bytes(value))
        return {"$b": len(attachments) - 1}
    if isinstance(value, list):
        return [_encode(v, attachments, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"$t": [_encode(v, attachments, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {
            "$d": [
                [_encode(k, attachments, depth + 1), _encode(v, attachments, depth + 1)]
                for k, v in value.items()
            ]
        }
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {"$r": _encode(fields, attachments, depth + 1)}
    if isinstance(value, Record):
        return {"$r": _encode(vars(value), attachments, depth + 1)}
    tag, payload = values.encode(value)
    return {"$v": [tag, _encode(payload, attachments, depth + 1)]}


def _decode(item: Any, attachments: list[bytes], depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ChannelError("value nests too deeply")
    if item is None or isinstance(item, (bool, int, float, str)):
        return item
    if isinstance(item, list):
        return [_decode(v, attachments, depth + 1) for v in item]
    if not isinstance(item, dict) or len(item) not in (1, 2):
        raise ChannelError("malformed value")
    if "$b" in item:
        index = item["$b"]
        if type(index) is not int or not 0 <= index < len(attachments):
            raise ChannelError("bad attachment index")
        return attachments[index]
    if "$t" in item and isinstance(item["$t"], list):
        return tuple(_decode(v, attachments, depth + 1) for v in item["$t"])
    if "$d" in item and isinstance(item["$d"], list):
        out: dict[Any, Any] = {}
        for pair in item["$d"]:
            if not isinstance(pair, list) or len(pair) != 2:
                raise ChannelError("malformed mapping")
            key = _decode(pair[0], attachments, depth + 1)
            try:
                out[key] = _decode(pair[1], attachments, depth + 1)
            except TypeError:
                raise ChannelError("unhashable mapping key") from None
        return out
    if "$r" in item:
        fields = _decode(item["$r"], attachments, depth + 1)
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and k.isidentifier() and not k.startswith("_") for k in fields
        ):
            raise ChannelError("malformed record")
        return Record(**fields)
    if "$v" in item and isinstance(item["$v"], list) and len(item["$v"]) == 2:
        tag, payload = item["$v"]
        try:
            return values.decode(tag, _decode(payload, attachments, depth + 1))
        except (values.ProviderError, ValueError, TypeError, KeyError) as error:
            raise ChannelError(f"malformed value: {error}") from None
    raise ChannelError("malformed value")


def pack(message: Any) -> bytes:
    """One frame holding `message` (JSON types, bytes, tuples, dicts, records)."""
    attachments: list[bytes] = []
    body = _encode(message, attachments)
    head = json.dumps({"m": body, "a": [len(a) for a in attachments]}).encode()
    total = _HEADER.size + len(head) + sum(map(len, attachments))
    if total > MAX_FRAME:
        raise ChannelError(f"a message of {total} bytes is over the {MAX_FRAME >> 20} MiB limit")
    return b"".join([_HEADER.pack(total, len(head)), head, *attachments])


def unpack(frame: bytes) -> Any:
    """The message in a frame `pack` made (the header included), or ChannelError."""
    if len(frame) < _HEADER.size:
        raise ChannelError("short frame")
    total, head_length = _HEADER.unpack_from(frame)
    if total != len(frame) or _HEADER.size + head_length > total:
        raise ChannelError("frame lengths disagree")
    try:
        head = json.loads(frame[_HEADER.size : _HEADER.size + head_length])
    except (ValueError, RecursionError):
        raise ChannelError("the frame's header is not JSON") from None
    if not isinstance(head, dict) or not isinstance(head.get("a"), list):
        raise ChannelError("malformed frame header")
    sizes = head["a"]
    if not all(type(s) is int and s >= 0 for s in sizes):
        raise ChannelError("malformed attachment sizes")
    offset = _HEADER.size + head_length
    if offset + sum(sizes) != total:
        raise ChannelError("attachment sizes disagree with the frame")
    attachments = []
    for size in sizes:
        attachments.append(frame[offset : offset + size])
        offset += size
    return _decode(head.get("m"), attachments)


def send(sock: socket.socket, message: Any) -> None:
    sock.sendall(pack(message))


def receive(sock: socket.socket) -> Any:
    """The next message; ChannelError when the peer closed or sent garbage."""
    header = _read(sock, _HEADER.size)
    total, _ = _HEADER.unpack(header)
    if not _HEADER.size <= total <= MAX_FRAME:
        raise ChannelError(f"a frame of {total} bytes is over the limit")
    return unpack(header + _read(sock, total - _HEADER.size))


def _read(sock: socket.socket, size: int) -> bytes:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        try:
            count = sock.recv_into(view[got:])
        except OSError as error:
            raise ChannelError(f"the channel failed: {error}") from None
        if count == 0:
            raise ChannelError("the other side closed the channel")
        got += count
    return bytes(buffer)
