"""Runs INSIDE the CPython guest as the `duckdb` module, over pylon:cap/duckdb.

It follows the duckdb package's Python API for what a sandboxed program needs:
`connect`, `execute`/`sql` with parameters, `fetchone`/`fetchmany`/`fetchall`,
`description`, several connections, context managers, and module-level
`duckdb.sql`/`duckdb.execute` on a default in-memory connection. Rows come from
the host a batch at a time, as the reads need them: the host keeps DuckDB's
streaming result, never all rows.
"""

import weakref

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
        failure = err.value
    raise _error(failure)  # outside the except: see pylon_caps.call_provider


#: Rows asked for a fetch; the host bounds a batch by rows and bytes as well.
_BATCH = 4096


def _rows(wire_rows):
    from_wire = pylon_values.from_wire
    return [tuple(from_wire(v) for v in row) for row in wire_rows]


class _Result:
    """The rows of one statement as they are read: the batch in hand, and
    whether the host holds more (fetched when a read reaches the batch's end)."""

    def __init__(self, handle, rows, more):
        self._handle = handle
        self._rows = rows
        self._position = 0
        self._more = more

    def _ready(self):
        """Whether a row is in hand, fetching the next batch if need be."""
        while self._position >= len(self._rows):
            if not self._more:
                return False
            rows, self._more = _call(_cap.fetch, self._handle, _BATCH)
            self._rows = _rows(rows)
            self._position = 0
        return True

    def fetchone(self):
        if not self._ready():
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size):
        rows = []
        while len(rows) < size and self._ready():
            end = self._position + size - len(rows)
            rows += self._rows[self._position : end]
            self._position = min(end, len(self._rows))
        return rows

    def fetchall(self):
        rows = []
        while self._ready():
            rows += self._rows[self._position :] if self._position else self._rows
            self._position = len(self._rows)
        return rows


_NO_ROWS = _Result(None, [], False)


class DuckDBPyConnection:
    def __init__(self, database=":memory:", read_only=False):
        self._handle = _call(_cap.connect, str(database), bool(read_only))
        self._result = _NO_ROWS
        #: The relation reading this connection's last result, if it still lives.
        self._relation = None
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
        self._settle()
        result, more = _call(_cap.execute, self._handle, query, params)
        self._result = _Result(self._handle, pylon_values.rows_from_wire(result), more)
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

    def _settle(self):
        """Before the host discards this connection's pending rows (a new
        statement, close): a relation still reading them takes them all, so a
        relation keeps its whole result as the package's does."""
        relation = self._relation() if self._relation is not None else None
        self._relation = None
        if relation is not None:
            relation._take_all()

    def _lend(self, relation):
        """Hand the last result to `relation`; the connection's own fetches see no rows."""
        result, self._result = self._result, _NO_ROWS
        self._relation = weakref.ref(relation)
        return result

    def fetchone(self):
        self._ensure_open()
        return self._result.fetchone()

    def fetchmany(self, size=1):
        self._ensure_open()
        return self._result.fetchmany(size)

    def fetchall(self):
        self._ensure_open()
        return self._result.fetchall()

    def cursor(self):
        return self

    def close(self):
        if self._handle is not None:
            self._settle()
            self._result = _NO_ROWS
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
    """What `sql()` returns: the result of the query, which every fetch reads
    from its start. Its rows are read from the host as far as a fetch needs
    them and kept; the connection hands over the rest before it runs another
    statement or closes, so the relation always has its whole result."""

    def __init__(self, connection):
        #: Keeps the connection open while the relation may still read from it.
        self._connection = connection
        self._result = connection._lend(self)
        self._rows = []
        self.columns = [d[0] for d in (connection.description or [])]
        self.types = [d[1] for d in (connection.description or [])]
        self.description = connection.description

    def _take(self, count):
        """The first `count` rows, reading from the host what is not yet here."""
        while self._result is not None and len(self._rows) < count:
            wanted = count - len(self._rows)
            rows = self._result.fetchmany(wanted)
            self._rows += rows
            if len(rows) < wanted:
                self._result = None
        return self._rows[:count]

    def _take_all(self):
        if self._result is not None:
            self._rows += self._result.fetchall()
            self._result = None
        return self._rows

    def fetchall(self):
        return list(self._take_all())

    def fetchone(self):
        rows = self._take(1)
        return rows[0] if rows else None

    def fetchmany(self, size=1):
        return self._take(size)

    def show(self):
        print(self)

    def __len__(self):
        return len(self._take_all())

    def __repr__(self):
        lines = [" | ".join(self.columns)]
        lines += [" | ".join(str(v) for v in row) for row in self._take_all()]
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


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
pylon_caps.declare_signatures(
    "duckdb",
    {
        "connect": ("string", "bool"),
        "execute": ("u32", "string", ("list", "value")),
        "fetch": ("u32", "u32"),
        "close": ("u32",),
    },
)
