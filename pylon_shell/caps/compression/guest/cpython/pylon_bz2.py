"""Runs INSIDE the CPython guest as `_bz2`, so the stdlib's bz2 module (and
tarfile, and compression.bz2) work unchanged over pylon:cap/compression."""

import pylon_codecs

_OWN = {}


class BZ2Compressor(pylon_codecs.NotPickled):
    __slots__ = ("_handle", "__weakref__")

    def __new__(cls, compresslevel=9, /):
        compresslevel = pylon_codecs.c_int(compresslevel)
        if not 1 <= compresslevel <= 9:
            raise ValueError("compresslevel must be between 1 and 9")
        self = super().__new__(cls)
        self._handle = pylon_codecs.Handle(_OWN, "bz2-compressor", compresslevel)
        return self

    def compress(self, data, /):
        return pylon_codecs.compress(_OWN, self._handle, data)

    def flush(self):
        return pylon_codecs.flush(_OWN, self._handle)


class BZ2Decompressor(pylon_codecs.Decompressor):
    __slots__ = ()
    _refuse_after_error = True

    def __new__(cls, /):
        self = super().__new__(cls)
        self._start(_OWN, "bz2-decompressor")
        return self


BZ2Compressor.__module__ = BZ2Decompressor.__module__ = "_bz2"
