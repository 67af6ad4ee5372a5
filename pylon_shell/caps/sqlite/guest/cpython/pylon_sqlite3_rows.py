"""Runs INSIDE the CPython guest, part of the _sqlite3 stand-in
(pylon_sqlite3): sqlite3.Row (a row_factory over the cursor's description)
and sqlite3.Blob (Connection.blobopen; every method is a call on the
provider's own Blob)."""

from wit_world.imports import sqlite as _cap

from pylon_sqlite3_errors import ProgrammingError, _call, _tname
from pylon_sqlite3_values import _buffer, _decode, _encode, _index


class Row:
    __slots__ = ("_description", "_data")

    def __new__(cls, cursor, data, /, **kwargs):
        if kwargs:
            raise TypeError("Row() takes no keyword arguments")
        from pylon_sqlite3 import Cursor

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
