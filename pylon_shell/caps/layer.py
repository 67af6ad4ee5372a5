"""The host side of the capability layer for one session: grants, providers, events.

One CapLayer serves either runtime. The CPython component reaches it through
WIT imports (`pylon:shell/host` and the `pylon:cap/*` interfaces, wired by
`link_cpython`); the MicroPython module through the host bridge
(`bridge_handlers`, JSON). Both end in the same providers and the same live
grants table.
"""

from __future__ import annotations

import inspect
import itertools
import json
from collections.abc import Callable
from typing import Any, TypeVar

from pylon_shell.caps import dispatch, registry
from pylon_shell.caps.bulk import GUEST_DIR as BULK_GUEST_DIR
from pylon_shell.caps.bulk import BulkChannel, base64_bytes, base64_text
from pylon_shell.caps.catalog import CAPS, cap_for_module, choose_providers
from pylon_shell.caps.grants import CapCallEvent, CapDenied, Grants, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.caps.process import ProviderProcess, ProviderProxy
from pylon_shell.caps.values import (
    ProviderError,
    ResultSet,
    decode,
    encode,
    from_json,
    result_to_json,
)
from pylon_shell.errors import PylonError
from pylon_shell.options import Preopen

T = TypeVar("T")
#: Hex characters per bridge reply: MicroPython's reply buffer is 8 MiB.
BRIDGE_PART = 4 << 20
#: The crypto provider's functions (the WIT names, with - for _), and which of
#: their arguments are bytes (the MicroPython bridge sends those as hex).
CRYPTO_FUNCTIONS = {
    "pbkdf2_hmac": (1, 2),
    "scrypt": (0, 1),
    "aead_encrypt": (1, 2, 3, 4),
    "aead_decrypt": (1, 2, 3, 4),
    "public_key": (1,),
    "ed25519_sign": (0, 1),
    "ed25519_verify": (0, 1, 2),
    "x25519_exchange": (0, 1),
}
#: The most one bridge call may send in parts.
MAX_UPLOAD = 64 << 20
#: The most reply text a session may leave unread (parts the guest never asks
#: for): a guest cannot grow the launcher's memory by abandoning replies.
MAX_PENDING = 64 << 20

#: Guest modules that stand in for a cap's module, per (cap, provider).
CPYTHON_SHIMS = {
    ("duckdb", "host"): {"duckdb": "pylon_duckdb"},
    # The stdlib's sqlite3 package runs unchanged over this _sqlite3.
    ("sqlite", "component"): {"_sqlite3": "pylon_sqlite3"},
    # The stdlib's bz2, lzma and compression.zstd run unchanged over these.
    ("compression", "host"): {"_bz2": "pylon_bz2", "_lzma": "pylon_lzma", "_zstd": "pylon_zstd"},
    ("crypto", "host"): {"pylon.crypto": "pylon_crypto"},
    # The stdlib's socket and ssl run unchanged over these.
    ("net", "host"): {"_socket": "pylon_socket"},
    ("tls", "host"): {"_ssl": "pylon_ssl", "pylon.https": "pylon_https"},
}
MICROPYTHON_SHIMS = {
    ("duckdb", "host"): {"duckdb": "duckdb"},
    ("sqlite", "component"): {"sqlite3": "sqlite3"},
    ("compression", "host"): {"bz2": "bz2", "lzma": "lzma", "compression": "compression"},
    ("crypto", "host"): {"pylon": "pylon"},
    ("tls", "host"): {"pylon": "pylon"},
}


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
        self.duckdb = ProviderProxy(self.process, "duckdb")
        self.compression = ProviderProxy(self.process, "compression")
        self.crypto = ProviderProxy(self.process, "crypto")
        self.net = ProviderProxy(self.process, "net")
        self.tls = ProviderProxy(self.process, "tls")
        self._pending: dict[int, str] = {}
        self._upload: list[bytes] = []
        self._part_keys = itertools.count(1)
        self._sqlite: Any = None
        self.sqlite_factory: Callable[[], Any] | None = None
        #: How the SQLite provider calls the program's sqlite3 callbacks back
        #: (set by the CPython runtime; MicroPython's sqlite3 registers none).
        self.sqlite_callback: Callable[[int, str, str], Any] | None = None
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

    @property
    def sqlite(self) -> Any:
        if self._sqlite is None:
            if self.sqlite_factory is None:
                raise ProviderError("OperationalError", "no SQLite provider component is loaded")
            try:
                self._sqlite = self.sqlite_factory()
            except PylonError as error:
                # A build failure or a digest mismatch: the guest's call fails, the
                # session goes on.
                raise ProviderError("OperationalError", str(error)) from None
        return self._sqlite

    def interrupt(self) -> None:
        """The guest's call is being stopped (timeout, Ctrl+C): stop the host
        work it waits on too, whatever it is doing (a C call that does not
        return included), by killing the provider process if a call is in
        flight. The next host call starts a fresh one."""
        self.process.interrupt()

    def close(self) -> None:
        self.process.close()
        if self._sqlite is not None:
            self._sqlite.close_all()
        if self.bulk is not None:
            self.bulk.close()

    # -- what the guests are told at session start -------------------------

    def dispatch(self, cap: str, method: str, args: list[Any]) -> list[Any]:
        """A cap package's call (pylon:cap/dispatch): checked, then sent to the
        provider process, which checks the grant and the arguments' fit."""
        dispatch.check_call(cap, method, args)
        return dispatch.results(self.process.call(cap, method, args))

    def guest_settings(self) -> dict[str, Any]:
        shims_table = CPYTHON_SHIMS if self.runtime == "cpython" else MICROPYTHON_SHIMS
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
            if provider is not None:
                shims.update(shims_table.get((cap.name, provider), {}))
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
        if operation == "import" and cap in ("fs", "env"):
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
        if cap.name in ("fs", "env"):
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

    def _parts(self, text: str) -> str:
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

    def bridge_handlers(self) -> dict[str, Callable[[str], str]]:
        def handler(call: Callable[..., Any]) -> Callable[[str], str]:
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

        def duckdb_execute(handle: int, sql: str, params: list[Any]) -> dict[str, Any]:
            # The first batch of rows; "more" says duckdb.fetch has the rest.
            result, more = self.duckdb.execute(handle, sql, [from_json(p) for p in params])
            return {**result_to_json(result), "more": more}

        def duckdb_fetch(handle: int, max_rows: int) -> dict[str, Any]:
            rows, more = self.duckdb.fetch(handle, max_rows)
            return {"rows": result_to_json(ResultSet([], rows))["rows"], "more": more}

        def sqlite_outcome(outcome: Any) -> dict[str, Any]:
            return {
                "columns": [c.name for c in outcome.columns],
                "rows": unpack_rows(outcome.rows),
                "more": bool(outcome.more),
                "rowcount": outcome.rowcount,
                "lastrowid": outcome.lastrowid,
            }

        def sqlite_execute(cursor: int, sql: str, params: Any, prefetch: int) -> dict[str, Any]:
            # MicroPython sends its values as JSON (blobs as {"b": base64}): the
            # provider's packed form, so they go on as text, unread.
            packed = json.dumps(params)
            return sqlite_outcome(self.sqlite.execute(cursor, sql, packed, None, int(prefetch)))

        def sqlite_execute_many(cursor: int, sql: str, rows: Any) -> dict[str, Any]:
            return sqlite_outcome(self.sqlite.execute_many(cursor, sql, json.dumps(rows)))

        def sqlite_fetch(cursor: int, max_rows: int) -> dict[str, Any]:
            rows, more = self.sqlite.fetch(cursor, int(max_rows))
            return {"rows": unpack_rows(rows), "more": more}

        def raw_bytes(call: Callable[..., bytes]) -> Callable[[str], str]:
            """A call that takes and returns bytes. MicroPython's json is quadratic
            in the length of a string, so the bytes go as bare hex after a JSON
            line of arguments, and come back as bare hex, in parts that each fit
            the bridge's reply buffer ("=HEX" for the last, ">KEY:HEX" before
            more; "!" + JSON [kind, message] for an error)."""

            def run(payload: str) -> str:
                head, _, tail = payload.partition("\n")
                try:
                    args = json.loads(head)
                    data = b"".join([*self._upload, bytes.fromhex(tail)])
                except (ValueError, RecursionError):
                    args = None
                self._upload.clear()
                if not isinstance(args, list):
                    return "!" + json.dumps(["TypeError", "malformed bridge arguments"])
                try:
                    out = guarded(call, *args, data)
                except ProviderError as error:
                    return "!" + json.dumps([error.kind, error.message])
                return self._parts(out.hex())

            return run

        def events(payload: str) -> str:
            self.guest_events(payload)
            return ""

        def plugin_call(payload: str) -> str:
            """A cap package's call from MicroPython: a JSON line [cap, method,
            args] whose bytes are [offset, length] into the bare hex after it;
            the reply the same way ({"ok": results}, or {"err": ...} alone)."""
            head, _, tail = payload.partition("\n")
            try:
                cap, method, raw = json.loads(head)
                data = b"".join([*self._upload, bytes.fromhex(tail)])
            except (ValueError, TypeError, RecursionError):
                self._upload.clear()
                return json.dumps({"err": ["TypeError", "malformed bridge arguments"]})
            self._upload.clear()

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
            # line (in parts, as _parts sends), as the arguments come:
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
            return json.dumps({"ok": pairs}) + "\n" + self._parts(b"".join(blob).hex())

        def put(payload: str) -> str:
            """A part of the next raw_bytes call's input (inputs come in parts
            so the guest never holds more than one part's hex at a time)."""
            if sum(map(len, self._upload)) + len(payload) // 2 > MAX_UPLOAD:
                self._upload.clear()
                return "!" + json.dumps(["MemoryError", "more than 64 MiB in one call"])
            try:
                self._upload.append(bytes.fromhex(payload))
            except ValueError:
                self._upload.clear()
                return "!" + json.dumps(["ValueError", "a bridge part that is not hex"])
            return ""

        def codec(operation: str) -> Callable[..., bytes]:
            def run(codec_name: str, options: dict[str, Any], data: bytes) -> bytes:
                return self.compression.one_shot(codec_name, operation, data, options)

            return run

        def crypto(name: str) -> Callable[[str], str]:
            """pylon.crypto for MicroPython: its bytes arguments and results as
            hex in the JSON (keys and messages are small)."""
            positions = CRYPTO_FUNCTIONS[name]

            def run(*args: Any) -> Any:
                decoded = [
                    bytes.fromhex(a) if i in positions and a is not None else a
                    for i, a in enumerate(args)
                ]
                out = getattr(self.crypto, name)(*decoded)
                return out.hex() if isinstance(out, bytes) else out

            return handler(run)

        return {
            **{f"crypto.{name}": crypto(name) for name in CRYPTO_FUNCTIONS},
            "https.request": raw_bytes(lambda *args: self.tls.https(*args)),
            "crypto.random_bytes": handler(lambda n: self.crypto.random_bytes(n).hex()),
            "compression.compress": raw_bytes(codec("compress")),
            "compression.decompress": raw_bytes(codec("decompress")),
            "more": lambda key: self._parts(self._pending.pop(int(key), "")),
            "put": put,
            "request": lambda payload: json.dumps(self.request(*json.loads(payload))),
            "import": lambda payload: json.dumps(self.import_module(*_pair(payload))),
            "events": events,
            "dispatch": plugin_call,
            "settings": lambda payload: json.dumps(self.guest_settings()),
            "duckdb.connect": handler(lambda db, ro: self.duckdb.connect(db, ro)),
            "duckdb.execute": handler(duckdb_execute),
            "duckdb.fetch": handler(duckdb_fetch),
            "duckdb.close": handler(lambda h: self.duckdb.close(h)),
            "sqlite.open": handler(lambda db, timeout: self.sqlite.open(db, {"timeout": timeout})),
            "sqlite.cursor": handler(lambda h: self.sqlite.cursor(h)),
            "sqlite.execute": handler(sqlite_execute),
            "sqlite.execute_many": handler(sqlite_execute_many),
            "sqlite.execute_script": handler(lambda c, s: self.sqlite.execute_script(c, s)),
            "sqlite.fetch": handler(sqlite_fetch),
            "sqlite.close_cursor": handler(lambda c: self.sqlite.close_cursor(c)),
            "sqlite.commit": handler(lambda h: self.sqlite.commit(h)),
            "sqlite.rollback": handler(lambda h: self.sqlite.rollback(h)),
            "sqlite.in_transaction": handler(lambda h: self.sqlite.in_transaction(h)),
            "sqlite.close": handler(lambda h: self.sqlite.close(h)),
        }


def unpack_rows(packed: str) -> list[Any]:
    """The provider's packed rows as JSON values, for MicroPython's reply (its
    json parses a long string slowly, so rows go as structure, not as text)."""
    try:
        rows = json.loads(packed)
    except (ValueError, RecursionError):
        raise ProviderError("OperationalError", "the SQLite provider sent malformed rows") from None
    return rows if isinstance(rows, list) else []


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


# -- the CPython component (WIT values through wasmtime-py) -------------------


def wit_value(value: Any) -> Any:
    from wasmtime.component import Variant

    tag, payload = encode(value)
    return Variant(tag, payload) if payload is not None else Variant(tag)


def py_value(variant: Any) -> Any:
    return decode(variant.tag, variant.payload)


def wit_record(**fields: Any) -> Any:
    from wasmtime.component import Record

    record = Record()
    for name, value in fields.items():
        setattr(record, name.replace("_", "-"), value)
    return record


def wit_failure(error: ProviderError) -> Any:
    return wit_record(kind=error.kind, message=error.message)


def wit_result_set(result: ResultSet) -> Any:
    return wit_record(
        columns=[wit_record(name=n, type_name=t) for n, t in result.columns],
        rows=[[wit_value(v) for v in row] for row in result.rows],
        rowcount=result.rowcount,
        lastrowid=result.lastrowid,
    )


def wit_duckdb_head(result: ResultSet, more: bool) -> Any:
    """A DuckDB execute: its result-set (with the first batch) and whether more rows follow."""
    return (wit_result_set(result), more)


def wit_duckdb_batch(rows: list[Any], more: bool) -> Any:
    """A DuckDB fetch: one batch of rows and whether more follow."""
    return ([[wit_value(v) for v in row] for row in rows], more)


def tls_constants() -> dict[str, Any]:
    from pylon_shell.caps.providers.tls import constants

    return constants()


def link_cpython(
    layer: CapLayer, root: Any, package: str = "pylon:cap", version: str = "0.1.0"
) -> None:
    """Define the `pylon:cap/*` imports of the session component on `root`."""
    from wasmtime.component import Variant

    def untagged(call: Callable[..., Any]) -> Callable[..., Any]:
        """For result<T, failure> where T's Python type differs from a record."""

        def run(_store: Any, *args: Any) -> Any:
            layer.guest_called()
            try:
                return guarded(call, *args)
            except ProviderError as error:
                return wit_failure(error)

        return run

    def tagged(call: Callable[..., Any]) -> Callable[..., Any]:
        """For result<R, failure> where R is a record: both sides are records, so
        the result must say which it is."""

        def run(_store: Any, *args: Any) -> Any:
            layer.guest_called()
            try:
                return Variant("ok", guarded(call, *args))
            except ProviderError as error:
                return Variant("err", wit_failure(error))

        return run

    def rows(call: Callable[..., ResultSet]) -> Callable[..., Any]:
        return tagged(lambda *args: wit_result_set(call(*args)))

    with root.add_instance(f"{package}/duckdb@{version}") as duck:
        duck.add_func("connect", untagged(lambda db, ro: layer.duckdb.connect(db, ro)))
        duck.add_func(
            "execute",
            untagged(
                lambda h, sql, ps: wit_duckdb_head(
                    *layer.duckdb.execute(h, sql, [py_value(p) for p in ps])
                )
            ),
        )
        duck.add_func("fetch", untagged(lambda h, n: wit_duckdb_batch(*layer.duckdb.fetch(h, n))))
        duck.add_func("close", lambda _store, h: layer.duckdb.close(h))
    def quietly(call: Callable[..., Any]) -> Callable[..., Any]:
        """For a call with no result (giving a handle up): a failure is dropped."""

        def run(_store: Any, *args: Any) -> None:
            layer.guest_called()
            try:
                guarded(call, *args)
            except ProviderError:
                pass

        return run

    # The guest's _sqlite3 stand-in (guest/cpython/pylon_sqlite3.py): records
    # and packed values go on to the provider as wasmtime lifted them.
    with root.add_instance(f"{package}/sqlite@{version}") as sql:
        sql.add_func("open", untagged(lambda db, options: layer.sqlite.open(db, options)))
        sql.add_func("cursor", untagged(lambda c: layer.sqlite.cursor(c)))
        sql.add_func(
            "execute", tagged(lambda c, q, p, how, n: layer.sqlite.execute(c, q, p, how, n))
        )
        sql.add_func("execute-many", tagged(lambda c, q, rs: layer.sqlite.execute_many(c, q, rs)))
        sql.add_func("execute-script", untagged(lambda c, s: layer.sqlite.execute_script(c, s)))
        sql.add_func("fetch", untagged(lambda c, n, how: layer.sqlite.fetch(c, n, how)))
        sql.add_func("close-cursor", quietly(lambda c: layer.sqlite.close_cursor(c)))
        sql.add_func("commit", untagged(lambda h: layer.sqlite.commit(h)))
        sql.add_func("rollback", untagged(lambda h: layer.sqlite.rollback(h)))
        sql.add_func("close", untagged(lambda h: layer.sqlite.close(h)))
        sql.add_func(
            "connection-call", untagged(lambda h, n, a: layer.sqlite.connection_call(h, n, a))
        )
        sql.add_func(
            "blob-open",
            untagged(lambda h, t, c, r, ro, n: layer.sqlite.blob_open(h, t, c, r, ro, n)),
        )
        sql.add_func("blob-call", untagged(lambda b, n, a: layer.sqlite.blob_call(b, n, a)))
        sql.add_func("module-call", untagged(lambda n, a: layer.sqlite.module_call(n, a)))
    with root.add_instance(f"{package}/compression@{version}") as codecs:
        codecs.add_func(
            "create",
            untagged(
                lambda kind, args: layer.compression.create(kind, [py_value(a) for a in args])
            ),
        )
        codecs.add_func(
            "compress",
            untagged(
                lambda h, data, mode: layer.to_octets(
                    layer.compression.compress(h, layer.from_octets(data), mode)
                )
            ),
        )
        codecs.add_func(
            "flush", untagged(lambda h, mode: layer.to_octets(layer.compression.flush(h, mode)))
        )

        def decompress(h: int, data: str, limit: int) -> Any:
            out = layer.compression.decompress(h, layer.from_octets(data), limit)
            return wit_record(
                **{
                    **vars(out),
                    "data": layer.to_octets(out.data),
                    "unused_data": layer.to_octets(out.unused_data),
                }
            )

        codecs.add_func("decompress", tagged(decompress))
        codecs.add_func(
            "call",
            untagged(
                lambda name, args: [
                    wit_value(v) for v in layer.compression.call(name, [py_value(a) for a in args])
                ]
            ),
        )
        codecs.add_func("drop", lambda _store, h: layer.compression.drop(h))
    with root.add_instance(f"{package}/net@{version}") as net:
        net.add_func("connect", untagged(lambda h, p, t: layer.net.connect(h, p, t)))
        net.add_func("send", untagged(lambda c, data: layer.net.send(c, layer.from_octets(data))))
        net.add_func("recv", untagged(lambda c, size: layer.to_octets(layer.net.recv(c, size))))
        net.add_func("set-timeout", untagged(lambda c, t: layer.net.set_timeout(c, t)))
        net.add_func("shutdown", untagged(lambda c, how: layer.net.shutdown(c, how)))
        net.add_func("peer-name", untagged(lambda c: layer.net.peer_name(c)))
        net.add_func("sock-name", untagged(lambda c: layer.net.sock_name(c)))
        net.add_func("close", lambda _store, c: layer.net.close(c))
        net.add_func(
            "poll",
            untagged(
                lambda items, t: [
                    tuple(pair) for pair in layer.net.poll([list(i) for i in items], t)
                ]
            ),
        )
    with root.add_instance(f"{package}/tls@{version}") as tls:
        tls.add_func("constants", lambda _store: json.dumps(tls_constants()))
        tls.add_func("handshake", untagged(lambda c, s, name: layer.tls.handshake(c, s, name)))
        tls.add_func("unwrap", untagged(lambda c: layer.tls.unwrap(c)))
        tls.add_func("bio-new", untagged(lambda s, name: layer.tls.bio_new(s, name)))
        tls.add_func(
            "bio-step",
            untagged(
                lambda o, inc, eof, op, data, size: layer.tls.bio_step(o, inc, eof, op, data, size)
            ),
        )
        tls.add_func("bio-close", lambda _store, o: layer.tls.bio_close(o))
        tls.add_func(
            "parse", untagged(lambda data, form: layer.tls.parse(layer.from_octets(data), form))
        )
        tls.add_func(
            "check-cert-chain",
            untagged(
                lambda cert, key, password: layer.tls.check_cert_chain(
                    layer.from_octets(cert),
                    None if key is None else layer.from_octets(key),
                    None if password is None else layer.from_octets(password),
                )
            ),
        )
        tls.add_func("context-info", untagged(lambda s: layer.tls.context_info(s)))
    with root.add_instance(f"{package}/dispatch@{version}") as plugins:

        def wit_arg(value: Any) -> Any:
            tag, payload = dispatch.encode(value)
            if tag == "bytes":
                return Variant(tag, layer.to_octets(payload))
            return Variant(tag) if tag == "none" else Variant(tag, payload)

        def call(cap: str, method: str, args: list[Any]) -> list[Any]:
            decoded = [dispatch.decode(a.tag, a.payload, layer.from_octets) for a in args]
            return [wit_arg(v) for v in layer.dispatch(cap, method, decoded)]

        plugins.add_func("call", untagged(call))
        plugins.add_func("guest-source", lambda _store, module: registry.guest_source(module))
    with root.add_instance(f"{package}/crypto@{version}") as crypto:
        for name in CRYPTO_FUNCTIONS:
            crypto.add_func(
                name.replace("_", "-"),
                untagged(lambda *args, name=name: getattr(layer.crypto, name)(*args)),
            )
