"""Runs INSIDE the CPython guest as the `sqlite3` module when the plan serves the
sqlite cap with the provider component (pylon:cap/sqlite); the host checks the
grant on every call.

It keeps the DB-API of the stdlib module for what programs use: connect,
Connection (execute, executemany, executescript, cursor, commit, rollback,
close, in_transaction, total_changes-free context manager), Cursor (execute,
fetchone, fetchmany, fetchall, description, rowcount, lastrowid, iteration),
the exception hierarchy and `Row`-free tuples. Rows are fetched eagerly.
"""

import sys

from componentize_py_types import Err
from wit_world.imports import sqlite as _cap

import pylon_caps
import pylon_values

apilevel = "2.0"
paramstyle = "qmark"
threadsafety = 1
PARSE_DECLTYPES = 1
PARSE_COLNAMES = 2


class Warning(Exception):  # noqa: A001 - the DB-API name
    pass


class Error(Exception):
    pass


class InterfaceError(Error):
    pass


class DatabaseError(Error):
    pass


class DataError(DatabaseError):
    pass


class OperationalError(DatabaseError):
    pass


class IntegrityError(DatabaseError):
    pass


class InternalError(DatabaseError):
    pass


class ProgrammingError(DatabaseError):
    pass


class NotSupportedError(DatabaseError):
    pass


_ERRORS = {cls.__name__: cls for cls in (
    Warning, Error, InterfaceError, DatabaseError, DataError, OperationalError,
    IntegrityError, InternalError, ProgrammingError, NotSupportedError,
)}
_ERRORS.update({"ValueError": ValueError, "TypeError": TypeError, "OverflowError": OverflowError})


def _call(function, *args):
    try:
        return function(*args)
    except Err as err:
        failure = err.value
    # Raised outside the except block: see pylon_caps.call_provider.
    if failure.kind == "PermissionError":
        raise pylon_caps.CapPermissionError(failure.message)
    raise _ERRORS.get(failure.kind, OperationalError)(failure.message)


def _params(parameters):
    if parameters is None:
        return []
    if isinstance(parameters, dict):
        raise NotSupportedError("named parameters are not supported by the sqlite provider component")
    return [pylon_values.to_wire(p) for p in parameters]


class Cursor:
    def __init__(self, connection):
        self.connection = connection
        self.description = None
        self.rowcount = -1
        self.lastrowid = None
        self.arraysize = 1
        self._rows = []
        self._position = 0

    def _load(self, result):
        self._rows = pylon_values.rows_from_wire(result)
        self._position = 0
        self.rowcount = result.rowcount
        self.lastrowid = result.lastrowid
        self.description = (
            tuple((c.name, None, None, None, None, None, None) for c in result.columns)
            if result.columns
            else None
        )
        return self

    def execute(self, sql, parameters=()):
        handle = self.connection._handle_or_raise()
        return self._load(_call(_cap.execute, handle, sql, _params(parameters)))

    def executemany(self, sql, seq_of_parameters):
        handle = self.connection._handle_or_raise()
        rows = [_params(p) for p in seq_of_parameters]
        return self._load(_call(_cap.execute_many, handle, sql, rows))

    def executescript(self, script):
        _call(_cap.execute_script, self.connection._handle_or_raise(), script)
        return self

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchmany(self, size=None):
        size = self.arraysize if size is None else size
        rows = self._rows[self._position : self._position + size]
        self._position += len(rows)
        return rows

    def fetchall(self):
        rows = self._rows[self._position :]
        self._position = len(self._rows)
        return rows

    def close(self):
        self._rows = []

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row


class Connection:
    def __init__(self, database):
        database = str(database)
        if database.startswith("/"):
            # As the stdlib module does, for the fs cap's monitor; a relative
            # name lives in the provider's own /db, not in the guest's files.
            sys.audit("sqlite3.connect", database)
        self._handle = _call(_cap.open, database)

    def _handle_or_raise(self):
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return self._handle

    def cursor(self):
        return Cursor(self)

    def execute(self, sql, parameters=()):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, seq_of_parameters):
        return self.cursor().executemany(sql, seq_of_parameters)

    def executescript(self, script):
        return self.cursor().executescript(script)

    def commit(self):
        _call(_cap.commit, self._handle_or_raise())

    def rollback(self):
        _call(_cap.rollback, self._handle_or_raise())

    @property
    def in_transaction(self):
        return self._handle is not None and _cap.in_transaction(self._handle)

    def close(self):
        if self._handle is not None:
            _cap.close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # As the stdlib: commit on success, roll back on error; do not close.
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def connect(database, timeout=5.0, detect_types=0, isolation_level="", **kwargs):
    return Connection(database)


# Programs (and tracebacks) see the module they imported, not the shim's name.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        _value.__module__ = "sqlite3"
del _value


def __getattr__(name):
    # The provider's SQLite answers; asked on first use, not at import.
    if name in ("sqlite_version", "sqlite_version_info"):
        connection = Connection(":memory:")
        try:
            version = connection.execute("select sqlite_version()").fetchone()[0]
        finally:
            connection.close()
        globals()["sqlite_version"] = version
        globals()["sqlite_version_info"] = tuple(int(part) for part in version.split("."))
        return globals()[name]
    raise AttributeError(f"module 'sqlite3' has no attribute {name!r}")
