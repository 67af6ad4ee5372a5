"""The SQLite provider component: runs INSIDE its own wasm instance, exporting
pylon:cap/sqlite with its interpreter's own sqlite3 module.

It sees only its database directory (/db) and the directories the plan grants
to the guest, preopened at the same guest paths, so `sqlite3.connect('/data/x.db')`
means the same file for the guest and here. Relative names and :memory: live in
/db. Every call reaches it through the host, which checks the grant first.
"""

import os
import sqlite3

import pylon_values
import wit_world
import wit_world.exports
from componentize_py_types import Err
from wit_world.imports import types as wire

DB_DIR = "/db"
_connections = {}
_next = [1]


def _failure(exc):
    return Err(wire.Failure(kind=type(exc).__name__, message=str(exc)))


def _path(database):
    if database in (":memory:", "") or database.startswith("file:"):
        return database or ":memory:"
    return database if database.startswith("/") else os.path.join(DB_DIR, database)


def _connection(handle):
    try:
        return _connections[handle]
    except KeyError:
        raise Err(wire.Failure(kind="ProgrammingError", message="Cannot operate on a closed database.")) from None


def _result(cursor):
    description = cursor.description or []
    rows = cursor.fetchall() if description else []
    return wire.ResultSet(
        columns=[wire.Column(name=d[0], type_name="") for d in description],
        rows=[[pylon_values.to_wire(v) for v in row] for row in rows],
        rowcount=cursor.rowcount,
        lastrowid=cursor.lastrowid,
    )


class Sqlite(wit_world.exports.Sqlite):
    def open(self, database):
        try:
            connection = sqlite3.connect(_path(database), uri=database.startswith("file:"))
        except sqlite3.Error as exc:
            raise _failure(exc) from None
        handle = _next[0]
        _next[0] += 1
        _connections[handle] = connection
        return handle

    def execute(self, connection, sql, parameters):
        db = _connection(connection)
        try:
            return _result(db.execute(sql, [pylon_values.from_wire(p) for p in parameters]))
        except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
            raise _failure(exc) from None

    def execute_many(self, connection, sql, rows):
        db = _connection(connection)
        try:
            decoded = [[pylon_values.from_wire(p) for p in row] for row in rows]
            return _result(db.executemany(sql, decoded))
        except (sqlite3.Error, ValueError, TypeError, OverflowError) as exc:
            raise _failure(exc) from None

    def execute_script(self, connection, script):
        db = _connection(connection)
        try:
            db.executescript(script)
        except sqlite3.Error as exc:
            raise _failure(exc) from None

    def commit(self, connection):
        try:
            _connection(connection).commit()
        except sqlite3.Error as exc:
            raise _failure(exc) from None

    def rollback(self, connection):
        try:
            _connection(connection).rollback()
        except sqlite3.Error as exc:
            raise _failure(exc) from None

    def in_transaction(self, connection):
        db = _connections.get(connection)
        return bool(db is not None and db.in_transaction)

    def close(self, connection):
        db = _connections.pop(connection, None)
        if db is not None:
            db.close()
