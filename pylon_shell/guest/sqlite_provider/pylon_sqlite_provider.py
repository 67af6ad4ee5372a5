"""The SQLite provider component: runs INSIDE its own wasm instance, exporting
pylon:cap/sqlite with its interpreter's own sqlite3 module.

It sees only its database directory (/db) and the directories the plan grants
to the guest, preopened at the same guest paths, so `sqlite3.connect('/data/x.db')`
means the same file for the guest and here. Relative names and :memory: live in
/db. Every call reaches it through the host, which checks the grant first.

/db is the user's own storage, shared by every session, and needs no fs grant,
so it has a size quota (bytes, from the host in /.pylon-sqlite/quota) that the
guest cannot lift: before every call on a database in /db, its max_page_count
is set to what the quota leaves (every file in /db counts: databases, journals),
so growing past it fails as SQLite fails on a full disk ("database or disk is
full"). The authorizer refuses what would get around that: setting
max_page_count or page_size, WAL (its log grows apart from the page count) on
a database in /db, and ATTACH or VACUUM INTO of a file in /db (a schema the
budget would not cover). The host checks the directory's size as well.
"""

import os
import sqlite3

import pylon_values
import wit_world
import wit_world.exports
from componentize_py_types import Err
from wit_world.imports import types as wire

DB_DIR = "/db"
#: The quota in bytes, read from the host's settings at first use (this module
#: is initialised at build time, so neither a constant nor os.environ would do);
#: 64 MiB if the host sent none.
_quota = []
_connections = {}
#: The main database file of each connection whose main database is in /db.
_quota_bound = {}
_next = [1]
#: True while the provider itself sets a pragma the authorizer refuses the guest.
_internal = [False]
#: Why the authorizer last refused, to say so instead of SQLite's bare "not authorized".
_denied = [None]


def _failure(exc):
    message = str(exc)
    if message in ("not authorized", "authorization denied") and _denied[0]:
        message = f"not authorized: {_denied[0]}"
    _denied[0] = None
    return Err(wire.Failure(kind=type(exc).__name__, message=message))


def _quota_bytes():
    if not _quota:
        try:
            with open("/.pylon-sqlite/quota") as settings:
                _quota.append(int(settings.read()))
        except (OSError, ValueError):
            _quota.append(64 << 20)
    return _quota[0]


def _in_db_dir(name):
    """Whether an SQLite file name (a path or a file: URI) is a file in /db;
    relative names count, since the provider resolves those there."""
    if name.startswith("file:"):
        name, _, query = name[5:].partition("?")
        if "mode=memory" in query:
            return False
    if name in ("", ":memory:"):
        return False
    path = os.path.normpath(name if name.startswith("/") else os.path.join(DB_DIR, name))
    return path == DB_DIR or path.startswith(DB_DIR + "/")


def _usage(but=None):
    """Bytes of every file in /db (databases, journals, WAL and temporary files),
    `but` that one."""
    total = 0
    stack = [DB_DIR]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.path != but:
                    total += entry.stat(follow_symlinks=False).st_size
    return total


def _authorizer(in_db):
    def check(action, arg1, arg2, schema, _trigger):
        if _internal[0]:
            return sqlite3.SQLITE_OK
        if action == sqlite3.SQLITE_ATTACH and _in_db_dir(arg1 or ""):
            _denied[0] = (
                f"ATTACH or VACUUM INTO {arg1} in /db would escape its {_quota_bytes() >> 20} MiB quota; "
                "open the database with sqlite3.connect instead"
            )
            return sqlite3.SQLITE_DENY
        if action == sqlite3.SQLITE_PRAGMA and in_db and schema in (None, "main"):
            name = (arg1 or "").lower()
            value = (arg2 or "").lower()
            if (name in ("max_page_count", "page_size") and arg2 is not None) or (
                name == "journal_mode" and value == "wal"
            ):
                _denied[0] = (
                    f"PRAGMA {name} = {arg2} is refused on a database in /db, "
                    f"which has a {_quota_bytes() >> 20} MiB quota"
                )
                return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    return check


def _budget(handle, db):
    """Let the /db database grow only to what the quota leaves beside every
    other file there (its own journal included). Its own size is its page
    count, not its size on disk: pages of an open transaction may not be
    written yet."""
    path = _quota_bound.get(handle)
    if path is None:
        return
    _internal[0] = True
    try:
        page_size = db.execute("pragma main.page_size").fetchone()[0]
        allowed = max(0, _quota_bytes() - _usage(but=path)) // page_size
        db.execute(f"pragma main.max_page_count = {max(allowed, 1)}").fetchall()
    finally:
        _internal[0] = False


def _path(database):
    if database in (":memory:", "") or database.startswith("file:"):
        return database or ":memory:"
    return database if database.startswith("/") else os.path.join(DB_DIR, database)


def _connection(handle):
    try:
        db = _connections[handle]
    except KeyError:
        raise Err(wire.Failure(kind="ProgrammingError", message="Cannot operate on a closed database.")) from None
    try:
        _budget(handle, db)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(exc) from None
    return db


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
            listed = connection.execute("pragma database_list").fetchall()
            files = [row[2] for row in listed if row[1] == "main"]
            in_db = bool(files and files[0] and _in_db_dir(files[0]))
            connection.set_authorizer(_authorizer(in_db))
        except sqlite3.Error as exc:
            raise _failure(exc) from None
        handle = _next[0]
        _next[0] += 1
        _connections[handle] = connection
        if in_db:
            _quota_bound[handle] = os.path.normpath(files[0])
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
        _quota_bound.pop(connection, None)
        db = _connections.pop(connection, None)
        if db is not None:
            db.close()
