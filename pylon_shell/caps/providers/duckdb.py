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
from typing import Any

from pylon_shell.caps.grants import CapCallEvent, Grants
from pylon_shell.caps.guestfs import GuestFS, PathRefused
from pylon_shell.caps.values import ProviderError, ResultSet, handle_counter, sql_summary

CAP = "duckdb"
MEMORY = (":memory:", "")
#: What DuckDB creates beside a database file: none of them may be a planted link.
DATABASE_SIDECARS = (".wal", ".wal.checkpoint", ".wal.recovery", ".tmp")
#: The file DuckDB names in its "Cannot access file" permission errors.
_QUOTED_PATH = re.compile(r'file "([^"]+)"')


class DuckDBProvider:
    def __init__(self, grants: Grants, fs: GuestFS, memory_mib: int | None = None) -> None:
        self._grants = grants
        self._fs = fs
        #: --memory bounds what the guest can make DuckDB hold for it too.
        self._memory_mib = memory_mib
        self._connections: dict[int, Any] = {}
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

    def execute(self, handle: int, sql: str, parameters: list[Any]) -> ResultSet:
        import duckdb

        connection = self._connection(handle)
        with self._grants.call(CAP, "execute", sql_summary(sql)):
            try:
                connection.execute(self._fs.rewrite_sql(sql, self._used), parameters or None)
                description = connection.description or []
                rows = connection.fetchall() if description else []
            except duckdb.Error as error:
                raise _failure(error) from None
        columns = [(str(d[0]), str(d[1])) for d in description]
        return ResultSet(columns, rows, connection.rowcount)

    def close(self, handle: int) -> None:
        with self._lock:
            connection = self._connections.pop(handle, None)
        if connection is not None:
            connection.close()

    def interrupt_all(self) -> None:
        """Stop every running query (it fails with DuckDB's interrupt error)."""
        with self._lock:
            connections = list(self._connections.values())
        for connection in connections:
            connection.interrupt()

    def close_all(self) -> None:
        for handle in list(self._connections):
            self.close(handle)


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
