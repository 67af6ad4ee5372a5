"""The host side of the capability layer for one session: grants, providers, events.

One CapLayer serves either runtime. The CPython component reaches it through
WIT imports (`pylon:shell/host` and the `pylon:cap/*` interfaces, wired by
`link_cpython`); the MicroPython module through the host bridge
(`bridge_handlers`, JSON). Both end in the same providers and the same live
grants table. It names no cap: each cap package (registry.py) brings its own
wiring, stand-ins and provider, and the layer puts them together.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from typing import Any

from pylon_shell.caps import dispatch, registry
from pylon_shell.caps.bulk import GUEST_DIR as BULK_GUEST_DIR
from pylon_shell.caps.bulk import BulkChannel, base64_bytes, base64_text
from pylon_shell.caps.catalog import CAPS, cap_for_module, choose_providers
from pylon_shell.caps.grants import CapCallEvent, Grants, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.caps.process import ProviderProcess, ProviderProxy
from pylon_shell.caps.values import ProviderError
from pylon_shell.caps.wiring import MAX_PENDING, MAX_UPLOAD, Bridge, BridgeHandler, Link, guarded
from pylon_shell.errors import PylonError
from pylon_shell.options import Preopen

__all__ = ["MAX_PENDING", "MAX_UPLOAD", "CapLayer", "guarded", "link_cpython"]


class CapLayer:
    def __init__(
        self,
        runtime: str,
        grants: Grants,
        preopens: list[Preopen],
        providers: dict[str, str] | None = None,
        memory_mib: int | None = None,
    ) -> None:
        self.runtime = runtime
        #: The plan's memory limit, which host providers that hold data for
        #: the guest (DuckDB) are held to as well.
        self.memory_mib = memory_mib
        self.grants = grants
        self.fs = GuestFS(preopens)
        self.providers = choose_providers(runtime, providers or {})
        #: Where the host providers run: a confined worker process, started on
        #: the first host cap call (a session that makes none never starts one).
        self.process = ProviderProcess(grants, preopens, memory_mib)
        self._proxies: dict[str, ProviderProxy] = {}
        #: The MicroPython bridge's parts in flight.
        self.bridge = Bridge()
        #: Providers that are wasm components run by the launcher, by cap: how
        #: to make one (set by the session), made on the cap's first call.
        self.components: dict[str, Callable[[], Any]] = {}
        self._components: dict[str, Any] = {}
        #: How a cap's provider calls back into the guest, by cap (the program's
        #: sqlite3 callbacks; set by the CPython runtime).
        self.callbacks: dict[str, Callable[..., Any]] = {}
        #: The CPython runtime's directory for large bulk values, once it has one.
        self.bulk: BulkChannel | None = None

    # -- bulk bytes (pylon:cap/types octets) ---------------------------------

    def guest_called(self) -> None:
        """A call from the guest: what the host sent it before has been read."""
        if self.bulk is not None:
            self.bulk.collect()

    def to_octets(self, data: bytes) -> str:
        return self.bulk.encode(data) if self.bulk else base64_text(data)

    def from_octets(self, text: str) -> bytes:
        return base64_bytes(text)

    # -- providers ---------------------------------------------------------

    def provider(self, cap: str) -> ProviderProxy:
        """The cap's host provider, in the provider process."""
        if cap not in self._proxies:
            self._proxies[cap] = ProviderProxy(self.process, cap)
        return self._proxies[cap]

    def component(self, cap: str) -> Any:
        """The cap's component provider, made on its first call."""
        if cap not in self._components:
            package = registry.defining(cap)
            kind = package.failure if package is not None else "OSError"
            make = self.components.get(cap)
            if make is None:
                raise ProviderError(kind, f"no {cap} provider component is loaded")
            try:
                self._components[cap] = make()
            except PylonError as error:
                # A build failure or a digest mismatch: the guest's call fails, the
                # session goes on.
                raise ProviderError(kind, str(error)) from None
        return self._components[cap]

    def interrupt(self) -> None:
        """The guest's call is being stopped (timeout, Ctrl+C): stop the host
        work it waits on too, whatever it is doing (a C call that does not
        return included), by killing the provider process if a call is in
        flight. The next host call starts a fresh one."""
        self.process.interrupt()

    def close(self) -> None:
        self.process.close()
        for made in self._components.values():
            made.close_all()
        if self.bulk is not None:
            self.bulk.close()

    # -- what the guests are told at session start -------------------------

    def dispatch(self, cap: str, method: str, args: list[Any]) -> list[Any]:
        """A cap package's call (pylon:cap/dispatch): checked, then sent to the
        provider process, which checks the grant and the arguments' fit."""
        dispatch.check_call(cap, method, args)
        return dispatch.results(self.process.call(cap, method, args))

    def guest_settings(self) -> dict[str, Any]:
        modules: dict[str, str] = {}
        free: dict[str, str] = {}
        shims: dict[str, str] = {}
        refuse: dict[str, str] = {}
        for cap in CAPS.values():
            provider = self.providers.get(cap.name)
            for module in cap.modules:
                modules[module] = cap.name
            for module in cap.serves:
                free[module] = cap.name
            package = registry.defining(cap.name)
            if provider is not None and package is not None:
                shims.update(package.stand_ins.get(self.runtime, {}).get(provider, {}))
        plugins = registry.guest_modules()
        if self.runtime == "micropython":
            shims.update({module: module for module in plugins})  # served by the "shim" call
        return {
            "modules": modules,
            # Modules a cap serves whose import needs no grant (socket, ssl).
            "free": free,
            "shims": shims,
            "providers": self.providers,
            "refuse": refuse,
            "roots": [preopen.guest for preopen in self.fs.preopens],
            # Where large bulk values travel as files, if this runtime has the directory.
            "bulk": BULK_GUEST_DIR if self.bulk else None,
            # Guest modules of cap packages (registry.py): their source comes from the host.
            "plugins": plugins,
            # Packages that exist only to hold a shimmed module (pylon for pylon.crypto).
            "packages": sorted({name.rpartition(".")[0] for name in shims if "." in name}),
        }

    # -- requests and events from the guest --------------------------------

    def request(self, cap: str, operation: str, target: str) -> bool:
        if not (isinstance(cap, str) and isinstance(operation, str) and isinstance(target, str)):
            return False  # a malformed request from the guest (the MicroPython bridge)
        known = CAPS.get(cap)
        if operation == "import" and known is not None and known.through_wasi:
            return self.grants.is_granted(cap)
        return self.grants.request(cap, operation, target)

    def import_module(self, module: str, importer: str) -> bool:
        """The guest's import of a module that may need a cap: the host finds
        the cap (never the guest's word for it), decides, and publishes the
        import's one event."""
        if not (isinstance(module, str) and isinstance(importer, str)):
            return False  # a malformed request from the guest (the MicroPython bridge)
        module, importer = module[:MAX_NAME], importer[:MAX_NAME]
        cap = cap_for_module(module)
        if cap is None:
            return True  # needs no cap: the guest reports it with its other events
        if cap.through_wasi:
            allowed, how = self.grants.is_granted(cap.name), "grant"
        else:
            allowed, how = self.grants.decide(cap.name, "import", module)
        self.grants.publish(
            ImportEvent(
                module=module,
                importer=importer,
                cap=cap.name,
                granted=allowed,
                toplevel=importer == "__main__",
                provider=self.providers.get(cap.name),
                decided_by=how,
            )
        )
        return allowed

    def guest_events(self, batch: str) -> None:
        for line in batch.splitlines():
            try:
                item = json.loads(line)
            except (ValueError, RecursionError):
                continue  # the guest's own monitor events: a malformed one is dropped
            if not isinstance(item, dict):
                continue
            if item.get("k") == "call":
                granted = bool(item.get("g", True))
                self.grants.publish(
                    CapCallEvent(
                        cap=str(item.get("c", "?")),
                        operation=str(item.get("o", "?")),
                        target=str(item.get("t", "")),
                        granted=granted,
                        decided_by="grant" if granted else "deny",
                    )
                )
            elif item.get("k") == "import":
                self._guest_import(item)

    def _guest_import(self, item: dict[str, Any]) -> None:
        """An import the guest reports: one that needed no cap (stdlib, builtin),
        a cap's free module (ssl), or one its gate refused by the plan's rules
        (refuse). Imports that needed a grant were published by import_module
        when the host decided them; the guest's word for those is not taken."""
        module = str(item.get("m", "?"))[:MAX_NAME]
        importer = str(item.get("i", "?"))[:MAX_NAME]
        said = str(item.get("c", "stdlib"))
        cap = CAPS.get(said)
        free = cap is not None and _serves(cap.serves, module)
        if cap is not None and not free and item.get("g", True):
            return  # a cap-gated import the guest claims was granted: the host said so itself
        self.grants.publish(
            ImportEvent(
                module=module,
                importer=importer,
                cap=said if cap is not None else ("builtin" if said == "builtin" else "stdlib"),
                granted=True if free else bool(item.get("g", True)) and cap is None,
                toplevel=importer == "__main__",
                provider=self.providers.get(said) if cap is not None else None,
                free=free,
                decided_by="refuse" if cap is not None and not free else "",
            )
        )

    # -- the MicroPython bridge (JSON) ---------------------------------------

    def bridge_handlers(self) -> dict[str, BridgeHandler]:
        """The bridge's calls: the layer's own, and each cap's (its wiring's `bridge`)."""
        bridge = self.bridge

        def events(payload: str) -> str:
            self.guest_events(payload)
            return ""

        handlers: dict[str, BridgeHandler] = {}
        for package in registry.plugins().values():
            if package.wiring:
                handlers.update(importlib.import_module(package.wiring).bridge(self, bridge))
        return {
            **handlers,
            "more": bridge.more,
            "put": bridge.put,
            "request": lambda payload: json.dumps(self.request(*json.loads(payload))),
            "import": lambda payload: json.dumps(self.import_module(*_pair(payload))),
            "events": events,
            "dispatch": self._plugin_call,
            "settings": lambda payload: json.dumps(self.guest_settings()),
        }

    def _plugin_call(self, payload: str) -> str:
        """A cap package's call from MicroPython: a JSON line [cap, method,
        args] whose bytes are [offset, length] into the bare hex after it;
        the reply the same way ({"ok": results}, or {"err": ...} alone)."""
        head, _, tail = payload.partition("\n")
        try:
            cap, method, raw = json.loads(head)
            data = self.bridge.uploaded(tail)
        except (ValueError, TypeError, RecursionError):
            self.bridge.uploaded("")
            return json.dumps({"err": ["TypeError", "malformed bridge arguments"]})

        def span(where: Any) -> bytes:
            if not (
                isinstance(where, list)
                and len(where) == 2
                and all(type(n) is int and 0 <= n <= len(data) for n in where)
                and where[0] + where[1] <= len(data)
            ):
                raise ProviderError("TypeError", "a malformed dispatch argument")
            return data[where[0] : where[0] + where[1]]

        try:
            if not isinstance(raw, list) or not all(
                isinstance(a, list) and len(a) == 2 for a in raw
            ):
                raise ProviderError("TypeError", "malformed bridge arguments")
            args = [dispatch.decode(tag, value, span) for tag, value in raw]
            out = [dispatch.encode(v) for v in guarded(self.dispatch, cap, method, args)]
        except ProviderError as error:
            return json.dumps({"err": [error.kind, error.message]})
        # Bytes results as [offset, length] into bare hex after the JSON
        # line (in parts, as Bridge.parts sends), as the arguments come:
        # MicroPython's json is slow on long strings.
        pairs: list[list[Any]] = []
        blob: list[bytes] = []
        offset = 0
        for tag, value in out:
            if tag == "bytes":
                pairs.append([tag, [offset, len(value)]])
                blob.append(value)
                offset += len(value)
            else:
                pairs.append([tag, value])
        return json.dumps({"ok": pairs}) + "\n" + self.bridge.parts(b"".join(blob).hex())


#: The longest module or importer name an event keeps.
MAX_NAME = 256


def _serves(served: tuple[str, ...], module: str) -> bool:
    """Whether `module` is one of `served` or inside one of them."""
    return any(module == name or module.startswith(name + ".") for name in served)


def _pair(payload: str) -> tuple[Any, Any]:
    """A bridge call's two arguments, or two Nones when it is not a JSON pair."""
    try:
        found = json.loads(payload)
    except (ValueError, RecursionError):
        return None, None
    return (found[0], found[1]) if isinstance(found, list) and len(found) == 2 else (None, None)


# -- the CPython component (WIT values through wasmtime-py) -------------------


def link_cpython(layer: CapLayer, root: Any) -> None:
    """Define the session component's `pylon:cap/*` imports on `root`: each cap
    package's own interface (its wiring's `link`), and the generic dispatch."""
    from wasmtime.component import Variant

    kit = Link(layer.guest_called)
    for package in registry.plugins().values():
        if package.wiring:
            importlib.import_module(package.wiring).link(layer, root, kit, package)
    with root.add_instance(dispatch.INTERFACE) as plugins:

        def wit_arg(value: Any) -> Any:
            tag, payload = dispatch.encode(value)
            if tag == "bytes":
                return Variant(tag, layer.to_octets(payload))
            return Variant(tag) if tag == "none" else Variant(tag, payload)

        def call(cap: str, method: str, args: list[Any]) -> list[Any]:
            decoded = [dispatch.decode(a.tag, a.payload, layer.from_octets) for a in args]
            return [wit_arg(v) for v in layer.dispatch(cap, method, decoded)]

        plugins.add_func("call", kit.untagged(call))
        plugins.add_func("guest-source", lambda _store, module: registry.guest_source(module))
