"""Runs INSIDE the CPython guest as `_zstd`, so the 3.14 stdlib's
compression.zstd (ZstdFile, open, dictionaries, options, frame info) works
unchanged over pylon:cap/compression."""

import pylon_codecs

# zstd's ABI values (ZSTD_e_continue, ZSTD_e_flush, ZSTD_e_end), for defaults.
_CONTINUE, _FLUSH_BLOCK, _FLUSH_FRAME = 0, 1, 2
_DIGESTED = _UNDIGESTED = _PREFIX = None


def _load():
    """Called when the guest first imports _zstd (not while the component is
    built: the constants are the host codec's)."""
    global _DIGESTED, _UNDIGESTED, _PREFIX
    constants = dict(pylon_codecs.constants()["zstd"])
    _DIGESTED, _UNDIGESTED, _PREFIX = constants.pop("_DICT_MODES")
    modes = constants.pop("_MODES")
    if modes != [_CONTINUE, _FLUSH_BLOCK, _FLUSH_FRAME]:
        raise ImportError(f"the host's zstd has unexpected frame modes {modes}")
    globals().update(constants)


class ZstdError(Exception):
    """An error occurred in the zstd library."""


_OWN = {"ZstdError": ZstdError}


class ZstdDict:
    """A dictionary on the host; `dict_content` is kept here too (finalize_dict
    and the stdlib read it)."""

    def __init__(self, dict_content, /, *, is_raw=False):
        self._content = pylon_codecs.as_bytes(dict_content)
        self._handle = pylon_codecs.Handle(_OWN, "zstd-dict", self._content, bool(is_raw))
        self._id = pylon_codecs.function(_OWN, "zstd.dict-id", self._handle.id)[0]

    @property
    def dict_content(self):
        return self._content

    @property
    def dict_id(self):
        return self._id

    @property
    def as_digested_dict(self):
        return (self, _DIGESTED)

    @property
    def as_undigested_dict(self):
        return (self, _UNDIGESTED)

    @property
    def as_prefix(self):
        return (self, _PREFIX)

    def __len__(self):
        return len(self._content)

    def __repr__(self):
        return f"<ZstdDict dict_id={self._id} dict_size={len(self._content)}>"


def _dict_args(zstd_dict):
    """(handle, mode) for the host; mode -1 passes a bare ZstdDict, which the
    host's _zstd then loads as it always does."""
    if zstd_dict is None:
        return None, -1
    if isinstance(zstd_dict, tuple) and len(zstd_dict) == 2 and isinstance(zstd_dict[0], ZstdDict):
        return zstd_dict[0]._handle.id, zstd_dict[1]
    if isinstance(zstd_dict, ZstdDict):
        return zstd_dict._handle.id, -1
    raise TypeError("zstd_dict argument should be a ZstdDict object.")


def _options(options):
    if options is None:
        return None
    if not isinstance(options, dict):
        raise TypeError("options must be a dict or None")
    return {str(int(key)): int(value) for key, value in options.items()}


class ZstdCompressor:
    CONTINUE = _CONTINUE
    FLUSH_BLOCK = _FLUSH_BLOCK
    FLUSH_FRAME = _FLUSH_FRAME

    def __init__(self, level=None, options=None, zstd_dict=None):
        handle, mode = _dict_args(zstd_dict)
        self._handle = pylon_codecs.Handle(
            _OWN,
            "zstd-compressor",
            level,
            _options(options),
            handle,
            mode,
        )
        self.last_mode = _FLUSH_FRAME

    def compress(self, data, mode=_CONTINUE):
        out = pylon_codecs.compress(_OWN, self._handle, data, mode, _CONTINUE)
        self.last_mode = mode
        return out

    def flush(self, mode=_FLUSH_FRAME):
        out = pylon_codecs.flush(_OWN, self._handle, mode)
        self.last_mode = mode
        return out

    def set_pledged_input_size(self, size, /):
        pylon_codecs.function(_OWN, "zstd.set-pledged-input-size", self._handle.id, size)


class ZstdDecompressor(pylon_codecs.Decompressor):
    def __init__(self, zstd_dict=None, options=None):
        handle, mode = _dict_args(zstd_dict)
        super().__init__(
            _OWN,
            "zstd-decompressor",
            handle,
            mode,
            _options(options),
        )


def get_frame_info(frame_buffer):
    return tuple(
        pylon_codecs.function(_OWN, "zstd.get-frame-info", pylon_codecs.as_bytes(frame_buffer))
    )


def get_frame_size(frame_buffer):
    return pylon_codecs.function(
        _OWN, "zstd.get-frame-size", pylon_codecs.as_bytes(frame_buffer)
    )[0]


def get_param_bounds(parameter, is_compress):
    return tuple(pylon_codecs.function(_OWN, "zstd.get-param-bounds", int(parameter), is_compress))


def train_dict(samples_bytes, samples_sizes, dict_size, /):
    return pylon_codecs.function(
        _OWN, "zstd.train-dict", bytes(samples_bytes), list(samples_sizes), dict_size
    )[0]


def finalize_dict(custom_dict_bytes, samples_bytes, samples_sizes, dict_size, compression_level, /):
    return pylon_codecs.function(
        _OWN,
        "zstd.finalize-dict",
        bytes(custom_dict_bytes),
        bytes(samples_bytes),
        list(samples_sizes),
        dict_size,
        compression_level,
    )[0]


def set_parameter_types(c_parameter_type, d_parameter_type, /):
    """The stdlib registers its enums for error messages; the host's codec has its own."""


for _cls in (ZstdError, ZstdDict, ZstdCompressor, ZstdDecompressor):
    _cls.__module__ = "_zstd"
