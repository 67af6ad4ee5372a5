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

Values cross as JSON text (the WIT's `packed`): one string per call instead
of a WIT variant per value, which is what made 10k-row executemany slow. The
guest's _sqlite3 stand-in adapts parameters and applies converters,
text_factory and row_factory itself; here they are plain SQLite values, and
what only this side can know comes back marked: TEXT as bytes ({"t": ...})
when the guest's text_factory is not str, and a value for one of the guest's
converters ({"c": N, "b": ...}), found by this interpreter's own
PARSE_DECLTYPES/PARSE_COLNAMES logic with marker converters.
"""

import binascii
import builtins
import json
import os
import sqlite3
import sys

import wit_world
import wit_world.exports
from componentize_py_types import Err
from wit_world.exports import sqlite as api
from wit_world.imports import sqlite_callbacks as _back
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
    """The error as the guest raises it: its class name (with SQLite's error
    code and name after it, when it has them) and its message."""
    message = str(exc)
    if message in ("not authorized", "authorization denied") and _denied[0]:
        message = f"not authorized: {_denied[0]}"
    _denied[0] = None
    kind = type(exc).__name__
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        kind = f"{kind} {code} {getattr(exc, 'sqlite_errorname', '')}"
    return Err(wire.Failure(kind=kind, message=message))


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


#: The guest's authorizer of each connection (a callback number), asked after the quota's.
_guest_authorizer = {}


def _authorizer(in_db, handle):
    def check(action, arg1, arg2, schema, trigger):
        if _internal[0]:
            return sqlite3.SQLITE_OK
        verdict = quota(action, arg1, arg2, schema)
        target = _guest_authorizer.get(handle)
        if verdict != sqlite3.SQLITE_OK or target is None:
            return verdict
        return _back_call(target, "authorize", [action, arg1, arg2, schema, trigger])

    def quota(action, arg1, arg2, schema):
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



#: The cursors: handle -> [connection handle, sqlite3.Cursor, converter names].
_cursors = {}
_blobs = {}


class _Text(bytes):
    """TEXT read as bytes (the guest's text_factory is not str)."""


#: Marker converters: the value for the guest's converter N comes back as _Converted[N].
_Converted = []


def _converter(index):
    while len(_Converted) <= index:
        _Converted.append(type(f"_Converted{len(_Converted)}", (bytes,), {"converter": len(_Converted)}))
    return _Converted[index]


def _b64(data):
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _default(value):
    if isinstance(value, (bytes, bytearray, memoryview)):
        kind = type(value)
        if kind is _Text:
            return {"\x00t": _b64(value)}
        index = getattr(kind, "converter", None) if kind is not bytes else None
        if index is not None:
            return {"\x00c": index, "\x00b": _b64(value)}
        return {"\x00b": _b64(bytes(value))}
    raise TypeError(f"cannot send {type(value).__name__}")


_pack = json.JSONEncoder(default=_default, check_circular=False).encode


def _object(item):
    """The marked values (their keys start with NUL, which no parameter name
    has); any other object is a row of named parameters."""
    if "\x00b" in item:
        return binascii.a2b_base64(item["\x00b"])
    if "\x00s" in item:
        return slice(*item["\x00s"])
    if "\x00m" in item:
        target = item.pop("\x00m")
        return _Named(target, item)
    return item


class _Named(dict):
    """Named parameters from a mapping with __missing__: a name it lacks is
    asked of the guest's mapping (CPython looks names up in a dict subclass
    with its __getitem__)."""

    def __init__(self, target, items):
        super().__init__(items)
        self.target = target

    def __missing__(self, key):
        return _back_call(self.target, "lookup", [key])


_decoder = json.JSONDecoder(object_hook=_object)


def _unpack(text):
    return _decoder.decode(text)


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


def _cursor(handle):
    try:
        entry = _cursors[handle]
    except KeyError:
        raise Err(wire.Failure(kind="ProgrammingError", message="Cannot operate on a closed cursor.")) from None
    if entry[0] in _connections:
        _connection(entry[0])
    return entry


def _reading(db, how, entry=None):
    db.text_factory = _Text if how.raw_text else str
    if entry is not None:
        sqlite3.converters.clear()
        sqlite3.converters.update({name: _converter(i) for i, name in enumerate(how.converters)})


def _guarded(call):
    """Any error of the statement fails the call with its class name and
    message, as the guest raises it; nothing the guest sends may trap."""
    try:
        return call()
    except Err:
        raise
    except RecursionError:
        raise Err(wire.Failure(kind="RecursionError", message="maximum recursion depth exceeded")) from None
    except MemoryError:
        raise Err(wire.Failure(kind="MemoryError", message="out of memory in the SQLite provider")) from None
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the guest
        raise _failure(exc) from None


def _outcome(cursor, rows):
    description = cursor.description
    return api.Outcome(
        columns=[api.Column(name=d[0]) for d in description] if description else [],
        rows=_pack(rows),
        more=bool(description) and len(rows) > 0,
        rowcount=cursor.rowcount,
        lastrowid=cursor.lastrowid,
    )


def _backup(db, target, pages, name, sleep, progress=None):
    db.backup(
        _connection(target), pages=pages, name=name, sleep=sleep,
        progress=None if progress is None else _function(progress),
    )


def _deserialize(db, data, name="main"):
    # SQLite attaches the image itself ("ATTACH 'x'"), which the quota's
    # authorizer would refuse; the image lives in memory, not in /db.
    _internal[0] = True
    try:
        db.deserialize(data, name=name)
    finally:
        _internal[0] = False


def _forward_unraisable(unraisable):
    """What this SQLite reports of a callback's failure goes to the guest's
    sys.unraisablehook, unless the guest raised (and reported) it."""
    exc = unraisable.exc_value
    if getattr(exc, "pylon_guest", False):
        return
    try:
        _back.invoke(0, "unraisable", _pack([type(exc).__name__, str(exc), unraisable.err_msg or ""]))
    except Exception:  # noqa: BLE001 - a report that cannot go is dropped
        pass


class _Failed(Exception):
    """A guest callback's failure, raised here so this SQLite reports it as
    CPython does (e.g. "user-defined function raised exception")."""


def _back_call(target, method, args):
    try:
        text = _back.invoke(target, method, _pack(list(args)))
    except Err as err:
        kind = getattr(builtins, err.value.kind, None)
        error = None
        if isinstance(kind, type) and issubclass(kind, Exception):
            try:
                error = kind(err.value.message)
            except TypeError:
                error = None
        if error is None:
            error = _Failed(err.value.message)
        error.pylon_guest = True  # the guest has reported it already
        raise error from None
    return _unpack(text)


def _function(target, method="call"):
    return lambda *args: _back_call(target, method, args)


def _aggregate(target, methods):
    """A class standing in for the program's aggregate class, with the
    methods it has (a missing one fails here as in CPython)."""

    def __init__(self):
        self.instance = _back_call(target, "new", [])

    body = {"__init__": __init__}
    if "step" in methods:
        body["step"] = lambda self, *args: _back_call(self.instance, "step", args)
    if "finalize" in methods:
        body["finalize"] = lambda self: _back_call(self.instance, "finalize", [])
    if "value" in methods:
        body["value"] = lambda self: _back_call(self.instance, "value", [])
    if "inverse" in methods:
        body["inverse"] = lambda self, *args: _back_call(self.instance, "inverse", args)
    name = methods[-1] if methods and methods[-1] not in ("step", "finalize", "value", "inverse") else "Aggregate"
    return type(str(name), (), body)


def _set_authorizer(db, target):
    for handle, connection in _connections.items():
        if connection is db:
            if target is None:
                _guest_authorizer.pop(handle, None)
            else:
                _guest_authorizer[handle] = target


_GETTERS = ("total_changes", "in_transaction", "isolation_level", "autocommit")
_CALLS = {
    "set-isolation_level": lambda db, value: setattr(db, "isolation_level", value),
    "set-autocommit": lambda db, value: setattr(db, "autocommit", value),
    "getlimit": lambda db, category: db.getlimit(category),
    "setlimit": lambda db, category, limit: db.setlimit(category, limit),
    "getconfig": lambda db, op: db.getconfig(op),
    "setconfig": lambda db, op, enable=True: db.setconfig(op, enable),
    "interrupt": lambda db: db.interrupt(),
    "serialize": lambda db, name="main": db.serialize(name=name),
    "deserialize": _deserialize,
    "backup": _backup,
    "create_function": lambda db, target, name, narg, det: db.create_function(
        name, narg, None if target is None else _function(target), deterministic=det
    ),
    "create_aggregate": lambda db, target, name, narg, methods=(): db.create_aggregate(
        name, narg, None if target is None else _aggregate(target, methods)
    ),
    "create_window_function": lambda db, target, name, narg, methods=(): db.create_window_function(
        name, narg, None if target is None else _aggregate(target, methods)
    ),
    "create_collation": lambda db, target, name: db.create_collation(
        name, None if target is None else (lambda a, b: _back_call(target, "collate", [a, b]))
    ),
    "set_authorizer": _set_authorizer,
    "set_progress_handler": lambda db, target, n: db.set_progress_handler(
        None if target is None else _function(target, "progress"), n
    ),
    "set_trace_callback": lambda db, target: db.set_trace_callback(
        None if target is None else _function(target, "trace")
    ),
    # Connection.__call__: the statement compiled, for its errors; not kept.
    "statement": lambda db, sql: db(sql) and None,
}
_BLOB_CALLS = {
    "read": lambda blob, length=-1: blob.read(length),
    "write": lambda blob, data: blob.write(data),
    "seek": lambda blob, offset, origin=0: blob.seek(offset, origin),
    "tell": lambda blob: blob.tell(),
    "len": len,
    "getitem": lambda blob, key: blob[key],
    "setitem": lambda blob, key, value: blob.__setitem__(key, value),
}


class Sqlite(wit_world.exports.Sqlite):
    def open(self, database, options):
        def run():
            connection = sqlite3.connect(
                _path(database),
                timeout=options.timeout,
                detect_types=options.detect_types,
                isolation_level=options.isolation_level,
                check_same_thread=False,
                cached_statements=options.cached_statements,
                uri=database.startswith("file:") or options.uri,
                autocommit=sqlite3.LEGACY_TRANSACTION_CONTROL if options.autocommit < 0 else bool(options.autocommit),
            )
            _internal[0] = True
            try:
                listed = connection.execute("pragma database_list").fetchall()
            finally:
                _internal[0] = False
            files = [row[2] for row in listed if row[1] == "main"]
            in_db = bool(files and files[0] and _in_db_dir(files[0]))
            return connection, in_db, files

        connection, in_db, files = _guarded(run)
        handle = _next[0]
        _next[0] += 1
        connection.set_authorizer(_authorizer(in_db, handle))
        _connections[handle] = connection
        if in_db:
            _quota_bound[handle] = os.path.normpath(files[0])
        return handle

    def cursor(self, connection):
        db = _connection(connection)
        cursor = _guarded(db.cursor)
        handle = _next[0]
        _next[0] += 1
        _cursors[handle] = [connection, cursor, []]
        return handle

    def execute(self, cursor, sql, parameters, how, prefetch):
        entry = _cursor(cursor)
        db = _connection(entry[0])

        def run():
            params = _unpack(parameters)
            _reading(db, how, entry)
            cur = entry[1].execute(sql, params)
            rows = cur.fetchmany(prefetch) if cur.description and prefetch else []
            return _outcome(cur, rows)

        return _guarded(run)

    def execute_many(self, cursor, sql, rows):
        entry = _cursor(cursor)
        _connection(entry[0])

        def run():
            cur = entry[1].executemany(sql, _unpack(rows))
            return _outcome(cur, [])

        return _guarded(run)

    def execute_script(self, cursor, script):
        entry = _cursor(cursor)
        _connection(entry[0])
        _guarded(lambda: entry[1].executescript(script))

    def fetch(self, cursor, max_rows, how):
        entry = _cursor(cursor)
        db = _connections.get(entry[0])

        def run():
            if db is not None:
                _reading(db, how)
            rows = entry[1].fetchmany(max_rows)
            return (_pack(rows), len(rows) == max_rows and max_rows > 0)

        return _guarded(run)

    def close_cursor(self, cursor):
        entry = _cursors.pop(cursor, None)
        if entry is not None:
            try:
                entry[1].close()
            except Exception:  # noqa: BLE001 - closing gives up the cursor either way
                pass

    def commit(self, connection):
        _guarded(_connection(connection).commit)

    def rollback(self, connection):
        _guarded(_connection(connection).rollback)

    def close(self, connection):
        _quota_bound.pop(connection, None)
        _guest_authorizer.pop(connection, None)
        db = _connections.pop(connection, None)
        for handle in [h for h, entry in _cursors.items() if entry[0] == connection]:
            _cursors[handle][0] = 0
        if db is not None:
            _guarded(db.close)

    def connection_call(self, connection, name, arguments):
        db = _connection(connection)

        def run():
            args = _unpack(arguments)
            if name.startswith("get-") and name[4:] in _GETTERS:
                return _pack(getattr(db, name[4:]))
            call = _CALLS.get(name)
            if call is None or not isinstance(args, list):
                raise sqlite3.ProgrammingError(f"the SQLite provider has no connection call {name!r}")
            return _pack(call(db, *args))

        return _guarded(run)

    def blob_open(self, connection, table, column, row, readonly, name):
        db = _connection(connection)
        blob = _guarded(lambda: db.blobopen(table, column, row, readonly=readonly, name=name))
        handle = _next[0]
        _next[0] += 1
        _blobs[handle] = blob
        return handle

    def blob_call(self, blob, name, arguments):
        if name == "close":
            found = _blobs.pop(blob, None)
            if found is not None:
                _guarded(found.close)
            return "null"
        found = _blobs.get(blob)
        if found is None:
            raise Err(wire.Failure(kind="ProgrammingError", message="Cannot operate on a closed blob."))

        def run():
            args = _unpack(arguments)
            call = _BLOB_CALLS.get(name)
            if call is None or not isinstance(args, list):
                raise sqlite3.ProgrammingError(f"the SQLite provider has no blob call {name!r}")
            return _pack(call(found, *args))

        return _guarded(run)

    def module_call(self, name, arguments):
        def run():
            args = _unpack(arguments)
            if name == "enable_callback_tracebacks" and isinstance(args, list) and args:
                sqlite3.enable_callback_tracebacks(bool(args[0]))
                sys.unraisablehook = _forward_unraisable
                return "null"
            if name == "info":
                return _pack({
                    "sqlite_version": sqlite3.sqlite_version,
                    "threadsafety": sqlite3.threadsafety,
                    "constants": {
                        k: v for k, v in vars(sqlite3).items()
                        if k.startswith("SQLITE_") and isinstance(v, int)
                    },
                })
            if name == "complete_statement" and isinstance(args, list):
                return _pack(sqlite3.complete_statement(*args))
            raise sqlite3.ProgrammingError(f"the SQLite provider has no module call {name!r}")

        return _guarded(run)
