"""Runs INSIDE the CPython guest as the `duckdb` module, over pylon:cap/duckdb.

It follows the duckdb package's Python API for what a sandboxed program needs:
`connect`, `execute`/`sql` with parameters, `fetchone`/`fetchmany`/`fetchall`,
`description`, several connections, context managers, and module-level
`duckdb.sql`/`duckdb.execute` on a default in-memory connection. Results are
fetched eagerly by the host provider.
"""

from componentize_py_types import Err
from wit_world.imports import duckdb as _cap

import pylon_caps
import pylon_values

__version__ = "pylon-cap"
apilevel = "2.0"
paramstyle = "qmark"


class Error(Exception):
    pass


class DatabaseError(Error):
    pass


class ProgrammingError(DatabaseError):
    pass


class ConnectionException(Error):
    pass


_errors = {
    "Error": Error,
    "DatabaseError": DatabaseError,
    "ProgrammingError": ProgrammingError,
    "ConnectionException": ConnectionException,
}


def _error(failure):
    if failure.kind == "PermissionError":
        return pylon_caps.CapPermissionError(failure.message)
    cls = _errors.get(failure.kind)
    if cls is None:
        cls = _errors[failure.kind] = type(failure.kind, (DatabaseError,), {"__module__": "duckdb"})
        globals()[failure.kind] = cls
    return cls(failure.message)


def _call(function, *args):
    try:
        return function(*args)
    except Err as err:
        raise _error(err.value) from None


class DuckDBPyConnection:
    def __init__(self, database=":memory:", read_only=False):
        self._handle = _call(_cap.connect, str(database), bool(read_only))
        self._rows = []
        self._position = 0
        self.description = None
        self.rowcount = -1

    def _ensure_open(self):
        if self._handle is None:
            raise ConnectionException("Connection already closed!")

    def execute(self, query, parameters=None):
        self._ensure_open()
        if isinstance(parameters, dict):
            # DuckDB's $name parameters need the names on the wire: not yet.
            raise NotImplementedError(
                "named parameters ($name with a dict) are not supported yet; use ? with a list"
            )
        params = [pylon_values.to_wire(p) for p in (parameters or [])]
        result = _call(_cap.execute, self._handle, query, params)
        self._rows = pylon_values.rows_from_wire(result)
        self._position = 0
        self.rowcount = result.rowcount
        self.description = (
            [(c.name, c.type_name, None, None, None, None, None) for c in result.columns]
            if result.columns
            else None
        )
        return self

    def executemany(self, query, parameters):
        for row in parameters:
            self.execute(query, row)
        return self

    def sql(self, query, params=None):
        return DuckDBPyRelation(self.execute(query, params))

    query = sql

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        row = self._rows[self._position]
        self._position += 1
        return row

    def fetchmany(self, size=1):
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def cursor(self):
        return self

    def close(self):
        if self._handle is not None:
            _cap.close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class DuckDBPyRelation:
    """What `sql()` returns: the result of the query, fetched like the package's relations."""

    def __init__(self, connection):
        self._rows = connection.fetchall()
        self.columns = [d[0] for d in (connection.description or [])]
        self.types = [d[1] for d in (connection.description or [])]
        self.description = connection.description

    def fetchall(self):
        return list(self._rows)

    def fetchone(self):
        return self._rows[0] if self._rows else None

    def fetchmany(self, size=1):
        return list(self._rows[:size])

    def show(self):
        print(self)

    def __len__(self):
        return len(self._rows)

    def __repr__(self):
        lines = [" | ".join(self.columns)]
        lines += [" | ".join(str(v) for v in row) for row in self._rows]
        return "\n".join(lines)


_default = None


def connect(database=":memory:", read_only=False, config=None):
    return DuckDBPyConnection(database, read_only)


def default_connection():
    global _default
    if _default is None:
        _default = DuckDBPyConnection()
    return _default


def sql(query, params=None):
    return default_connection().sql(query, params)


query = sql


def execute(query, parameters=None):
    return default_connection().execute(query, parameters)


# Programs (and tracebacks) see the module they imported, not the shim's name.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        _value.__module__ = "duckdb"
del _value
