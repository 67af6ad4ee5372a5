"""Runs INSIDE the CPython guest, part of the _sqlite3 stand-in
(pylon_sqlite3): values as they cross to the SQLite provider (JSON text, the
WIT's `packed`), parameters bound as CPython's bind_parameters does
(adapters, __conform__, PrepareProtocol), converters and text_factory
applied when a row is read, and the argument checks the stand-in's methods
share."""

import binascii
import json
import os
import sys

from pylon_sqlite3_errors import OperationalError, ProgrammingError, _tname

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

    # This stand-in's modules, and the stdlib's sqlite3 package.
    own = (
        os.path.join(os.path.dirname(__file__), "pylon_sqlite3"),
        os.path.dirname(function.__code__.co_filename) + "/",
    )

    def call(value):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = function(value)
        for found in caught:
            level, frame = 1, sys._getframe(0)
            while frame is not None and frame.f_code.co_filename.startswith(own):
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


_SCALARS = (type(None), int, float, str)


def _scalar(value):
    """None, an int, a float or a str (subclasses too) as SQLite stores it,
    checked as CPython checks it: an int past 64 bits is OverflowError, a lone
    surrogate UnicodeEncodeError."""
    if value is None:
        return None
    if isinstance(value, int):
        if not -(1 << 63) <= value < (1 << 63):
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return int(value)
    if isinstance(value, float):
        return float(value)
    value = str.__str__(value)
    if not value.isascii():
        value.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython
    return value


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
    if isinstance(value, _SCALARS):
        return _scalar(value)
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
            from pylon_sqlite3_callbacks import _register

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



def _index(value):
    import operator

    return operator.index(value)
