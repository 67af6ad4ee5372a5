"""Runs INSIDE the CPython guest as the `duckdb` module, over pylon:cap/duckdb.

It follows the duckdb package's Python API for what a sandboxed program needs:
`connect`, `execute`/`sql` with parameters, `fetchone`/`fetchmany`/`fetchall`,
`description`, several connections, context managers, and module-level
`duckdb.sql`/`duckdb.execute` on a default in-memory connection. The
connection, relation and exceptions are the DB-API core both guests share
(pylon_dbapi); this module is its wire: the WIT calls and values. Rows come
from the host a batch at a time, as the reads need them: the host keeps
DuckDB's streaming result, never all rows.
"""

from componentize_py_types import Err
from wit_world.imports import duckdb as _cap

import pylon_caps
import pylon_dbapi
import pylon_values

__version__ = "pylon-cap"
apilevel = "2.0"
paramstyle = "qmark"

_errors = pylon_dbapi.exceptions(
    "duckdb", pylon_dbapi.PEP249 + pylon_dbapi.DUCKDB, ("InterfaceError",)
)
globals().update(_errors)


def _call(function, *args):
    try:
        return function(*args)
    except Err as err:
        failure = err.value
    # Outside the except: see pylon_caps.call_provider.
    if failure.kind == "PermissionError":
        raise pylon_caps.CapPermissionError(failure.message)
    exc = pylon_dbapi.error(_errors, failure.kind, failure.message, "duckdb")
    globals().setdefault(failure.kind, type(exc))
    raise exc


def _rows(wire_rows):
    from_wire = pylon_values.from_wire
    return [tuple(from_wire(v) for v in row) for row in wire_rows]


class _Wire:
    """pylon:cap/duckdb as the core's wire: Python values both ways."""

    @staticmethod
    def connect(database, read_only):
        return _call(_cap.connect, database, read_only)

    @staticmethod
    def execute(handle, query, parameters):
        params = [pylon_values.to_wire(p) for p in parameters]
        result, more = _call(_cap.execute, handle, query, params)
        columns = [(c.name, c.type_name) for c in result.columns]
        return columns, pylon_values.rows_from_wire(result), result.rowcount, more

    @staticmethod
    def fetch(handle, count):
        rows, more = _call(_cap.fetch, handle, count)
        return _rows(rows), more

    @staticmethod
    def close(handle):
        _cap.close(handle)


class DuckDBPyConnection(pylon_dbapi.DuckDBConnection):
    _wire = _Wire
    _errors = _errors


DuckDBPyRelation = pylon_dbapi.DuckDBPyRelation
_module = pylon_dbapi.DuckDBModule(DuckDBPyConnection)
connect = _module.connect
default_connection = _module.default_connection
sql = query = _module.sql
execute = _module.execute


# Programs (and tracebacks) see the module they imported, not the shim's name.
for _value in (DuckDBPyConnection, DuckDBPyRelation):
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
