"""Runs INSIDE the CPython guest, part of the _sqlite3 stand-in
(pylon_sqlite3): the program's Python callbacks (functions, aggregates,
collations, authorizer, progress and trace handlers), registered by number.
The provider's SQLite calls them mid-statement through
pylon:cap/sqlite-callbacks; the host passes each call to this interpreter's
export (SqliteCallbacks -> _invoke, which the session adopts as its own:
EXPORTS) while the program waits in its own sqlite call."""

import builtins
import sys

import wit_world
from componentize_py_types import Err
from wit_world.imports import types as _wire

from pylon_sqlite3_errors import _ERRORS
from pylon_sqlite3_values import _SCALARS, _buffer, _decode, _encode, _scalar
from pylon_sqlite3_values import (  # noqa: F401
    _lookups,
)

_callback_tracebacks = [False]

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
    if isinstance(value, _SCALARS):
        return _scalar(value)
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



def _drop_lookups():
    while _lookups:
        _callbacks.pop(_lookups.pop(), None)


class SqliteCallbacks(wit_world.exports.SqliteCallbacks):
    """The sqlite provider's SQLite calling the program's Python callbacks
    (create_function, ...) while the program waits in its sqlite3 call."""

    def invoke(self, target, method, arguments):
        return _invoke(target, method, arguments)


#: The world's exports this module implements (pylon_session makes them its own).
EXPORTS = ("SqliteCallbacks",)
