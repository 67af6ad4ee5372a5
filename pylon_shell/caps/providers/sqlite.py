"""The sqlite cap's component provider, seen from the host.

The provider is a wasm component of its own (guest/sqlite_provider), trusted
by its digest, instantiated in its own store with only its database directory
(`/db`) and the directories the plan grants the guest. The host stands between
consumer and provider: every call checks the live grants (boundary
enforcement), then calls the provider's `pylon:cap/sqlite` export. The same
provider serves the CPython session (WIT) and MicroPython (the host bridge).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.values import ProviderError, ResultSet, decode, sql_summary
from pylon_shell.runtimes.base import Preopen
from pylon_shell.runtimes.engine import shared_engine

CAP = "sqlite"
INTERFACE = "pylon:cap/sqlite@0.1.0"
EXPORTS = (
    "open",
    "execute",
    "execute-many",
    "execute-script",
    "commit",
    "rollback",
    "in-transaction",
    "close",
)


class SqliteComponentProvider:
    def __init__(
        self,
        grants: Grants,
        db_dir: Path,
        preopens: list[Preopen],
        stdlib: Path,
        component: Any,
    ) -> None:
        import wasmtime
        from wasmtime.component import Linker

        self._grants = grants
        engine = shared_engine()
        linker = Linker(engine)
        linker.add_wasip2()
        store = wasmtime.Store(engine)
        wasi = wasmtime.WasiConfig()
        db_dir.mkdir(parents=True, exist_ok=True)
        wasi.preopen_dir(str(stdlib), "/python", False)
        wasi.preopen_dir(str(db_dir), "/db", True)
        for preopen in preopens:
            wasi.preopen_dir(str(preopen.host), preopen.guest, not preopen.readonly)
        store.set_wasi(wasi)
        store.set_epoch_deadline(1)
        instance = linker.instantiate(store, component)
        iface = instance.get_export_index(store, INTERFACE)
        self._store: Any = store
        self._funcs = {
            name: instance.get_func(store, instance.get_export_index(store, name, iface))
            for name in EXPORTS
        }
        self._open: set[int] = set()

    def _invoke(self, name: str, *args: Any) -> Any:
        import wasmtime

        if self._store is None:
            raise ProviderError("OperationalError", "the SQLite provider has stopped")
        func = self._funcs[name]
        self._store.set_epoch_deadline(1)
        try:
            result = func(self._store, *args)
            func.post_return(self._store)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            message = str(error).strip().splitlines()[0]
            error.__traceback__ = None
            self._store = None
            raise ProviderError(
                "OperationalError", f"the SQLite provider crashed: {message}"
            ) from None
        return result

    @staticmethod
    def _unwrap(result: Any) -> Any:
        """result<T, failure> as lifted: a Variant when both sides are records."""
        from wasmtime.component import Record, Variant

        if isinstance(result, Variant):
            if result.tag == "err":
                raise ProviderError(result.payload.kind, result.payload.message)
            return result.payload
        if isinstance(result, Record):
            raise ProviderError(result.kind, result.message)
        return result

    @staticmethod
    def _rows(record: Any) -> ResultSet:
        return ResultSet(
            columns=[(c.name, getattr(c, "type-name")) for c in record.columns],
            rows=[tuple(decode(v.tag, v.payload) for v in row) for row in record.rows],
            rowcount=record.rowcount,
            lastrowid=record.lastrowid,
        )

    def open(self, database: str) -> int:
        with self._grants.call(CAP, "open", database or ":memory:"):
            handle = int(self._unwrap(self._invoke("open", database)))
        self._open.add(handle)
        return handle

    def execute(self, handle: int, sql: str, parameters: list[Any]) -> ResultSet:
        from pylon_shell.caps.layer import wit_value

        params = [wit_value(p) for p in parameters]
        with self._grants.call(CAP, "execute", sql_summary(sql)):
            return self._rows(self._unwrap(self._invoke("execute", handle, sql, params)))

    def execute_many(self, handle: int, sql: str, rows: list[list[Any]]) -> ResultSet:
        from pylon_shell.caps.layer import wit_value

        lowered = [[wit_value(p) for p in row] for row in rows]
        with self._grants.call(CAP, "execute", sql_summary(sql)):
            return self._rows(self._unwrap(self._invoke("execute-many", handle, sql, lowered)))

    def execute_script(self, handle: int, script: str) -> None:
        with self._grants.call(CAP, "execute", sql_summary(script)):
            self._unwrap(self._invoke("execute-script", handle, script))

    def commit(self, handle: int) -> None:
        with self._grants.call(CAP, "commit", ""):
            self._unwrap(self._invoke("commit", handle))

    def rollback(self, handle: int) -> None:
        self._unwrap(self._invoke("rollback", handle))

    def in_transaction(self, handle: int) -> bool:
        return bool(self._invoke("in-transaction", handle))

    def close(self, handle: int) -> None:
        if handle in self._open:
            self._open.discard(handle)
            self._invoke("close", handle)

    def close_all(self) -> None:
        if self._store is not None:
            for handle in list(self._open):
                self.close(handle)
        self._store = None
        self._funcs = {}
