# Runs INSIDE the MicroPython guest as the `sqlite3` module, over the host bridge
# to the SQLite provider component (pylon:cap/sqlite) that also serves CPython.
# `_bridge` and `BridgeError` come from the session loop (pylon_boot.py).

apilevel = "2.0"
paramstyle = "qmark"


class Error(Exception):
    pass


class DatabaseError(Error):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


def _params(parameters):
    if isinstance(parameters, dict):
        raise NotSupportedError(
            "named parameters are not supported by the sqlite provider component; use ?"
        )
    return [_to_wire(p) for p in parameters]


_ERRORS = {
    "Error": Error,
    "DatabaseError": DatabaseError,
    "OperationalError": OperationalError,
    "IntegrityError": IntegrityError,
    "ProgrammingError": ProgrammingError,
}


def _call(name, *args):
    try:
        return _bridge(name, *args)
    except BridgeError as error:
        raise _ERRORS.get(error.kind, OperationalError)(error.message)


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
    raise ProgrammingError("unsupported parameter type")


def _from_wire(item):
    tag, payload = item
    if tag == "blob":
        return bytes.fromhex(payload)
    if tag == "big-integer":
        return int(payload)
    if tag == "tagged":
        return payload[1]
    return payload


class Cursor:
    def __init__(self, connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self._rows = []
        self._position = 0

    def _load(self, result):
        self._rows = [tuple(_from_wire(v) for v in row) for row in result["rows"]]
        self._position = 0
        self.rowcount = result["rowcount"]
        self.lastrowid = result["lastrowid"]
        columns = result["columns"]
        self.description = tuple((c[0], None, None, None, None, None, None) for c in columns) or None
        return self

    def execute(self, sql, parameters=()):
        handle = self.connection._live()
        return self._load(_call("sqlite.execute", handle, sql, _params(parameters)))

    def executemany(self, sql, seq_of_parameters):
        handle = self.connection._live()
        rows = [_params(row) for row in seq_of_parameters]
        return self._load(_call("sqlite.execute_many", handle, sql, rows))

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size=1):
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def __iter__(self):
        return iter(self.fetchall())


class Connection:
    def __init__(self, database):
        if database.startswith("/"):
            # A file of the guest's directories (the fs cap's monitor, as open()
            # reports files); a relative name lives in the provider's own /db.
            _note_file(database)
        self._handle = _call("sqlite.open", database)

    def _live(self):
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return self._handle

    def cursor(self):
        return Cursor(self)

    def execute(self, sql, parameters=()):
        return Cursor(self).execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        return Cursor(self).executemany(sql, seq_of_parameters)

    def executescript(self, script):
        _call("sqlite.execute_script", self._live(), script)

    def commit(self):
        _call("sqlite.commit", self._live())

    def rollback(self):
        _call("sqlite.rollback", self._live())

    @property
    def in_transaction(self):
        return self._handle is not None and _call("sqlite.in_transaction", self._handle)

    def close(self):
        if self._handle is not None:
            _call("sqlite.close", self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False


def connect(database, timeout=5.0):
    return Connection(database)
