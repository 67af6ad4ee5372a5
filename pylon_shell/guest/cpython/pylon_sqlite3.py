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

Python callbacks (create_function, create_aggregate, create_collation,
create_window_function, set_authorizer, set_progress_handler,
set_trace_callback) are registered here by number; the provider's SQLite
calls them mid-statement through pylon:cap/sqlite-callbacks, which the host
passes on to this interpreter's export (`_invoke`) while it waits in its own
call.
"""

import binascii
import builtins
import json
import os
import sys

from componentize_py_types import Err
from wit_world.imports import sqlite as _cap
from wit_world.imports import types as _wire

import pylon_caps

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


_ERRORS = {
    cls.__name__: cls
    for cls in (
        Warning, Error, InterfaceError, DatabaseError, DataError, OperationalError,
        IntegrityError, InternalError, ProgrammingError, NotSupportedError,
    )
}


def _raise(failure):
    kind, _, code = failure.kind.partition(" ")
    if kind == "PermissionError":
        raise pylon_caps.CapPermissionError(failure.message)
    cls = _ERRORS.get(kind)
    if cls is None:
        found = getattr(builtins, kind, None)
        if isinstance(found, type) and issubclass(found, Exception):
            try:
                error = found(failure.message)
            except TypeError:
                error = OperationalError(failure.message)
            raise error
        cls = OperationalError
    error = cls(failure.message)
    if code:
        number, _, name = code.partition(" ")
        try:
            error.sqlite_errorcode = int(number)
        except ValueError:
            pass
        error.sqlite_errorname = name or None
    raise error


def _call(function, *args):
    try:
        return function(*args)
    except Err as err:
        failure = err.value
    # Raised outside the except block: see pylon_caps.call_provider.
    _raise(failure)


# -- values on the wire ------------------------------------------------------


def _b64(data):
    return binascii.b2a_base64(data, newline=False).decode("ascii")


_encode = json.JSONEncoder(check_circular=False).encode
#: Whether a decode made a _Lazy value (the rows need converting when read).
_lazy_made = [False]


def _text(text_factory, data, description, column):
    if text_factory is not str:
        return text_factory(data)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        name = description[column][0] if description and column < len(description) else "?"
        shown = data.decode("utf-8", "replace")
        raise OperationalError(
            f"Could not decode to UTF-8 column '{name}' with text '{shown}'"
        ) from None


class _Lazy:
    """A value converted when the program reads its row, as CPython converts
    (text_factory, converters) at fetch: TEXT as bytes (index None), or the
    bytes for converter `index`."""

    __slots__ = ("data", "index")

    def __init__(self, data, index):
        self.data = data
        self.index = index


def _object(item):
    blob = item.get("\x00b")
    if blob is not None:
        data = binascii.a2b_base64(blob)
        index = item.get("\x00c")
        if index is not None:
            _lazy_made[0] = True
            return _Lazy(data, index)
        return data
    text = item.get("\x00t")
    if text is not None:
        _lazy_made[0] = True
        return _Lazy(binascii.a2b_base64(text), None)
    return item


_decode = json.JSONDecoder(object_hook=_object).decode

adapters = {}
converters = {}
_base_adapted = [False]
_PLAIN = (type(None), int, float, str)
_callback_tracebacks = [False]


class PrepareProtocol:
    def __init__(self, *args, **kwargs):
        if args or kwargs:
            raise TypeError("PrepareProtocol() takes no arguments")


_MISSING = object()


def adapt(obj, proto=PrepareProtocol, alt=_MISSING, /):
    adapter = adapters.get((type(obj), proto))
    if adapter is not None:
        return adapter(obj)
    method = getattr(proto, "__adapt__", None)
    if method is not None:
        try:
            adapted = method(obj)
        except TypeError:
            adapted = None
        if adapted is not None:
            return adapted
    method = getattr(obj, "__conform__", None)
    if method is not None:
        try:
            adapted = method(proto)
        except TypeError:
            adapted = None
        if adapted is not None:
            return adapted
    if alt is not _MISSING:
        return alt
    raise ProgrammingError("can't adapt")


def _attributed(function):
    """The stdlib's default date and time adapters and converters warn
    (DeprecationWarning, stacklevel=2) as if called by the C module, from the
    program's line; called from here, the warning would name this module.
    Their warnings are caught and raised again at the program's frame."""
    import warnings

    own = (__file__, os.path.dirname(function.__code__.co_filename) + "/")

    def call(value):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = function(value)
        for found in caught:
            level, frame = 1, sys._getframe(0)
            while frame is not None and (
                frame.f_code.co_filename == own[0] or frame.f_code.co_filename.startswith(own[1])
            ):
                frame, level = frame.f_back, level + 1
            warnings.warn(found.message, found.category, stacklevel=level)
        return out

    call.__wrapped__ = function
    return call


def _default(function):
    code = getattr(function, "__code__", None)
    if getattr(function, "__module__", None) == "sqlite3.dbapi2" and code is not None:
        return _attributed(function)
    return function


def register_adapter(type, adapter, /):  # noqa: A002 - CPython's name
    if type in (int, float, str, bytearray):
        _base_adapted[0] = True
    adapters[(type, PrepareProtocol)] = _default(adapter)


def register_converter(typename, converter, /):
    if not isinstance(typename, str):
        raise TypeError(f"register_converter() argument 1 must be str, not {_tname(typename)}")
    converters[typename.upper()] = _default(converter)


def enable_callback_tracebacks(enable, /):
    _callback_tracebacks[0] = bool(enable)
    # The provider's SQLite reports what fails on its side (a missing
    # aggregate method, ...) to this interpreter's sys.unraisablehook.
    _call(_cap.module_call, "enable_callback_tracebacks", _encode([bool(enable)]))


def complete_statement(statement):
    if not isinstance(statement, str):
        raise TypeError(f"complete_statement() argument 'statement' must be str, not {_tname(statement)}")
    return _decode(_call(_cap.module_call, "complete_statement", _encode([statement])))


def _tname(value):
    return type(value).__name__


_LEVELS = ("", "DEFERRED", "IMMEDIATE", "EXCLUSIVE")


def _level(value):
    """isolation_level as CPython checks it (its own comparison, not the
    value's upper()): None or one of _LEVELS, in any case."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError("isolation_level must be str or None")
    text = str.__str__(value)
    folded = text.upper() if text.isascii() and "\0" not in text else None
    if folded not in _LEVELS:
        raise ValueError(
            "isolation_level string must be '', 'DEFERRED', 'IMMEDIATE', or 'EXCLUSIVE'"
        )
    return folded


def _size(value, what):
    """A row count: an int in 0..UINT32_MAX."""
    value = _index(value)
    if value < 0:
        raise ValueError(f"{what} must be >= 0")
    if value > 0xFFFFFFFF:
        raise OverflowError(f"{what} is greater than maximum")
    return value


def _buffer(value):
    view = memoryview(value)
    if not view.c_contiguous:
        raise BufferError("underlying buffer is not C-contiguous")
    return {"\x00b": _b64(view.tobytes())}


def _bind(value, position):
    """One parameter as the provider takes it, adapted as CPython's
    bind_parameters does."""
    kind = type(value)
    if kind in _PLAIN and not _base_adapted[0]:
        if kind is int and not -(1 << 63) <= value < (1 << 63):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        if kind is str and not value.isascii():
            value.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython
        return value
    if kind is bytes:
        return {"\x00b": _b64(value)}
    value = adapt(value, PrepareProtocol, value)
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        value = str.__str__(value)
        if not value.isascii():
            value.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython
        return value
    try:
        return _buffer(value)
    except TypeError:
        raise ProgrammingError(
            f"Error binding parameter {position}: type '{_tname(value)}' is not supported"
        ) from None


def _parameters(parameters):
    """A statement's parameters: a list (qmark) or a dict (named), bound."""
    if type(parameters) in (tuple, list) or (
        not isinstance(parameters, dict) and _is_sequence(parameters)
    ):
        return [_bind(parameters[i], i + 1) for i in range(len(parameters))]
    if isinstance(parameters, dict):
        named = {}
        for key, value in parameters.items():
            if not isinstance(key, str):
                raise ProgrammingError("parameters are of unsupported type")
            named[key] = _bind(value, ":" + key)
        if type(parameters) is not dict and hasattr(type(parameters), "__missing__"):
            # A name the mapping lacks is asked of it (its __missing__), as
            # CPython asks a dict subclass: the provider calls back.
            number = _register(lambda key: _bind(parameters[key], ":" + key))
            _lookups.append(number)
            named["\x00m"] = number
        return named
    raise ProgrammingError("parameters are of unsupported type")


#: Callbacks registered for one statement's parameters, dropped after it.
_lookups = []


def _is_sequence(value):
    kind = type(value)
    return hasattr(kind, "__getitem__") and hasattr(kind, "__len__") and not hasattr(kind, "keys")


# -- callbacks -------------------------------------------------------------------

#: What the provider may call back: number -> a callable or an aggregate instance.
_callbacks = {}
_next_callback = [1]


def _register(obj):
    number = _next_callback[0]
    _next_callback[0] += 1
    _callbacks[number] = obj
    return number


def _result(value):
    """A callback's return value as SQLite takes it (no adapters, as CPython),
    checked here so that its error is the callback's, reported here."""
    if value is None:
        return None
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        value = str.__str__(value)
        if not value.isascii():
            value.encode("utf-8")
        return value
    return _buffer(value)


def _run(obj, method, args):
    """One callback as CPython's _sqlite3 runs it; the value it hands SQLite."""
    if method == "call":
        return _result(obj(*args))
    if method == "progress":
        return bool(obj())
    if method == "lookup":
        return obj(*args)
    if method in ("authorize", "collate"):
        out = obj(*args)
        return out if type(out) is int and -(1 << 63) <= out < (1 << 63) else None
    if method == "trace":
        obj(*args)
        return None
    if method == "new":
        return _register(obj())
    if method in ("step", "inverse"):
        getattr(obj, method)(*args)
        return None
    if method == "value":
        return _result(obj.value())
    if method == "finalize":
        return _result(obj.finalize())
    raise ValueError(f"no callback method {method!r}")


def _invoke(target, method, arguments):
    """The export: run one callback, its failure as the provider raises it."""
    if target == 0 and method == "unraisable":
        _unraisable_from_provider(*_decode(arguments))
        return "null"
    obj = _callbacks.get(target)
    try:
        args = _decode(arguments)
        try:
            return _encode(_run(obj, method, args))
        finally:
            if method == "finalize":
                _callbacks.pop(target, None)
    except Err:
        raise
    except BaseException as exc:  # noqa: BLE001 - the provider's SQLite reports it
        if _callback_tracebacks[0]:
            culprit = getattr(obj, method, obj) if method not in ("call", "new") else obj
            sys.unraisablehook(_Unraisable(exc, culprit))
        raise Err(_wire.Failure(kind=type(exc).__name__, message=str(exc))) from None


def _unraisable_from_provider(kind, message, err_msg):
    """An exception the provider's SQLite reported (enable_callback_tracebacks),
    given to this interpreter's sys.unraisablehook."""
    cls = _ERRORS.get(kind) or getattr(builtins, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = Exception
    try:
        exc = cls(message)
    except TypeError:
        exc = Exception(message)
    hook = _Unraisable(exc, None)
    hook.err_msg = err_msg or None
    sys.unraisablehook(hook)


class _Unraisable:
    """What sys.unraisablehook gets for a callback's exception (as CPython with
    enable_callback_tracebacks(True))."""

    def __init__(self, exc, culprit):
        self.exc_type = type(exc)
        self.exc_value = exc
        self.exc_traceback = exc.__traceback__
        self.err_msg = f"Exception ignored on sqlite3 callback {culprit!r}"
        self.object = None


def _arguments(where, names, args, kwargs, deprecated=(), defaults=None):
    """Bind a method's arguments as its argument clinic does, with CPython
    3.14's DeprecationWarning for `deprecated` ones given by keyword."""
    defaults = defaults or {}
    if len(args) > len(names):
        raise TypeError(f"{where}() takes at most {len(names)} arguments ({len(args)} given)")
    values = dict(zip(names, args))
    for key, value in kwargs.items():
        if key not in names:
            raise TypeError(f"{where}() got an unexpected keyword argument '{key}'")
        if key in values:
            raise TypeError(f"argument for {where}() given by name ('{key}') and position")
        values[key] = value
    if any(name in kwargs for name in deprecated):
        import warnings

        quoted = [f"'{name}'" for name in deprecated]
        listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]
        plural = "s" if len(quoted) > 1 else ""
        warnings.warn(
            f"Passing keyword argument{plural} {listed} to _sqlite3.Connection.{where}() is "
            f"deprecated. Parameter{plural} {listed} will become positional-only in Python 3.15.",
            DeprecationWarning,
            stacklevel=3,
        )
    for name in names:
        if name not in values:
            if name not in defaults:
                raise TypeError(f"{where}() missing required argument '{name}'")
            values[name] = defaults[name]
    return [values[name] for name in names]


def _checked_name(name, where, position="argument 1"):
    if not isinstance(name, str):
        raise TypeError(f"{where}() {position} must be str, not {_tname(name)}")
    if not name.isascii():
        name.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython
    return name


def _callable(value, what="parameter"):
    if value is not None and not callable(value):
        raise TypeError(f"{what} must be callable")


def _drop_lookups():
    while _lookups:
        _callbacks.pop(_lookups.pop(), None)


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


def _index(value):
    import operator

    return operator.index(value)


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


# -- rows and blobs ------------------------------------------------------------


class Row:
    __slots__ = ("_description", "_data")

    def __new__(cls, cursor, data, /, **kwargs):
        if kwargs:
            raise TypeError("Row() takes no keyword arguments")
        if not issubclass(type(cursor), Cursor):
            raise TypeError(f"Row() argument 1 must be sqlite3.Cursor, not {_tname(cursor)}")
        if not isinstance(data, tuple):
            raise TypeError(f"Row() argument 2 must be tuple, not {_tname(data)}")
        self = object.__new__(cls)
        self._description = cursor.description
        self._data = data
        return self

    def keys(self):
        return [d[0] for d in self._description or ()]

    def __getitem__(self, key):
        if isinstance(key, int):
            return self._data[key]
        if isinstance(key, str):
            folded = key.encode().lower() if key.isascii() else key
            for i, column in enumerate(self._description or ()):
                name = column[0]
                if name == key or (name.isascii() and key.isascii() and name.lower() == key.lower()):
                    return self._data[i]
            del folded
            if not self._description:
                raise IndexError(key)
            raise IndexError("No item with that key")
        if isinstance(key, slice):
            return self._data[key]
        raise IndexError("Index must be int or string")

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        return iter(self._data)

    def __hash__(self):
        return hash(self._description) ^ hash(self._data)

    def __eq__(self, other):
        if not isinstance(other, Row):
            return NotImplemented
        return self._description == other._description and self._data == other._data

    def __ne__(self, other):
        if not isinstance(other, Row):
            return NotImplemented
        return not self == other

    def __lt__(self, other):
        return NotImplemented

    __le__ = __gt__ = __ge__ = __lt__


class Blob:
    def __new__(cls, *args, **kwargs):
        raise TypeError("cannot create 'sqlite3.Blob' instances")

    @classmethod
    def _opened(cls, connection, handle):
        self = object.__new__(cls)
        self._connection = connection
        self._handle = handle
        return self

    def _live(self):
        self._connection._live()
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed blob.")

    __iter__ = None  # not a sequence: `in` and iteration are TypeErrors, as CPython

    def _do(self, name, *args):
        self._connection._live()
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed blob.")
        return _decode(_call(_cap.blob_call, self._handle, name, _encode(list(args))))

    def close(self):
        if self._handle is not None:
            self._connection._live()
            handle, self._handle = self._handle, None
            _call(_cap.blob_call, handle, "close", "[]")

    def read(self, length=-1, /):
        return self._do("read", _index(length))

    def write(self, data, /):
        self._do("write", _buffer(data))

    def seek(self, offset, origin=0, /):
        self._do("seek", _index(offset), _index(origin))

    def tell(self):
        return self._do("tell")

    def __len__(self):
        return self._do("len")

    def _key(self, key):
        if isinstance(key, slice):
            parts = []
            for part in (key.start, key.stop, key.step):
                if part is None:
                    parts.append(None)
                    continue
                try:
                    parts.append(_index(part))
                except TypeError:
                    raise TypeError(
                        "slice indices must be integers or None or have an __index__ method"
                    ) from None
            return {"\x00s": parts}
        if hasattr(type(key), "__index__"):
            return _index(key)
        raise TypeError("Blob indices must be integers")

    def __getitem__(self, key):
        self._live()
        return self._do("getitem", self._key(key))

    def __setitem__(self, key, value):
        self._live()
        key = self._key(key)
        if isinstance(key, dict):
            try:
                value = _buffer(value)
            except TypeError:
                raise TypeError(f"a bytes-like object is required, not '{_tname(value)}'") from None
        elif not isinstance(value, int):
            raise TypeError(f"'{_tname(value)}' object cannot be interpreted as an integer")
        self._do("setitem", key, value)

    def __delitem__(self, key):
        if isinstance(key, slice):
            raise TypeError("Blob doesn't support slice deletion")
        raise TypeError("Blob doesn't support item deletion")

    def __enter__(self):
        self._connection._live()
        if self._handle is None:
            raise ProgrammingError("Cannot operate on a closed blob.")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.__enter__()
        self.close()
        return False


def _load():
    """First import: what the provider's SQLite is (version, constants)."""
    info = _decode(_call(_cap.module_call, "info", "[]"))
    globals()["sqlite_version"] = info["sqlite_version"]
    globals()["threadsafety"] = info["threadsafety"]
    globals().update(info["constants"])


# Programs (and tracebacks) see sqlite3's names, as for the C module's types.
for _value in list(globals().values()):
    if isinstance(_value, type) and _value.__module__ == __name__:
        _value.__module__ = "sqlite3"
del _value
