"""Runs INSIDE the CPython guest as `_sqlite3` when the plan serves the sqlite
cap with the provider component (pylon:cap/sqlite): the stdlib's own
`sqlite3` package (dbapi2, dump, __main__) runs unchanged on top of it.

SQLite itself is in the provider, a component of its own, and every call
reaches it through the host, which checks the grant (so a revoke applies to
open connections). What is Python's side of `_sqlite3` happens here, as the
C module does it: argument checks, adapters and `__conform__`
(PrepareProtocol), converters (PARSE_DECLTYPES / PARSE_COLNAMES, on the
bytes the provider marks for them), text_factory, row_factory, `Row`. The
provider's own `sqlite3` objects (connections, cursors, blobs) do the rest,
so their errors are CPython's, with sqlite_errorcode and sqlite_errorname.

Values cross as JSON text (the WIT's `packed`), one string per call;
executemany sends its rows in batches, and rows come back in batches.

This module has Connection, Cursor and the module functions; the rest is in
pylon_sqlite3_errors (exceptions), pylon_sqlite3_values (values, binding,
adapters, argument checks), pylon_sqlite3_callbacks and pylon_sqlite3_rows
(Row, Blob).

Python callbacks (create_function, create_aggregate, create_collation,
create_window_function, set_authorizer, set_progress_handler,
set_trace_callback) are registered here by number; the provider's SQLite
calls them mid-statement through pylon:cap/sqlite-callbacks, which the host
passes on to this interpreter's export (`_invoke`) while it waits in its own
call.
"""

import os
import sys

from wit_world.imports import sqlite as _cap

import pylon_caps as _pylon_caps

from pylon_sqlite3_callbacks import (  # noqa: F401
    _invoke,
    _callback_tracebacks,
    _callbacks,
    _drop_lookups,
    _register,
)
from pylon_sqlite3_errors import (  # noqa: F401 - the module's names, as _sqlite3's
    Warning,
    DataError,
    DatabaseError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    _call,
    _tname,
)
from pylon_sqlite3_rows import Blob, Row  # noqa: F401 - the module's names, as _sqlite3's
from pylon_sqlite3_values import (  # noqa: F401 - the module's names, as _sqlite3's
    PrepareProtocol,
    adapt,
    adapters,
    register_adapter,
    register_converter,
    _Lazy,
    _MISSING,
    _arguments,
    _buffer,
    _callable,
    _checked_name,
    _decode,
    _encode,
    _index,
    _lazy_made,
    _level,
    _lookups,
    _parameters,
    _size,
    _text,
    converters,
)

PARSE_DECLTYPES = 1
PARSE_COLNAMES = 2
LEGACY_TRANSACTION_CONTROL = -1
#: Filled by _load from the provider: sqlite_version, threadsafety, SQLITE_*.
sqlite_version = ""
threadsafety = 1

#: Provider cursors a connection keeps for its next cursors (a statement a
#: crossing, not three: no `cursor` and `close-cursor` around each one).
SPARE = 16
#: Rows per crossing: executemany's batches, and fetches while iterating.
BATCH = 10000
FETCH = 256
_MAX_FETCH = 1 << 20


def enable_callback_tracebacks(enable, /):
    _callback_tracebacks[0] = bool(enable)
    # The provider's SQLite reports what fails on its side (a missing
    # aggregate method, ...) to this interpreter's sys.unraisablehook.
    _call(_cap.module_call, "enable_callback_tracebacks", _encode([bool(enable)]))


def complete_statement(statement):
    if not isinstance(statement, str):
        raise TypeError(f"complete_statement() argument 'statement' must be str, not {_tname(statement)}")
    return _decode(_call(_cap.module_call, "complete_statement", _encode([statement])))


# -- connections ---------------------------------------------------------------


_CONNECT_PARAMETERS = (
    "database", "timeout", "detect_types", "isolation_level", "check_same_thread",
    "factory", "cached_statements", "uri",
)
_CONNECT_DEFAULTS = {
    "timeout": 5.0, "detect_types": 0, "isolation_level": "", "check_same_thread": True,
    "factory": None, "cached_statements": 128, "uri": False,
}
_POSITIONAL_DEPRECATED = (
    "Passing more than 1 positional argument to {} is deprecated. Parameters 'timeout', "
    "'detect_types', 'isolation_level', 'check_same_thread', 'factory', "
    "'cached_statements' and 'uri' will become keyword-only parameters in Python 3.15."
)


class Connection:
    def __init__(self, *args, autocommit=LEGACY_TRANSACTION_CONTROL, **kwargs):
        if len(args) > 1:
            import warnings

            warnings.warn(
                _POSITIONAL_DEPRECATED.format("_sqlite3.Connection()"),
                DeprecationWarning,
                stacklevel=2,
            )
        (
            database, timeout, detect_types, isolation_level, check_same_thread,
            _factory, cached_statements, uri,
        ) = _arguments(
            "Connection", _CONNECT_PARAMETERS, args, kwargs, defaults=_CONNECT_DEFAULTS
        )
        self._init(
            database, timeout, detect_types, isolation_level, check_same_thread,
            cached_statements, uri, autocommit,
        )

    def _init(
        self, database, timeout, detect_types, isolation_level, check_same_thread,
        cached_statements, uri, autocommit,
    ):
        if isinstance(database, (str, bytes)) or hasattr(database, "__fspath__"):
            database = os.fsdecode(os.fspath(database))
        else:
            raise TypeError(
                f"expected str, bytes or os.PathLike object, not {_tname(database)}"
            )
        self.__dict__.pop("_handle", None)  # a failed (re)init leaves it uninitialised
        if not isinstance(detect_types, int):
            raise TypeError(f"'{_tname(detect_types)}' object cannot be interpreted as an integer")
        if autocommit is not LEGACY_TRANSACTION_CONTROL and not isinstance(autocommit, bool):
            if autocommit != LEGACY_TRANSACTION_CONTROL:
                raise ValueError(
                    "autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL"
                )
        isolation_level = _level(isolation_level)
        if database.startswith("/"):
            # As the stdlib module does, for the fs cap's monitor; a relative
            # name lives in the provider's own /db, not in the guest's files.
            sys.audit("sqlite3.connect", database)
        options = _cap.OpenOptions(
            timeout=float(timeout),
            isolation_level=isolation_level,
            autocommit=-1 if autocommit is LEGACY_TRANSACTION_CONTROL or autocommit == -1 else int(autocommit),
            uri=bool(uri),
            cached_statements=int(cached_statements),
            detect_types=int(detect_types),
        )
        handle = _call(_cap.open, database, options)
        self._detect_types = int(detect_types)
        self._isolation_level = isolation_level
        self._autocommit = autocommit
        self.check_same_thread = check_same_thread
        self._row_factory = None
        self._text_factory = str
        self._spare = []
        self._handle = handle
        sys.audit("sqlite3.connect/handle", self)

    def _live(self):
        handle = getattr(self, "_handle", _MISSING)
        if handle is _MISSING:
            raise ProgrammingError("Base Connection.__init__ not called.")
        if handle is None:
            raise ProgrammingError("Cannot operate on a closed database.")
        return handle

    def _get(self, name):
        return _decode(_call(_cap.connection_call, self._live(), "get-" + name, "[]"))

    def _do(self, name, *args):
        return _decode(_call(_cap.connection_call, self._live(), name, _encode(list(args))))

    # state
    @property
    def in_transaction(self):
        return self._get("in_transaction")

    @property
    def total_changes(self):
        return self._get("total_changes")

    @property
    def isolation_level(self):
        self._live()
        return self._isolation_level

    @isolation_level.setter
    def isolation_level(self, value):
        value = _level(value)
        self._do("set-isolation_level", value)
        self._isolation_level = value

    @isolation_level.deleter
    def isolation_level(self):
        raise AttributeError("cannot delete attribute")

    @property
    def row_factory(self):
        return self._row_factory

    @row_factory.setter
    def row_factory(self, value):
        self._row_factory = value

    @row_factory.deleter
    def row_factory(self):
        raise AttributeError("cannot delete attribute")

    @property
    def text_factory(self):
        return self._text_factory

    @text_factory.setter
    def text_factory(self, value):
        self._text_factory = value

    @text_factory.deleter
    def text_factory(self):
        raise AttributeError("cannot delete attribute")

    @property
    def autocommit(self):
        self._live()
        return self._autocommit

    @autocommit.setter
    def autocommit(self, value):
        if value is not LEGACY_TRANSACTION_CONTROL and not isinstance(value, bool):
            if value != LEGACY_TRANSACTION_CONTROL:
                raise ValueError(
                    "autocommit must be True, False, or sqlite3.LEGACY_TRANSACTION_CONTROL"
                )
        self._do("set-autocommit", -1 if value == -1 and not isinstance(value, bool) else value)
        self._autocommit = value

    @autocommit.deleter
    def autocommit(self):
        raise AttributeError("cannot delete autocommit attribute")

    # statements
    def cursor(self, factory=_MISSING):
        self._live()
        cursor = Cursor(self) if factory is _MISSING else factory(self)
        if not issubclass(type(cursor), Cursor):
            raise TypeError(f"factory must return a cursor, not {_tname(cursor)}")
        if self.row_factory is not None:
            cursor.row_factory = self.row_factory
        return cursor

    def execute(self, sql, parameters=(), /):
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql, parameters, /):
        return self.cursor().executemany(sql, parameters)

    def executescript(self, sql_script, /):
        return self.cursor().executescript(sql_script)

    def commit(self):
        _call(_cap.commit, self._live())

    def rollback(self):
        _call(_cap.rollback, self._live())

    def close(self):
        handle = getattr(self, "_handle", _MISSING)
        if handle is _MISSING:
            raise ProgrammingError("Base Connection.__init__ not called.")
        if handle is not None:
            self._handle = None
            self._spare = []
            _call(_cap.close, handle)

    def interrupt(self):
        self._do("interrupt")

    def getlimit(self, category, /):
        return self._do("getlimit", _index(category))

    def setlimit(self, category, limit, /):
        return self._do("setlimit", _index(category), _index(limit))

    def getconfig(self, op, /):
        return self._do("getconfig", _index(op))

    def setconfig(self, op, enable=True, /):
        return self._do("setconfig", _index(op), bool(enable))

    def serialize(self, *, name="main"):
        return self._do("serialize", name)

    def deserialize(self, data, /, *, name="main"):
        return self._do("deserialize", _buffer(data), name)

    def iterdump(self, *, filter=None):  # noqa: A002 - CPython's name
        from sqlite3.dump import _iterdump

        self._live()
        return _iterdump(self, filter=filter)

    def backup(self, target, *, pages=-1, progress=None, name="main", sleep=0.250):
        if not isinstance(target, Connection):
            raise TypeError(f"backup() argument 'target' must be sqlite3.Connection, not {_tname(target)}")
        if target is self:
            raise ValueError("target cannot be the same connection instance")
        if progress is not None and not callable(progress):
            raise TypeError("progress argument must be a callable")
        target_handle = target._live()
        self._live()
        number = None if progress is None else _register(progress)
        try:
            self._do("backup", target_handle, _index(pages), name, float(sleep), number)
        finally:
            _callbacks.pop(number, None)

    def blobopen(self, table, column, row, /, *, readonly=False, name="main"):
        handle = _call(_cap.blob_open, self._live(), table, column, _index(row), bool(readonly), name)
        return Blob._opened(self, handle)

    # Python callbacks: the provider calls them back by number (_invoke).
    def _hook(self, call, value, *args):
        number = None if value is None else _register(value)
        if call in ("create_aggregate", "create_window_function") and value is not None:
            # The provider's class has only the methods the program's has, so a
            # missing one fails as CPython's ("... method not defined").
            methods = [m for m in ("step", "finalize", "value", "inverse") if hasattr(value, m)]
            methods.append(getattr(value, "__name__", "Aggregate"))
            args = (*args, methods)
        try:
            self._do(call, number, *args)
        except BaseException:
            _callbacks.pop(number, None)
            raise
        return number

    def create_function(self, *args, **kwargs):
        if len(args) > 3:
            raise TypeError(
                f"create_function() takes at most 3 positional arguments ({len(args)} given)"
            )
        name, narg, func, deterministic = _arguments(
            "create_function", ("name", "narg", "func", "deterministic"), args, kwargs,
            ("name", "narg", "func"), {"deterministic": False},
        )
        self._live()
        name = _checked_name(name, "create_function", "argument 'name'")
        self._hook("create_function", func, name, _index(narg), bool(deterministic))

    def create_aggregate(self, *args, **kwargs):
        name, n_arg, aggregate_class = _arguments(
            "create_aggregate", ("name", "n_arg", "aggregate_class"), args, kwargs,
            ("name", "n_arg", "aggregate_class"),
        )
        self._live()
        name = _checked_name(name, "create_aggregate", "argument 'name'")
        self._hook("create_aggregate", aggregate_class, name, _index(n_arg))

    def create_window_function(self, name, num_params, aggregate_class, /):
        self._live()
        name = _checked_name(name, "create_window_function")
        self._hook("create_window_function", aggregate_class, name, _index(num_params))

    def create_collation(self, name, callable, /):  # noqa: A002 - CPython's name
        self._live()
        name = _checked_name(name, "create_collation")
        _callable(callable)
        self._hook("create_collation", callable, name)

    def set_authorizer(self, *args, **kwargs):
        (authorizer_callback,) = _arguments(
            "set_authorizer", ("authorizer_callback",), args, kwargs, ("authorizer_callback",)
        )
        self._live()
        self._hook("set_authorizer", authorizer_callback)

    def set_progress_handler(self, *args, **kwargs):
        progress_handler, n = _arguments(
            "set_progress_handler", ("progress_handler", "n"), args, kwargs, ("progress_handler",)
        )
        self._live()
        self._hook("set_progress_handler", progress_handler, _index(n))

    def set_trace_callback(self, *args, **kwargs):
        (trace_callback,) = _arguments(
            "set_trace_callback", ("trace_callback",), args, kwargs, ("trace_callback",)
        )
        self._live()
        self._hook("set_trace_callback", trace_callback)

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, exc_type, exc, tb):
        # As the stdlib: commit on success, roll back on error; do not close.
        if exc_type is None:
            self.commit()
        else:
            self.rollback()
        return False

    def __call__(self, *args, **kwargs):
        self._live()
        if kwargs or len(args) != 1:
            raise TypeError(f"Connection() takes exactly 1 positional argument ({len(args)} given)")
        sql = args[0]
        if not isinstance(sql, str):
            raise TypeError(f"Connection() argument 1 must be str, not {_tname(sql)}")
        if not sql.isascii():
            sql.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython
        self._do("statement", sql)
        statement = object.__new__(Statement)
        return statement

    import inspect as _inspect

    __call__.__signature__ = _inspect.Signature(
        [
            _inspect.Parameter("self", _inspect.Parameter.POSITIONAL_ONLY),
            _inspect.Parameter("sql", _inspect.Parameter.POSITIONAL_ONLY),
        ]
    )
    del _inspect

    def __del__(self):
        handle = self.__dict__.get("_handle")
        if handle is not None:
            import warnings

            self._handle = None
            try:
                warnings.warn(f"unclosed database in {self!r}", ResourceWarning, stacklevel=1)
            except Exception:  # noqa: BLE001 - warnings as errors: nothing to raise to
                pass
            try:
                _cap.close(handle)
            except Exception:  # noqa: BLE001 - nothing to report to at collection
                pass

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError


class Statement:
    """What Connection.__call__ gives: the statement compiled (and checked)
    in the provider; it cannot be run from here."""

    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'sqlite3.Statement' instances")




def connect(*args, **kwargs):
    """sqlite3.connect: the factory (Connection) gets the arguments as given."""
    if len(args) > 1:
        import warnings

        warnings.warn(
            _POSITIONAL_DEPRECATED.format("sqlite3.connect()"), DeprecationWarning, stacklevel=2
        )
    if not args and "database" not in kwargs:
        raise TypeError("connect() missing required argument 'database' (pos 1)")
    factory = args[5] if len(args) > 5 else kwargs.pop("factory", Connection)
    if factory is None:
        factory = Connection
    connection = factory(*args, **kwargs)
    if not isinstance(connection, Connection):
        raise TypeError(f"factory must return a Connection, not {_tname(connection)}")
    return connection


# -- cursors -------------------------------------------------------------------


class Cursor:
    def __init__(self, connection, /):
        if self.__dict__.get("_busy"):
            raise ProgrammingError("Recursive use of cursors not allowed.")
        if not issubclass(type(connection), Connection):
            raise TypeError(f"Cursor() argument 1 must be sqlite3.Connection, not {_tname(connection)}")
        self._connection = connection
        self._handle = None
        self._closed = False
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._rows = []
        self._more = False
        self._converters = ()
        #: Whether rows held may have values still to convert (_Lazy).
        self._lazy = False
        #: True while converters run on its rows: they may not use it (as CPython).
        self._busy = False
        self._arraysize = 1
        self._row_factory = None

    @property
    def arraysize(self):
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value):
        self._arraysize = _size(value, "arraysize")

    @property
    def row_factory(self):
        return self._row_factory

    @row_factory.setter
    def row_factory(self, value):
        self._row_factory = value

    @row_factory.deleter
    def row_factory(self):
        raise AttributeError("cannot delete attribute")

    def _check(self):
        if "_connection" not in self.__dict__:
            raise ProgrammingError("Base Cursor.__init__ not called.")
        if self._busy:
            raise ProgrammingError("Recursive use of cursors not allowed.")
        if self._closed:
            raise ProgrammingError("Cannot operate on a closed cursor.")
        handle = self._connection._live()
        if self._handle is None:
            spare = self._connection._spare
            self._handle = spare.pop() if spare else _call(_cap.cursor, handle)
        return self._handle

    def _release(self):
        """Give the provider cursor up: back to the connection's spares when
        its statement is done (nothing left to finalize), else closed."""
        handle = self.__dict__.get("_handle")
        if handle is None:
            return
        self._handle = None
        connection = self._connection
        spare = connection.__dict__.get("_spare")
        if not self._more and spare is not None and connection.__dict__.get("_handle") and len(spare) < SPARE:
            spare.append(handle)
        else:
            _cap.close_cursor(handle)

    @property
    def connection(self):
        return self._connection

    @property
    def description(self):
        return self._description

    @property
    def rowcount(self):
        return self._rowcount

    @property
    def lastrowid(self):
        return self._lastrowid

    def _reading(self):
        text_factory = self._connection.text_factory
        names = list(converters) if self._connection._detect_types else []
        return _cap.Reading(converters=names, raw_text=text_factory is not str), names

    def _load(self, outcome):
        self._rowcount = outcome.rowcount
        self._lastrowid = outcome.lastrowid
        if outcome.columns:
            self._description = tuple(
                (c.name, None, None, None, None, None, None) for c in outcome.columns
            )
            self._rows = self._build(outcome.rows)
            self._more = outcome.more
        else:
            self._description = None
            self._rows = []
            self._more = False

    def _build(self, packed):
        _lazy_made[0] = False
        rows = [tuple(row) for row in _decode(packed)]
        if _lazy_made[0]:
            self._lazy = True
        rows.reverse()  # popped from the end
        return rows

    def _convert(self, values):
        """The row's text_factory and converter values, now (as CPython does
        when it fetches the row); the converters may not use this cursor."""
        text_factory = self._connection.text_factory
        converters_now = self._converters
        self._busy = True
        try:
            out = []
            for value in values:
                if type(value) is _Lazy:
                    index = value.index
                    if index is None:
                        value = _text(text_factory, value.data, self._description, len(out))
                    elif index < len(converters_now) and converters_now[index] is not None:
                        value = converters_now[index](value.data)
                    else:
                        value = value.data
                out.append(value)
        finally:
            self._busy = False
        return tuple(out)

    def execute(self, sql, parameters=(), /):
        handle = self._check()
        if not isinstance(sql, str):
            raise TypeError(f"execute() argument 1 must be str, not {_tname(sql)}")
        try:
            packed = _encode(_parameters(parameters))
        except BaseException:
            _drop_lookups()
            raise
        how, names = self._reading()
        self._converters = tuple(converters.get(name) for name in names)
        self._lazy = False
        self._rows = []
        self._more = False
        self._description = None
        try:
            self._load(_call(_cap.execute, handle, sql, packed, how, 1))
        finally:
            if _lookups:
                _drop_lookups()
        return self

    def executemany(self, sql, seq_of_parameters, /):
        handle = self._check()
        if not isinstance(sql, str):
            raise TypeError(f"executemany() argument 1 must be str, not {_tname(sql)}")
        rows = iter(seq_of_parameters)
        self._rows = []
        self._more = False
        self._description = None
        total = 0
        sent = False
        while True:
            batch = []
            # The rows' iterator may not use this cursor (as CPython).
            self._busy = True
            try:
                for parameters in rows:
                    batch.append(_parameters(parameters))
                    if len(batch) >= BATCH:
                        break
            finally:
                self._busy = False
            if not batch and sent:
                break
            outcome = _call(_cap.execute_many, handle, sql, _encode(batch))
            sent = True
            if outcome.rowcount > 0:
                total += outcome.rowcount
            self._lastrowid = outcome.lastrowid
            if len(batch) < BATCH:
                break
        self._rowcount = total if total or outcome.rowcount >= 0 else outcome.rowcount
        return self

    def executescript(self, sql_script, /):
        handle = self._check()
        if not isinstance(sql_script, str):
            raise TypeError(f"executescript() argument must be str, not {_tname(sql_script)}")
        self._rows = []
        self._more = False
        self._description = None
        _call(_cap.execute_script, handle, sql_script)
        return self

    def _fill(self, wanted):
        if self._more and len(self._rows) < wanted:
            how, _ = self._reading()
            packed, more = _call(_cap.fetch, self._handle, min(max(wanted - len(self._rows), 1), _MAX_FETCH), how)
            fresh = self._build(packed)
            self._rows = fresh + self._rows
            self._more = more

    def _row(self, values):
        if self._lazy:
            values = self._convert(values)
        factory = self._row_factory
        return values if factory is None else factory(self, values)

    def fetchone(self):
        self._check()
        if not self._rows:
            self._fill(FETCH)
            if not self._rows:
                return None
        return self._row(self._rows.pop())

    def fetchmany(self, size=None):
        self._check()
        size = self._arraysize if size is None else _size(size, "fetchmany() size")
        self._fill(max(size, FETCH) if size else 0)
        out = []
        while len(out) < size and self._rows:
            out.append(self._row(self._rows.pop()))
            if not self._rows:
                self._fill(FETCH)
        return out

    def fetchall(self):
        self._check()
        out = []
        while True:
            rows = self._rows
            self._rows = []
            rows.reverse()
            fast = self._row_factory is None and not self._lazy
            out.extend(rows if fast else [self._row(r) for r in rows])
            if not self._more:
                return out
            self._fill(_MAX_FETCH)

    def close(self):
        if "_connection" not in self.__dict__:
            raise ProgrammingError("Base Cursor.__init__ not called.")
        if self._busy:
            raise ProgrammingError("Recursive use of cursors not allowed.")
        self._release()
        self._closed = True
        self._rows = []
        self._more = False

    def setinputsizes(self, sizes, /):
        pass

    def setoutputsize(self, size, column=None, /):
        pass

    def __iter__(self):
        return self

    def __next__(self):
        row = self.fetchone()
        if row is None:
            raise StopIteration
        return row

    def __del__(self):
        try:
            self._release()
        except Exception:  # noqa: BLE001 - nothing to report to at collection
            pass


def _load():
    """First import: what the provider's SQLite is (version, constants)."""
    info = _decode(_call(_cap.module_call, "info", "[]"))
    globals()["sqlite_version"] = info["sqlite_version"]
    globals()["threadsafety"] = info["threadsafety"]
    globals().update(info["constants"])


# Programs (and tracebacks) see sqlite3's names, as for the C module's types.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__.startswith("pylon_sqlite3"):
        _value.__module__ = "sqlite3"
del _value


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
# Parameters and rows go as JSON text in `octets`: written ASCII-only, and any
# ASCII lowers (the provider parses it).
_OPEN_OPTIONS = (
    "record",
    ("timeout", "f64"),
    ("isolation_level", ("option", "string")),
    ("autocommit", "s32"),
    ("uri", "bool"),
    ("cached_statements", "s32"),
    ("detect_types", "s32"),
)
_READING = ("record", ("converters", ("list", "string")), ("raw_text", "bool"))
_pylon_caps.declare_signatures(
    "sqlite",
    {
        "open": ("string", _OPEN_OPTIONS),
        "cursor": ("u32",),
        "execute": ("u32", "string", "octets", _READING, "u32"),
        "execute_many": ("u32", "string", "octets"),
        "execute_script": ("u32", "string"),
        "fetch": ("u32", "u32", _READING),
        "close_cursor": ("u32",),
        "commit": ("u32",),
        "rollback": ("u32",),
        "close": ("u32",),
        "connection_call": ("u32", "string", "octets"),
        "blob_open": ("u32", "string", "string", "s64", "bool", "string"),
        "blob_call": ("u32", "string", "octets"),
        "module_call": ("string", "octets"),
    },
)
