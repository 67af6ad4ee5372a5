"""The duckdb cap's host provider, on the `duckdb` package.

Every call checks the live grants (boundary enforcement). Each connection is
confined before the guest sees it: `allowed_directories` holds only the plan's
writable preopens (DuckDB has no read-only notion, so a read-only preopen
stays out of its reach rather than becoming writable), external access and
extension install/load are off, and the configuration is locked so SQL cannot
turn any of it back on. Guest paths in SQL literals are mapped to host paths.
"""

from __future__ import annotations

import re
import stat
import threading
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.grants import CapCallEvent, CapDenied, Grants
from pylon_shell.caps.guestfs import GuestFS, PathRefused
from pylon_shell.caps.values import ProviderError, ResultSet, handle_counter, sql_summary

if TYPE_CHECKING:
    from pylon_shell.caps.registry import ProviderSetup

CAP = "duckdb"
MEMORY = (":memory:", "")
#: What DuckDB creates beside a database file: none of them may be a planted link.
DATABASE_SIDECARS = (".wal", ".wal.checkpoint", ".wal.recovery", ".tmp")
#: The file DuckDB names in its "Cannot access file" permission errors.
_QUOTED_PATH = re.compile(r'file "([^"]+)"')
#: The most rows one batch carries to the guest (execute's first, or a fetch).
BATCH_ROWS = 2048
#: About the most bytes of values one batch carries, as the MicroPython bridge
#: encodes them (JSON, blobs in hex, non-ASCII escaped): half its 8 MiB reply.
BATCH_BYTES = 4 << 20
#: Rows read from DuckDB at a time when a column's values vary in size: the
#: most a batch can read past its byte bound (kept for the next batch).
_READ_ROWS = 64
#: What one value of a fixed-size type costs a batch: plain numbers, and the
#: rest (dates, times, decimals, uuids, hugeints) as their text.
_NUMBER_BYTES = 24
_FIXED_BYTES = 64
_NUMBERS = frozenset(
    ("BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "FLOAT", "DOUBLE")
    + ("UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")
)
_FIXED = re.compile(
    r"(HUGEINT|UHUGEINT|DATE|TIME|TIMESTAMP(_S|_MS|_NS)?|TIMESTAMP WITH TIME ZONE"
    r"|TIME WITH TIME ZONE|INTERVAL|UUID|DECIMAL\(\d+,\d+\))"
)


class DuckDBProvider:
    def __init__(self, grants: Grants, fs: GuestFS, memory_mib: int | None = None) -> None:
        self._grants = grants
        self._fs = fs
        #: --memory bounds what the guest can make DuckDB hold for it too.
        self._memory_mib = memory_mib
        self._connections: dict[int, Any] = {}
        #: The unfetched rest of each connection's last statement, if it has rows.
        self._pending: dict[int, _Pending] = {}
        self._ids = handle_counter()
        self._lock = threading.Lock()

    def connect(self, database: str, read_only: bool) -> int:
        with self._grants.call(CAP, "connect", database or ":memory:"):
            connection = self._open(database, read_only)
        with self._lock:
            handle = next(self._ids)
            self._connections[handle] = connection
        return handle

    def _used(self, path: str) -> None:
        """DuckDB reaches a file of a granted directory: an fs hit."""
        self._grants.publish(CapCallEvent("fs", "duckdb", path, True))

    def _database_file(self, database: str, read_only: bool) -> str:
        """The real host path of a database file, resolved beneath its grant.

        DuckDB opens the file (and creates `.wal`, `.wal.checkpoint`,
        `.wal.recovery` and the `.tmp` directory beside it) by host path,
        following links, and its `allowed_directories` does not cover the
        database itself: a link the guest made in a writable grant, as the
        file or any directory above it, would lead DuckDB outside every grant.
        """
        found = self._fs.covering(database) if database.startswith("/") else None
        if found is not None and found[0].readonly and not read_only:
            raise PathRefused(
                f"{database} is in {found[0].guest}, which this plan grants read-only: "
                "open it with duckdb.connect(..., read_only=True)"
            )
        host = self._fs.resolve(
            database, cap=CAP, write=not read_only, siblings=DATABASE_SIDECARS
        )
        if host.status is not None and not stat.S_ISREG(host.status.st_mode):
            raise ProviderError("IOException", f'IO Error: "{database}" is not a database file')
        if read_only and not host.exists:
            raise ProviderError(
                "IOException",
                f'IO Error: Cannot open database "{database}" in read-only mode: '
                "database does not exist",
            )
        self._used(database)
        return str(host.host)

    def _open(self, database: str, read_only: bool) -> Any:
        import duckdb

        if database in MEMORY:
            target = ":memory:"
        else:
            target = self._database_file(database, read_only)
        try:
            connection = duckdb.connect(
                target,
                read_only=read_only,
                config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
            )
            roots = ", ".join(
                "'" + str(r).replace("'", "''") + "/'" for r in self._fs.writable_roots()
            )
            connection.execute(f"SET allowed_directories = [{roots}]")
            if self._memory_mib is not None:
                connection.execute(f"SET memory_limit = '{int(self._memory_mib)}MiB'")
            # No spilling: DuckDB would write its temporary files under the
            # launcher's working directory, outside every granted directory.
            connection.execute("SET temp_directory = ''")
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
        except duckdb.Error as error:
            raise _failure(error) from None
        return connection

    def _connection(self, handle: int) -> Any:
        with self._lock:
            connection = self._connections.get(handle)
        if connection is None:
            raise ProviderError("ConnectionException", "Connection already closed!")
        return connection

    def execute(self, handle: int, sql: str, parameters: list[Any]) -> tuple[ResultSet, bool]:
        """Run one statement: its columns, rowcount and first batch of rows, and
        whether more rows wait for `fetch`. DuckDB keeps the rest as its own
        streaming result on the connection, so the host never holds more than a
        batch; a new execute on the connection discards what was not fetched,
        as DuckDB's own `execute` does."""
        import duckdb

        connection = self._connection(handle)
        with self._lock:
            self._pending.pop(handle, None)
        with self._grants.call(CAP, "execute", sql_summary(sql)) as how:
            try:
                connection.execute(self._fs.rewrite_sql(sql, self._used), parameters or None)
                description = connection.description or []
                columns = [(str(d[0]), str(d[1])) for d in description]
                rows: list[tuple[Any, ...]] = []
                more = False
                if description:
                    pending = _Pending(connection, [t for _, t in columns], how)
                    rows, more = pending.batch(BATCH_ROWS)
                    if more:
                        with self._lock:
                            self._pending[handle] = pending
            except duckdb.Error as error:
                raise _failure(error) from None
        return ResultSet(columns, rows, connection.rowcount), more

    def fetch(self, handle: int, max_rows: int) -> tuple[list[tuple[Any, ...]], bool]:
        """The next batch of the last statement's rows (at most `max_rows`, and
        at most BATCH_ROWS rows and about BATCH_BYTES of values), and whether more
        follow. Once the rows are all fetched (or a new statement ran) it is
        ([], False). A revoke applies here too (DuckDB computes the rows as they
        are fetched); a fetch is not published, as a stream of reads would
        flood the monitor."""
        import duckdb

        self._connection(handle)
        with self._lock:
            pending = self._pending.get(handle)
        if pending is None:
            return [], False
        if not self._grants.still_allows(CAP, "", pending.decided_by):
            raise CapDenied(self._grants.denial(CAP, "fetch", ""))
        try:
            rows, more = pending.batch(max(1, min(int(max_rows), BATCH_ROWS)))
        except duckdb.Error as error:
            with self._lock:
                self._pending.pop(handle, None)
            raise _failure(error) from None
        if not more:
            with self._lock:
                if self._pending.get(handle) is pending:
                    del self._pending[handle]
        return rows, more

    def close(self, handle: int) -> None:
        with self._lock:
            connection = self._connections.pop(handle, None)
            self._pending.pop(handle, None)
        if connection is not None:
            connection.close()

    def close_all(self) -> None:
        for handle in list(self._connections):
            self.close(handle)


class _Pending:
    """The unfetched rows of one statement: DuckDB's own result on the
    connection (its `fetchmany` streams), and the rows of the last read that
    did not fit the previous batch.

    A batch is bounded by rows and by bytes. Columns of fixed-size types cost a
    constant a row, so a table of only those is read in one `fetchmany`; the
    values of the other columns (text, blobs, nested types) are measured, in
    reads of _READ_ROWS rows so that a batch stops near its byte bound."""

    def __init__(self, connection: Any, types: list[str], decided_by: str) -> None:
        self._connection = connection
        #: How the execute was allowed (Grants.still_allows decides the fetches).
        self.decided_by = decided_by
        self._fixed = sum(_value_bytes(t) for t in types)
        #: The columns whose values are measured one by one.
        self._measured = [i for i, t in enumerate(types) if _value_bytes(t) == 0]
        self._carry: list[tuple[Any, ...]] = []
        self._exhausted = False

    def batch(self, max_rows: int) -> tuple[list[tuple[Any, ...]], bool]:
        """At most `max_rows` rows and about BATCH_BYTES, at least one row if any
        is left; and whether rows are left after them."""
        limit = max(1, min(max_rows, BATCH_BYTES // max(self._fixed, 1)))
        if not self._measured:
            return self._take(limit), self._left()
        rows: list[tuple[Any, ...]] = []
        size = 0
        while len(rows) < limit and size < BATCH_BYTES:
            chunk = self._take(min(_READ_ROWS, limit - len(rows)))
            if not chunk:
                break
            for index, row in enumerate(chunk):
                if rows and size >= BATCH_BYTES:
                    self._carry = chunk[index:] + self._carry
                    break
                size += self._fixed + sum(_measure(row[i]) for i in self._measured)
                rows.append(row)
        return rows, self._left()

    def _take(self, count: int) -> list[tuple[Any, ...]]:
        """`count` rows (fewer at the end): the carried ones first, then DuckDB's."""
        rows = self._carry[:count]
        del self._carry[:count]
        if len(rows) < count and not self._exhausted:
            read = self._connection.fetchmany(count - len(rows))
            self._exhausted = len(read) < count - len(rows)
            rows += read
        return rows

    def _left(self) -> bool:
        """Whether rows may be left. A read that filled exactly cannot tell, so
        the next batch may be empty (the guest then sees the end)."""
        return bool(self._carry) or not self._exhausted


def _value_bytes(type_name: str) -> int:
    """What a value of `type_name` costs a batch, or 0 when it must be measured."""
    if type_name in _NUMBERS:
        return _NUMBER_BYTES
    return _FIXED_BYTES if _FIXED.fullmatch(type_name) else 0


def _measure(value: Any) -> int:
    """About the bytes `value` takes as the bridge encodes it (see BATCH_BYTES)."""
    if value is None:
        return 8
    if isinstance(value, str):
        return 16 + (len(value) if value.isascii() else 6 * len(value))
    if isinstance(value, (bytes, bytearray)):
        return 16 + 2 * len(value)
    if isinstance(value, (int, float)):
        return _NUMBER_BYTES
    # Lists, structs and maps travel as JSON text (values.encode).
    return 16 + 6 * len(str(value))


def _failure(error: Exception) -> ProviderError:
    import duckdb

    if isinstance(error, duckdb.PermissionException):
        path = _QUOTED_PATH.search(str(error))
        if path is not None:
            return ProviderError(
                "PermissionError",
                f"the duckdb cap may not reach {path.group(1)}: it is outside the writable "
                "directories this plan grants (grant one with --dir HOST:GUEST)",
            )
        return ProviderError(
            "PermissionError",
            f"the duckdb cap refused: {error} (extensions, network and settings are locked)",
        )
    return ProviderError(type(error).__name__, str(error))


def make(grants: Grants, setup: ProviderSetup) -> DuckDBProvider:
    """The provider process's DuckDB provider: its files within the plan's directories."""
    return DuckDBProvider(grants, GuestFS(setup.preopens), setup.memory_mib)
