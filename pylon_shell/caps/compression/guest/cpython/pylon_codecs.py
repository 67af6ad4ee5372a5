"""Runs INSIDE the CPython guest: what the _bz2, _lzma and _zstd stand-ins share.

Each codec object is a handle to the host's own codec object (pylon:cap/
compression), so the stdlib's rules hold because the stdlib's code runs them.
This side only moves bytes: in pieces of at most CHUNK per call (one call
must not copy too much between host and guest), re-assembled so the caller
sees exactly what one call to the codec would have given.
"""

from wit_world.imports import compression as _cap

import pylon_caps
import pylon_values

CHUNK = 8 << 20
_constants = []


def constants():
    """The host codecs' constants (fetched once)."""
    if not _constants:
        _constants.append(function({}, "constants")[0])
    return _constants[0]


def call(own, function, *args):
    """A host call; its failure raised as `own[kind]` (the module's error
    classes) or the builtin exception of that name."""
    return pylon_caps.call_provider(own, OSError, function, *args)


def function(own, name, *args):
    """One of the codec modules' functions on the host."""
    values = call(own, _cap.call, name, [pylon_values.to_wire(a) for a in args])
    return [pylon_values.from_wire(v) for v in values]


def c_int(value, kind="int"):
    """An int argument as the C codec modules convert it (a C int, or with
    kind "ssize_t" a Py_ssize_t), with their TypeError and OverflowError."""
    if isinstance(value, float) or not hasattr(type(value), "__index__"):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    value = value.__index__()
    bits = 32 if kind == "int" else 64
    if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise OverflowError(f"Python int too large to convert to C {kind}")
    return value


def c_unsigned(value, bits=32):
    """An unsigned int argument as CPython 3.14's converters take it: TypeError
    for a non-int, ValueError for a negative one, OverflowError past the type."""
    if isinstance(value, float) or not hasattr(type(value), "__index__"):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    value = value.__index__()
    if value < 0:
        raise ValueError("value must be positive")
    if value >= 2**bits:
        raise OverflowError(f"Python int too large for C unsigned {'int' if bits == 32 else 'long'}")
    return value


class NotPickled:
    """CPython's codec objects are C types that cannot be pickled or copied."""

    __slots__ = ()

    def __reduce_ex__(self, protocol):
        cls = type(self)
        raise TypeError(f"cannot pickle '{cls.__module__}.{cls.__qualname__}' object")


def as_bytes(data):
    """What the codecs accept: any bytes-like object, as bytes."""
    if isinstance(data, bytes):
        return data
    return memoryview(data).cast("B").tobytes()


class Handle:
    """A host codec object, dropped when the guest object is."""

    __slots__ = ("id",)

    def __init__(self, own, kind, *args):
        self.id = None
        self.id = call(own, _cap.create, kind, [pylon_values.to_wire(a) for a in args])

    def __del__(self):
        if self.id is not None:
            try:
                _cap.drop(self.id)
            except Exception:
                pass


def compress(own, handle, data, mode=-1, continue_mode=-1):
    mode = c_int(mode)
    data = as_bytes(data)
    if len(data) <= CHUNK:
        return _compress(own, handle, data, mode)
    out = []
    for start in range(0, len(data), CHUNK):
        last = start + CHUNK >= len(data)
        piece = data[start : start + CHUNK]
        out.append(_compress(own, handle, piece, mode if last else continue_mode))
    return b"".join(out)


def _compress(own, handle, data, mode):
    octets = pylon_caps.octets(data)
    return pylon_caps.from_octets(call(own, _cap.compress, handle.id, octets, mode))


def flush(own, handle, mode=-1):
    mode = c_int(mode)
    return pylon_caps.from_octets(call(own, _cap.flush, handle.id, mode))


class Decompressor(NotPickled):
    """The decompressor side of every codec: the stdlib's decompress() contract.

    As in CPython's C types, the object is made whole by `__new__` (the
    subclasses' `__new__` calls `_start`), so `cls.__new__(cls)` alone gives a
    working decompressor with the default arguments."""

    __slots__ = ("_own", "_handle", "_eof", "_needs_input", "_unused_data", "_check", "_failed",
                 "__weakref__")
    #: Whether a data error leaves the object unusable (CPython 3.14's bz2: a
    #: later call raises ValueError instead of reaching libbzip2 in a bad state).
    _refuse_after_error = False

    def _start(self, own, kind, *args):
        self._own = own
        self._handle = Handle(own, kind, *args)
        self._eof = False
        self._needs_input = True
        self._unused_data = b""
        self._check = -1
        self._failed = False

    @property
    def eof(self):
        return self._eof

    @property
    def needs_input(self):
        return self._needs_input

    @property
    def unused_data(self):
        return self._unused_data

    def decompress(self, data, max_length=-1):
        max_length = c_int(max_length, "ssize_t")
        data = as_bytes(data)
        if self._failed:
            raise ValueError(
                f"{type(self).__name__} cannot be used after a previous error"
            )
        try:
            return self._decompress(data, max_length)
        except PermissionError:
            raise
        except (OSError, MemoryError):
            if self._refuse_after_error:
                self._failed = True
                self._needs_input = False
            raise

    def _decompress(self, data, max_length):
        pieces = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)] or [b""]
        out = []
        got = 0
        for index, piece in enumerate(pieces):
            while True:
                if max_length < 0:
                    limit = CHUNK
                else:
                    limit = min(CHUNK, max_length - got)
                result = call(
                    self._own, _cap.decompress, self._handle.id, pylon_caps.octets(piece), limit
                )
                piece = b""
                data_out = pylon_caps.from_octets(result.data)
                out.append(data_out)
                got += len(data_out)
                self._eof = result.eof
                self._needs_input = result.needs_input
                self._unused_data = pylon_caps.from_octets(result.unused_data)
                self._check = result.check
                if result.eof:
                    # What one call would have left over: the rest of the input too.
                    self._unused_data += b"".join(pieces[index + 1 :])
                    return b"".join(out)
                if result.needs_input or (max_length >= 0 and got >= max_length):
                    break
                # The host stopped at this call's CHUNK of output with more to give.
        return b"".join(out)


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
pylon_caps.declare_signatures(
    "compression",
    {
        "create": ("string", ("list", "value")),
        "compress": ("u32", "octets", "s32"),
        "flush": ("u32", "s32"),
        "decompress": ("u32", "octets", "s64"),
        "call": ("string", ("list", "value")),
        "drop": ("u32",),
    },
)
