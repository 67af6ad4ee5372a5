# Runs INSIDE the MicroPython guest as the `duckdb` module, over the host bridge
# to the same DuckDB provider the CPython guest uses (pylon:cap/duckdb).
# `_bridge`, `BridgeError` and `_stand_in` come from the session loop (pylon_boot.py).
# The connection, relation and exceptions are the DB-API core both guests
# share (pylon_dbapi); this is its wire: the bridge calls. Values are
# pylon_wire's JSON form, the format both guests share; dates and decimals
# arrive as text: MicroPython has no datetime or decimal module. Rows come a
# batch at a time (`duckdb.fetch`) as the reads need them: the host never
# holds all of them.

pylon_dbapi = _stand_in("pylon_dbapi")
pylon_wire = _stand_in("pylon_wire")

apilevel = "2.0"
paramstyle = "qmark"

_errors = pylon_dbapi.exceptions(
    "duckdb", pylon_dbapi.PEP249 + pylon_dbapi.DUCKDB, ("InterfaceError",)
)
globals().update(_errors)


def _call(name, *args):
    try:
        return _bridge(name, *args)
    except BridgeError as error:
        kind, message = error.kind, error.message
    exc = pylon_dbapi.error(_errors, kind, message, "duckdb")
    globals().setdefault(kind, type(exc))
    raise exc


class _Wire:
    # The bridge calls as the core's wire: Python values both ways.

    @staticmethod
    def connect(database, read_only):
        return _call("duckdb.connect", database, read_only)

    @staticmethod
    def execute(handle, query, parameters):
        params = [pylon_wire.to_json(p) for p in parameters]
        result = _call("duckdb.execute", handle, query, params)
        rows = pylon_wire.rows_from_json(result["rows"])
        return result["columns"], rows, result["rowcount"], result["more"]

    @staticmethod
    def fetch(handle, count):
        batch = _call("duckdb.fetch", handle, count)
        return pylon_wire.rows_from_json(batch["rows"]), batch["more"]

    @staticmethod
    def close(handle):
        _call("duckdb.close", handle)


class DuckDBPyConnection(pylon_dbapi.DuckDBConnection):
    _wire = _Wire
    _errors = _errors


DuckDBPyRelation = pylon_dbapi.DuckDBPyRelation
_module = pylon_dbapi.DuckDBModule(DuckDBPyConnection)
connect = _module.connect
default_connection = _module.default_connection
sql = query = _module.sql
execute = _module.execute
