"""The host side of `pylon:cap/dispatch`: a cap package's call, from either guest.

Every cap that ships as a package (registry.py) is called through this one
path, so none of them adds a line to the cap layer, the WIT world or the
MicroPython bridge. A call names the cap, the method and its arguments, each
a `dispatch.arg` (none, bool, int, big int as text, float, text, bytes); the
guest is hostile, so the cap must be a registered package, the method one it
declares, and at most MAX_ARGS arguments of those kinds. The provider process
then checks the grant and the arguments' fit to the method (caps/worker.py).

The CPython guest sends WIT variants (bytes as `octets`, base64); the
MicroPython guest sends JSON [tag, payload] pairs with its bytes as bare hex
after the JSON line (MicroPython's json is slow on long strings), the way the
bridge's raw-bytes calls do (CapLayer.bridge_handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pylon_shell.caps import registry, values
from pylon_shell.caps.model import iface
from pylon_shell.caps.values import ProviderError

#: The one interface every cap package's calls cross.
INTERFACE = iface("dispatch")

#: The most arguments one call may carry.
MAX_ARGS = 32
#: The longest decimal text of a big integer (a 64-bit unsigned value needs 20).
MAX_BIG_DIGITS = 64


def check_call(name: Any, method: Any, args: Any) -> None:
    """Refuse, in one line, a call no cap package declares."""
    package = registry.plugin(name)
    if package is None or package.checks_own_grant:  # pylon's own: their own interface
        raise ProviderError("ValueError", f"no cap package serves {str(name)[:64]!r}")
    if not isinstance(method, str) or method not in package.methods:
        raise ProviderError("ValueError", f"the {name} package has no call {str(method)[:64]!r}")
    if not isinstance(args, list) or len(args) > MAX_ARGS:
        raise ProviderError("TypeError", f"a {name} call takes at most {MAX_ARGS} arguments")


def results(value: Any) -> list[Any]:
    """A provider method's return value as the call's list of results."""
    if value is None:
        return []
    return list(value) if isinstance(value, tuple) else [value]


def decode(tag: Any, payload: Any, from_bytes: Callable[[Any], bytes]) -> Any:
    """One argument from the guest; `from_bytes` turns the bytes case's payload into bytes."""
    if tag == "none":
        return None
    if tag == "boolean" and isinstance(payload, bool):
        return payload
    if tag == "integer" and isinstance(payload, int) and not isinstance(payload, bool):
        return payload
    if tag == "big-integer" and isinstance(payload, str) and len(payload) <= MAX_BIG_DIGITS:
        try:
            return int(payload)
        except ValueError:
            pass
    elif tag == "real" and isinstance(payload, (int, float)) and not isinstance(payload, bool):
        return float(payload)
    elif tag == "text" and isinstance(payload, str):
        return payload
    elif tag == "bytes":
        return from_bytes(payload)
    raise ProviderError("TypeError", "a malformed dispatch argument")


def encode(value: Any) -> tuple[str, Any]:
    """One result for the guest as (tag, payload); bytes stay bytes for the caller to encode."""
    tag, payload = values.encode(value) if isinstance(value, _KINDS) else ("", None)
    if tag not in _TAGS:
        raise ProviderError("TypeError", f"a cap package returned a {type(value).__name__}")
    return _TAGS[tag], payload


#: What a result may be, and values.encode's tags as dispatch.arg's.
_KINDS = (type(None), bool, int, float, str, bytes, bytearray, memoryview)
_TAGS = {
    "null": "none", "boolean": "boolean", "integer": "integer", "big-integer": "big-integer",
    "real": "real", "text": "text", "blob": "bytes",
}  # fmt: skip
