# Runs INSIDE the MicroPython guest as the `duckdb` module, over the host bridge
# to the same DuckDB provider the CPython guest uses (pylon:cap/duckdb).
# `_bridge` and `BridgeError` come from the session loop (pylon_boot.py).
# Values the plain JSON cases cannot carry (dates, decimals) arrive as text:
# MicroPython has no datetime or decimal module. Rows come a batch at a time
# (`duckdb.fetch`) as the reads need them: the host never holds all of them.

# Rows asked for a fetch; the host bounds a batch by rows and bytes as well.
_BATCH = 4096


class Error(Exception):
    pass


class DatabaseError(Error):
    pass


class ProgrammingError(DatabaseError):
    pass


class ConnectionException(Error):
    pass


# DuckDB's own exception classes (CatalogException, ParserException, ...) are
# made on first sight, named as DuckDB names them, so `except duckdb.Error`
# and the traceback's class name both match CPython's duckdb.
_errors = {
    "Error": Error,
    "DatabaseError": DatabaseError,
    "ProgrammingError": ProgrammingError,
    "ConnectionException": ConnectionException,
}


def _error(kind, message):
    cls = _errors.get(kind)
    if cls is None:
        cls = _errors[kind] = type(kind, (DatabaseError,), {})
        globals()[kind] = cls
    return cls(message)


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


def _call(name, *args):
    try:
        return _bridge(name, *args)
    except BridgeError as error:
        raise _error(error.kind, error.message)


class DuckDBPyConnection:
    def __init__(self, database=":memory:", read_only=False):
        self._handle = _call("duckdb.connect", database, read_only)
        self._rows = []
        self._position = 0
        self._more = False
        self.description = None
        self.rowcount = -1

    def execute(self, query, parameters=None):
        if self._handle is None:
            raise Error("Connection already closed!")
        if isinstance(parameters, dict):
            # DuckDB's $name parameters need the names on the wire: not yet.
            raise NotImplementedError(
                "named parameters ($name with a dict) are not supported yet; use ? with a list"
            )
        params = [_to_wire(p) for p in (parameters or [])]
        result = _call("duckdb.execute", self._handle, query, params)
        self._rows = [tuple(_from_wire(v) for v in row) for row in result["rows"]]
        self._position = 0
        self._more = result["more"]
        self.rowcount = result["rowcount"]
        columns = result["columns"]
        self.description = [(c[0], c[1], None, None, None, None, None) for c in columns] or None
        return self

    def sql(self, query, params=None):
        return self.execute(query, params)

    def _ready(self):
        # Whether a row is in hand, fetching the next batch if need be.
        while self._position >= len(self._rows):
            if not self._more:
                return False
            if self._handle is None:
                raise Error("Connection already closed!")
            batch = _call("duckdb.fetch", self._handle, _BATCH)
            self._rows = [tuple(_from_wire(v) for v in row) for row in batch["rows"]]
            self._position = 0
            self._more = batch["more"]
        return True

    def fetchone(self):
        if not self._ready():
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size=1):
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

    def close(self):
        if self._handle is not None:
            _call("duckdb.close", self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def connect(database=":memory:", read_only=False):
    return DuckDBPyConnection(database, read_only)


_default = []


def sql(query, params=None):
    if not _default:
        _default.append(DuckDBPyConnection())
    return _default[0].sql(query, params)


execute = sql
