# Runs INSIDE the MicroPython guest as the `sqlite3` module, over the host bridge
# to the SQLite provider component (pylon:cap/sqlite) that also serves CPython.
# `_bridge` and `BridgeError` come from the session loop (pylon_boot.py).
# Rows come in batches (a cursor fetches FETCH rows a call), executemany sends
# its rows in batches of BATCH; values travel as the provider's JSON.

import ubinascii

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


#: Rows per bridge call: executemany's batches and fetches while iterating.
BATCH = 10000
FETCH = 256


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
    "NotSupportedError": NotSupportedError,
}


def _call(name, *args):
    try:
        return _bridge(name, *args)
    except BridgeError as error:
        # The kind may go on with SQLite's error code and name (pylon:cap/types failure).
        kind = error.kind.split(" ")[0]
        raise _ERRORS.get(kind, OperationalError)(error.message)


def _to_wire(value):
    # The provider's packed values: JSON, a blob as {"\0b": base64}.
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray)):
        return {"\x00b": ubinascii.b2a_base64(value).decode().strip()}
    raise ProgrammingError("unsupported parameter type")


def _from_wire(value):
    if isinstance(value, dict):
        data = value.get("\x00b")
        if data is None:
            data = value.get("\x00t", "")
            return ubinascii.a2b_base64(data).decode()
        return ubinascii.a2b_base64(data)
    return value


def _rows(rows):
    return [tuple(_from_wire(v) for v in row) for row in rows]


class Cursor:
    def __init__(self, connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self._handle = None
        self._rows = []
        self._position = 0
        self._more = False

    def _live(self):
        connection = self.connection._live()
        if self._handle is None:
            self._handle = _call("sqlite.cursor", connection)
        return self._handle

    def _load(self, result):
        self._rows = _rows(result["rows"])
        self._position = 0
        self._more = result["more"]
        self.rowcount = result["rowcount"]
        self.lastrowid = result["lastrowid"]
        columns = result["columns"]
        self.description = tuple((c, None, None, None, None, None, None) for c in columns) or None
        return self

    def execute(self, sql, parameters=()):
        handle = self._live()
        return self._load(_call("sqlite.execute", handle, sql, _params(parameters), 1))

    def executemany(self, sql, seq_of_parameters):
        # In batches of BATCH rows, each one bridge call.
        handle = self._live()
        total = 0
        batch = []
        result = None
        for row in seq_of_parameters:
            batch.append(_params(row))
            if len(batch) >= BATCH:
                result = _call("sqlite.execute_many", handle, sql, batch)
                total += max(result["rowcount"], 0)
                batch = []
        if batch or result is None:
            result = _call("sqlite.execute_many", handle, sql, batch)
            total += max(result["rowcount"], 0)
        self._load(result)
        self.rowcount = total
        return self

    def _fill(self):
        if self._position >= len(self._rows) and self._more:
            reply = _call("sqlite.fetch", self._handle, FETCH)
            self._rows = _rows(reply["rows"])
            self._position = 0
            self._more = reply["more"]

    def fetchone(self):
        self._fill()
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size=1):
        rows = []
        while len(rows) < size:
            row = self.fetchone()
            if row is None:
                break
            rows.append(row)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._rows = []
        self._position = 0
        while self._more:
            reply = _call("sqlite.fetch", self._handle, 1 << 20)
            rows.extend(_rows(reply["rows"]))
            self._more = reply["more"]
        return rows

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row


class Connection:
    def __init__(self, database, timeout=5.0):
        if database.startswith("/"):
            # A file of the guest's directories (the fs cap's monitor, as open()
            # reports files); a relative name lives in the provider's own /db.
            _note_file(database)
        self._handle = _call("sqlite.open", database, float(timeout))
        self._cursor = None

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
        if self._cursor is None:
            self._cursor = Cursor(self)
        _call("sqlite.execute_script", self._cursor._live(), script)

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
    return Connection(database, timeout)
