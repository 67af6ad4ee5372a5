"""The kit a cap's wiring is made of: host functions for either guest, made one way.

A cap with a WIT interface of its own (pylon's built-in caps) wires it in its
package's `wiring` module (`link` for the CPython session component, `bridge`
for the MicroPython bridge), out of these pieces, so every cap's calls are
guarded, failed and bounded alike and the cap layer names none of them.
`guarded` makes any bug of ours the guest's failed call, never a trap;
`Link` turns a provider call into a WIT import's result; `Bridge` holds the
MicroPython bridge's state (uploads in parts, replies in parts) and turns a
provider call into a bridge handler.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pylon_shell.caps.grants import CapDenied
from pylon_shell.caps.values import ProviderError
from pylon_shell.caps.witvalues import wit_failure

T = TypeVar("T")
#: Hex characters per bridge reply: MicroPython's reply buffer is 8 MiB.
BRIDGE_PART = 4 << 20
#: The most one bridge call may send in parts.
MAX_UPLOAD = 64 << 20
#: The most reply text a session may leave unread (parts the guest never asks
#: for): a guest cannot grow the launcher's memory by abandoning replies.
MAX_PENDING = 64 << 20
#: A MicroPython bridge handler: payload in, reply out.
BridgeHandler = Callable[[str], str]


def guarded(call: Callable[..., T], *args: Any) -> T:
    """Run a provider call for the guest: a bug on our side must fail the guest's
    call with a message, never trap the guest (which would lose its session)."""
    try:
        return call(*args)
    except ProviderError:
        raise
    except CapDenied as denied:
        raise ProviderError("PermissionError", str(denied)) from None
    except Exception as error:  # noqa: BLE001 - reported to the guest and logged
        from pylon_shell.errors import log_internal_error

        log_internal_error(error)
        raise ProviderError(
            "OperationalError", f"pylon internal error in a provider: {error!r}"
        ) from None


class Link:
    """Host functions for the CPython session component's imports. Each call
    first tells the layer the guest called (`on_call`: bulk values it was sent
    have been read)."""

    def __init__(self, on_call: Callable[[], None]) -> None:
        self._on_call = on_call

    def untagged(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """For result<T, failure> where T's Python type differs from a record."""

        def run(_store: Any, *args: Any) -> Any:
            self._on_call()
            try:
                return guarded(call, *args)
            except ProviderError as error:
                return wit_failure(error)

        return run

    def tagged(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """For result<R, failure> where R is a record: both sides are records, so
        the result must say which it is."""
        from wasmtime.component import Variant

        def run(_store: Any, *args: Any) -> Any:
            self._on_call()
            try:
                return Variant("ok", guarded(call, *args))
            except ProviderError as error:
                return Variant("err", wit_failure(error))

        return run

    def quietly(self, call: Callable[..., Any]) -> Callable[..., Any]:
        """For a call with no result (giving a handle up): a failure is dropped."""

        def run(_store: Any, *args: Any) -> None:
            self._on_call()
            try:
                guarded(call, *args)
            except ProviderError:
                pass

        return run


class Bridge:
    """The MicroPython bridge's state for one session, and its handler makers."""

    def __init__(self) -> None:
        self._pending: dict[int, str] = {}
        self._upload: list[bytes] = []
        self._part_keys = itertools.count(1)

    def parts(self, text: str) -> str:
        """Hex `text` as bridge replies: all of it ("=HEX") if it fits one, else
        the first part and a key for the rest (">KEY:HEX"), which the guest
        asks for with `more` until the last part."""
        if len(text) <= BRIDGE_PART:
            return "=" + text
        key = next(self._part_keys)
        self._pending[key] = text[BRIDGE_PART:]
        while sum(map(len, self._pending.values())) > MAX_PENDING and len(self._pending) > 1:
            # The oldest unread reply goes first; its reader gets no more parts.
            self._pending.pop(next(iter(self._pending)))
        return f">{key}:{text[:BRIDGE_PART]}"

    def more(self, key: str) -> str:
        """The next part of a reply sent in parts."""
        return self.parts(self._pending.pop(int(key), ""))

    def put(self, payload: str) -> str:
        """A part of the next call's input (inputs come in parts so the guest
        never holds more than one part's hex at a time)."""
        if sum(map(len, self._upload)) + len(payload) // 2 > MAX_UPLOAD:
            self._upload.clear()
            return "!" + json.dumps(["MemoryError", "more than 64 MiB in one call"])
        try:
            self._upload.append(bytes.fromhex(payload))
        except ValueError:
            self._upload.clear()
            return "!" + json.dumps(["ValueError", "a bridge part that is not hex"])
        return ""

    def uploaded(self, tail: str) -> bytes:
        """The call's input: the parts put before it and its own hex `tail`
        (ValueError when that is not hex); the parts are used up either way."""
        try:
            return b"".join([*self._upload, bytes.fromhex(tail)])
        finally:
            self._upload.clear()

    def handler(self, call: Callable[..., Any]) -> BridgeHandler:
        """A call whose arguments and result are JSON: {"ok": result} or
        {"err": [kind, message]}."""
        signature = inspect.signature(call)

        def run(payload: str) -> str:
            try:
                args = json.loads(payload)
            except (ValueError, RecursionError):
                args = None
            if not isinstance(args, list):
                return json.dumps({"err": ["TypeError", "malformed bridge arguments"]})
            try:
                signature.bind(*args)
            except TypeError as error:
                # The guest's call, not our code, is wrong: no internal error.
                return json.dumps({"err": ["TypeError", f"bad bridge arguments: {error}"]})
            try:
                return json.dumps({"ok": guarded(call, *args)})
            except ProviderError as error:
                return json.dumps({"err": [error.kind, error.message]})

        return run

    def raw_bytes(self, call: Callable[..., bytes]) -> BridgeHandler:
        """A call that takes and returns bytes. MicroPython's json is quadratic
        in the length of a string, so the bytes go as bare hex after a JSON
        line of arguments, and come back as bare hex, in parts that each fit
        the bridge's reply buffer ("=HEX" for the last, ">KEY:HEX" before
        more; "!" + JSON [kind, message] for an error)."""

        def run(payload: str) -> str:
            head, _, tail = payload.partition("\n")
            try:
                args = json.loads(head)
                data = self.uploaded(tail)
            except (ValueError, RecursionError):
                args = None
            self._upload.clear()
            if not isinstance(args, list):
                return "!" + json.dumps(["TypeError", "malformed bridge arguments"])
            try:
                out = guarded(call, *args, data)
            except ProviderError as error:
                return "!" + json.dumps([error.kind, error.message])
            return self.parts(out.hex())

        return run
