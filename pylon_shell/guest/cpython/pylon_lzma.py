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


def _filters(filters):
    return None if filters is None else [dict(f) for f in filters]


class LZMACompressor:
    def __init__(self, format=FORMAT_XZ, check=-1, preset=None, filters=None):
        self._handle = pylon_codecs.Handle(
            _OWN, "lzma-compressor", format, check, preset, _filters(filters)
        )

    def compress(self, data, /):
        return pylon_codecs.compress(_OWN, self._handle, data)

    def flush(self):
        return pylon_codecs.flush(_OWN, self._handle)


class LZMADecompressor(pylon_codecs.Decompressor):
    def __init__(self, format=FORMAT_AUTO, memlimit=None, filters=None):
        super().__init__(_OWN, "lzma-decompressor", format, memlimit, _filters(filters))
        self._check = CHECK_UNKNOWN

    @property
    def check(self):
        return self._check


def is_check_supported(check_id, /):
    return pylon_codecs.function(_OWN, "lzma.is-check-supported", check_id)[0]


def _encode_filter_properties(filter, /):
    return pylon_codecs.function(_OWN, "lzma.encode-filter-properties", dict(filter))[0]


def _decode_filter_properties(filter_id, encoded_props, /):
    return pylon_codecs.function(
        _OWN, "lzma.decode-filter-properties", filter_id, bytes(encoded_props)
    )[0]


for _cls in (LZMAError, LZMACompressor, LZMADecompressor):
    _cls.__module__ = "_lzma"
