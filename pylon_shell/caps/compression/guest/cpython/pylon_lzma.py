"""Runs INSIDE the CPython guest as `_lzma`, so the stdlib's lzma module (and
tarfile, zipfile and compression.lzma) work unchanged over
pylon:cap/compression: every format, check, preset and filter chain."""

import pylon_codecs

# liblzma's ABI values, for the defaults below (the same in every liblzma);
# the full set of constants comes from the host codec in _load().
FORMAT_AUTO, FORMAT_XZ, CHECK_UNKNOWN = 0, 1, 16


def _load():
    """Called when the guest first imports _lzma (not while the component is
    built: the constants are the host codec's)."""
    constants = pylon_codecs.constants()["lzma"]
    globals().update(constants)
    global __all__
    __all__ = [*constants, "LZMAError", "LZMACompressor", "LZMADecompressor", "is_check_supported"]


class LZMAError(Exception):
    """Call to liblzma failed."""


_OWN = {"LZMAError": LZMAError}


def _filter(spec):
    """One filter specifier as _lzma's C parser reads it: a mapping with an
    "id" and unsigned int options (their names and ranges the host checks)."""
    if isinstance(spec, (str, bytes, bytearray)) or not hasattr(type(spec), "keys"):
        raise TypeError("Filter specifier must be a dict or dict-like object")
    if "id" not in spec:
        raise ValueError('Filter specifier must have an "id" entry')
    out = {}
    for key in spec.keys():
        if not isinstance(key, str):
            raise TypeError("keywords must be strings")
        out[key] = pylon_codecs.c_unsigned(spec[key], 64 if key == "id" else 32)
    return out


def _filters(filters):
    if filters is None:
        return None
    if isinstance(filters, dict) or not hasattr(type(filters), "__getitem__"):
        raise TypeError("Filter specifier must be a sequence")
    if hasattr(type(filters), "keys"):
        raise TypeError("Filter specifier must be a sequence")
    return [_filter(spec) for spec in filters]


def _preset(preset):
    return None if preset is None else pylon_codecs.c_unsigned(preset)


def _memlimit(memlimit):
    return None if memlimit is None else pylon_codecs.c_unsigned(memlimit, 64)


class LZMACompressor(pylon_codecs.NotPickled):
    __slots__ = ("_handle", "__weakref__")

    def __new__(cls, format=FORMAT_XZ, check=-1, preset=None, filters=None):
        format, check = pylon_codecs.c_int(format), pylon_codecs.c_int(check)
        preset, filters = _preset(preset), _filters(filters)
        self = super().__new__(cls)
        self._handle = pylon_codecs.Handle(_OWN, "lzma-compressor", format, check, preset, filters)
        return self

    def compress(self, data, /):
        return pylon_codecs.compress(_OWN, self._handle, data)

    def flush(self):
        return pylon_codecs.flush(_OWN, self._handle)


class LZMADecompressor(pylon_codecs.Decompressor):
    __slots__ = ()

    def __new__(cls, format=FORMAT_AUTO, memlimit=None, filters=None):
        format, memlimit = pylon_codecs.c_int(format), _memlimit(memlimit)
        filters = _filters(filters)
        self = super().__new__(cls)
        self._start(_OWN, "lzma-decompressor", format, memlimit, filters)
        self._check = CHECK_UNKNOWN
        return self

    @property
    def check(self):
        return self._check


def is_check_supported(check_id, /):
    return pylon_codecs.function(
        _OWN, "lzma.is-check-supported", pylon_codecs.c_int(check_id)
    )[0]


def _encode_filter_properties(filter, /):
    return pylon_codecs.function(_OWN, "lzma.encode-filter-properties", _filter(filter))[0]


def _decode_filter_properties(filter_id, encoded_props, /):
    filter_id = pylon_codecs.c_unsigned(filter_id, 64)
    return pylon_codecs.function(
        _OWN, "lzma.decode-filter-properties", filter_id, pylon_codecs.as_bytes(encoded_props)
    )[0]


for _cls in (LZMAError, LZMACompressor, LZMADecompressor):
    _cls.__module__ = "_lzma"
