"""The sqlite cap's component provider, seen from the host.

The provider is a wasm component of its own (guest/sqlite_provider), trusted
by its digest, instantiated in its own store with only its database directory
(`/db`) and the directories the plan grants the guest. The host stands between
consumer and provider: every call checks the live grants (boundary
enforcement), then calls the provider's `pylon:cap/sqlite` export. The same
provider serves the CPython session (WIT) and MicroPython (the host bridge).

`/db` is the user's own storage: it needs no fs grant, persists across runs
and is shared by every session, so a guest could fill the disk through it.
It has a quota (`quota_bytes`). The component enforces it per call (every
database in /db may grow only by what the quota leaves, and the guest may not
lift the limit; see its module docstring). The host checks the directory as
well, as a backstop that does not trust the component: past twice the quota (the
quota plus room for one transaction's rollback journal, which SQLite's page
limit does not cover; `hard_limit`) every call that can write is refused.

The component opens files through WASI, whose preopens resolve every path
beneath the directory (a link out of a grant or `..` above it fails in the
component), so its paths need no host-side resolving.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.values import ProviderError, ResultSet, decode, sql_summary
from pylon_shell.options import Preopen
from pylon_shell.wasmhost.engine import shared_engine

CAP = "sqlite"
#: The most the SQLite component's own directory (/db) may hold, in MiB,
#: unless the user sets PYLON_SQLITE_QUOTA_MIB (the guest cannot).
DEFAULT_QUOTA_MIB = 64
#: Where the component reads its settings (the quota), read-only.
SETTINGS_DIR = "/.pylon-sqlite"


def quota_bytes() -> int:
    """The /db quota in force: PYLON_SQLITE_QUOTA_MIB (a whole number of MiB, at
    least 1) or DEFAULT_QUOTA_MIB."""
    text = os.environ.get("PYLON_SQLITE_QUOTA_MIB", "")
    try:
        mib = int(text) if text else DEFAULT_QUOTA_MIB
    except ValueError:
        mib = DEFAULT_QUOTA_MIB
    return max(mib, 1) << 20


def hard_limit(quota: int) -> int:
    """Past this the host refuses writing calls whatever the component says:
    the quota, and as much again for a rollback journal in flight."""
    return 2 * quota


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


#: The calls that can make /db grow.
_WRITING = frozenset(("open", "execute", "execute-many", "execute-script", "commit"))


def directory_usage(folder: Path) -> int:
    """Bytes of the files under `folder`, links not followed; 0 if it is missing."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                else:
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


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
        self.quota = quota_bytes()
        # The component is initialised at build time, environment included, so
        # the quota reaches it as a file in a read-only directory of its own.
        self._settings = Path(tempfile.mkdtemp(prefix="pylon-sqlite-"))
        (self._settings / "quota").write_text(str(self.quota))
        wasi.preopen_dir(str(self._settings), SETTINGS_DIR, False)
        store.set_wasi(wasi)
        self._db_dir = db_dir
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
        if name in _WRITING and (used := directory_usage(self._db_dir)) > hard_limit(self.quota):
            raise ProviderError(
                "OperationalError",
                f"database or disk is full (the SQLite provider's /db holds {used >> 20} MiB, "
                f"past its {self.quota >> 20} MiB quota)",
            )
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
        shutil.rmtree(self._settings, ignore_errors=True)
