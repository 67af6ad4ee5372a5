"""Runs INSIDE the CPython guest, part of the _sqlite3 stand-in
(pylon_sqlite3): the DB-API exception classes and how a provider failure
becomes one (its SQLite error code and name included)."""

import builtins

from componentize_py_types import Err

import pylon_caps

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



def _tname(value):
    return type(value).__name__
