"""The sqlite cap's component provider, seen from the host.

The provider is a wasm component of its own (guest/component/), trusted
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

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.values import ProviderError, sql_summary
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
#: How deep callbacks may nest (a callback's SQL calling a callback, ...):
#: every level holds a guest and a provider frame on the stack, and past about
#: twenty the engine gives up on the whole session.
MAX_CALLBACK_DEPTH = 10
#: What the provider imports to call the program's Python callbacks.
CALLBACKS = "pylon:cap/sqlite-callbacks@0.1.0"
EXPORTS = (
    "open",
    "cursor",
    "execute",
    "execute-many",
    "execute-script",
    "fetch",
    "close-cursor",
    "commit",
    "rollback",
    "close",
    "connection-call",
    "blob-open",
    "blob-call",
    "module-call",
)


#: The calls that can make /db grow.
_WRITING = frozenset(
    (
        "open",
        "execute",
        "execute-many",
        "execute-script",
        "commit",
        "connection-call",
        "blob-open",
        "blob-call",
    )
)
#: The most rows one fetch may ask for (a guest's u32 is taken as a wish).
MAX_FETCH = 1 << 20


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
        callback: Callable[[], Callable[[int, str, str], Any] | None] | None = None,
    ) -> None:
        import wasmtime
        from wasmtime.component import Linker

        self._grants = grants
        self._callback = callback
        self._depth = 0
        engine = shared_engine()
        linker = Linker(engine)
        linker.add_wasip2()
        with linker.root() as root:
            with root.add_instance(CALLBACKS) as back:
                back.add_func("invoke", self._on_callback)
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
        self._funcs: dict[str, wasmtime.component.Func] = {}
        for name in EXPORTS:
            index = instance.get_export_index(store, name, iface) if iface else None
            func = instance.get_func(store, index) if index is not None else None
            if func is None:
                raise RuntimeError(f"the SQLite provider lacks {name!r}; run `pylon build`")
            self._funcs[name] = func
        self._open: set[int] = set()

    def _on_callback(self, _store: Any, target: int, method: str, arguments: str) -> Any:
        """The provider's SQLite calls one of the program's Python callbacks:
        passed on to the guest (result<string, failure>: the packed result or
        a failure record, as the guest gave it)."""
        call = self._callback() if self._callback is not None else None
        if call is None:
            return _record(
                kind="NotSupportedError", message="this runtime has no sqlite3 callbacks"
            )
        if self._depth >= MAX_CALLBACK_DEPTH:
            return _record(
                kind="RecursionError",
                message=f"sqlite3 callbacks nested more than {MAX_CALLBACK_DEPTH} deep",
            )
        self._depth += 1
        try:
            return call(target, method, arguments)
        except Exception as error:  # noqa: BLE001 - the guest's call fails, not the host
            message = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            error.__traceback__ = None
            return _record(kind="OperationalError", message=f"the callback failed: {message}")
        finally:
            self._depth -= 1

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
                failure: Any = result.payload
                raise ProviderError(failure.kind, failure.message)
            return result.payload
        if isinstance(result, Record):
            record: Any = result  # a failure record: kind and message
            raise ProviderError(record.kind, record.message)
        return result

    def open(self, database: str, options: Any = None) -> int:
        """A connection; `options` is the WIT record open-options (a dict of its
        fields with _ for -, or None for sqlite3.connect's defaults)."""
        record = options if options is not None and not isinstance(options, dict) else None
        if record is None:
            fields = {
                "timeout": 5.0,
                "isolation_level": "",
                "autocommit": -1,
                "uri": False,
                "cached_statements": 128,
                "detect_types": 0,
                **(options or {}),
            }
            record = _record(**fields)
        with self._grants.call(CAP, "open", database or ":memory:"):
            handle = int(self._unwrap(self._invoke("open", database, record)))
        self._open.add(handle)
        return handle

    def cursor(self, connection: int) -> int:
        return int(self._unwrap(self._invoke("cursor", connection)))

    def execute(
        self, cursor: int, sql: str, parameters: str, reading: Any = None, prefetch: int = 1
    ) -> Any:
        """One statement: the provider's outcome record (columns, rows as
        packed JSON, more, rowcount, lastrowid). The packed values pass
        through unread."""
        how = reading if reading is not None else _reading()
        with self._grants.call(CAP, "execute", sql_summary(sql)):
            return self._unwrap(
                self._invoke("execute", cursor, sql, parameters, how, min(prefetch, MAX_FETCH))
            )

    def execute_many(self, cursor: int, sql: str, rows: str) -> Any:
        with self._grants.call(CAP, "execute", sql_summary(sql)):
            return self._unwrap(self._invoke("execute-many", cursor, sql, rows))

    def execute_script(self, cursor: int, script: str) -> None:
        with self._grants.call(CAP, "execute", sql_summary(script)):
            self._unwrap(self._invoke("execute-script", cursor, script))

    def fetch(self, cursor: int, max_rows: int, reading: Any = None) -> tuple[str, bool]:
        how = reading if reading is not None else _reading()
        with self._grants.call(CAP, "fetch", ""):
            rows, more = self._unwrap(
                self._invoke("fetch", cursor, min(max_rows, MAX_FETCH), how)
            )
        return rows, bool(more)

    def close_cursor(self, cursor: int) -> None:
        self._invoke("close-cursor", cursor)

    def commit(self, handle: int) -> None:
        with self._grants.call(CAP, "commit", ""):
            self._unwrap(self._invoke("commit", handle))

    def rollback(self, handle: int) -> None:
        self._unwrap(self._invoke("rollback", handle))

    def in_transaction(self, handle: int) -> bool:
        return bool(json.loads(self.connection_call(handle, "get-in_transaction", "[]")))

    def connection_call(self, handle: int, name: str, arguments: str) -> str:
        """State (get-NAME: reported without a check, as rollback and close) and
        the connection's other methods (checked as `execute`)."""
        if name.startswith("get-"):
            return str(self._unwrap(self._invoke("connection-call", handle, name, arguments)))
        with self._grants.call(CAP, "execute", f"{name[:40]}()"):
            return str(self._unwrap(self._invoke("connection-call", handle, name, arguments)))

    def blob_open(
        self, handle: int, table: str, column: str, row: int, readonly: bool, name: str
    ) -> int:
        target = f"blob {name[:20]}.{table[:20]}.{column[:20]} row {row}"
        with self._grants.call(CAP, "open", target):
            return int(
                self._unwrap(self._invoke("blob-open", handle, table, column, row, readonly, name))
            )

    def blob_call(self, blob: int, name: str, arguments: str) -> str:
        if name == "close":
            return str(self._unwrap(self._invoke("blob-call", blob, name, arguments)))
        with self._grants.call(CAP, "execute", f"blob.{name[:20]}()"):
            return str(self._unwrap(self._invoke("blob-call", blob, name, arguments)))

    def module_call(self, name: str, arguments: str) -> str:
        """The module's own facts (version, constants) and pure functions
        (complete_statement): asked after `import sqlite3` was granted."""
        return str(self._unwrap(self._invoke("module-call", name, arguments)))

    def close(self, handle: int) -> None:
        if handle in self._open:
            self._open.discard(handle)
            self._unwrap(self._invoke("close", handle))

    def close_all(self) -> None:
        if self._store is not None:
            for handle in list(self._open):
                try:
                    self.close(handle)
                except ProviderError:
                    pass
        self._store = None
        self._funcs = {}
        shutil.rmtree(self._settings, ignore_errors=True)


def _record(**fields: Any) -> Any:
    from wasmtime.component import Record

    record = Record()
    for name, value in fields.items():
        setattr(record, name.replace("_", "-"), value)
    return record


def _reading(converters: list[str] | None = None, raw_text: bool = False) -> Any:
    return _record(converters=list(converters or []), raw_text=raw_text)
