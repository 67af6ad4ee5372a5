# Runs INSIDE the MicroPython guest as the `duckdb` module, over the host bridge
# to the same DuckDB provider the CPython guest uses (pylon:cap/duckdb).
# `_bridge`, `BridgeError` and `_stand_in` come from the session loop (pylon_boot.py).
# The connection, relation and exceptions are the DB-API core both guests
# share (pylon_dbapi); this is its wire: the bridge calls and their JSON values.
# Values the plain JSON cases cannot carry (dates, decimals) arrive as text:
# MicroPython has no datetime or decimal module. Rows come a batch at a time
# (`duckdb.fetch`) as the reads need them: the host never holds all of them.

pylon_dbapi = _stand_in("pylon_dbapi")

apilevel = "2.0"
paramstyle = "qmark"

_errors = pylon_dbapi.exceptions("duckdb", pylon_dbapi.PEP249 + pylon_dbapi.DUCKDB, ("InterfaceError",))
globals().update(_errors)


def _call(name, *args):
    try:
        return _bridge(name, *args)
    except BridgeError as error:
        kind, message = error.kind, error.message
    exc = pylon_dbapi.error(_errors, kind, message, "duckdb")
    globals().setdefault(kind, type(exc))
    raise exc


def _to_wire(value):
    if value is None:
        return ["null", None]
    if isinstance(value, bool):
        return ["boolean", value]
    if isinstance(value, int):
        return ["integer", value]
    if isinstance(value, float):
        return ["real", value]
    if isinstance(value, str):
        return ["text", value]
    if isinstance(value, (bytes, bytearray)):
        return ["blob", "".join("%02x" % b for b in value)]
    raise TypeError("unsupported parameter type")


def _from_wire(item):
    tag, payload = item
    if tag == "blob":
        return bytes.fromhex(payload)
    if tag == "big-integer":
        return int(payload)
    if tag == "tagged":
        return payload[1]
    return payload


def _rows(rows):
    return [tuple(_from_wire(v) for v in row) for row in rows]


class _Wire:
    # The bridge calls as the core's wire: Python values both ways.

    @staticmethod
    def connect(database, read_only):
        return _call("duckdb.connect", database, read_only)

    @staticmethod
    def execute(handle, query, parameters):
        result = _call("duckdb.execute", handle, query, [_to_wire(p) for p in parameters])
        return result["columns"], _rows(result["rows"]), result["rowcount"], result["more"]

    @staticmethod
    def fetch(handle, count):
        batch = _call("duckdb.fetch", handle, count)
        return _rows(batch["rows"]), batch["more"]

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
