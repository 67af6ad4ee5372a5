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


class ZstdDict(pylon_codecs.NotPickled):
    """A dictionary on the host; `dict_content` is kept here too (finalize_dict
    and the stdlib read it)."""

    __slots__ = ("_content", "_handle", "_id", "__weakref__")

    def __new__(cls, dict_content, /, *, is_raw=False):
        content = pylon_codecs.as_bytes(dict_content)
        self = super().__new__(cls)
        self._content = content
        self._handle = pylon_codecs.Handle(_OWN, "zstd-dict", content, bool(is_raw))
        self._id = pylon_codecs.function(_OWN, "zstd.dict-id", self._handle.id)[0]
        return self

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
    """(handle, mode) for the host, checked as _zstd's C code does; mode -1
    passes a bare ZstdDict, which the host's _zstd then loads as it always does."""
    if zstd_dict is None:
        return None, -1
    if isinstance(zstd_dict, ZstdDict):
        return zstd_dict._handle.id, -1
    if (
        type(zstd_dict) is tuple
        and len(zstd_dict) == 2
        and isinstance(zstd_dict[0], ZstdDict)
        and isinstance(zstd_dict[1], int)
    ):
        mode = pylon_codecs.c_int(zstd_dict[1])
        if mode in (_DIGESTED, _UNDIGESTED, _PREFIX):
            return zstd_dict[0]._handle.id, mode
    raise TypeError("zstd_dict argument should be a ZstdDict object.")


#: The stdlib's CompressionParameter and DecompressionParameter (set_parameter_types).
_PARAMETER_TYPES = [None, None]


def _options(options, compress):
    """The options dict as _zstd's C code reads it: int keys and values (C int)."""
    if options is None:
        return None
    if not isinstance(options, dict):
        name = "ZstdCompressor" if compress else "ZstdDecompressor"
        raise TypeError(f"{name}() argument 'options' must be dict, not {type(options).__name__}")
    wrong = _PARAMETER_TYPES[1 if compress else 0]
    out = {}
    for key, value in options.items():
        if wrong is not None and type(key) is wrong:
            if compress:
                raise TypeError(
                    "compression options dictionary key must not be a "
                    "DecompressionParameter attribute"
                )
            raise TypeError(
                "decompression options dictionary key must not be a "
                "CompressionParameter attribute"
            )
        out[str(pylon_codecs.c_int(key))] = pylon_codecs.c_int(value)
    return out


def _level(level):
    if level is None:
        return None
    if isinstance(level, float) or not hasattr(type(level), "__index__"):
        raise TypeError(f"'{type(level).__name__}' object cannot be interpreted as an integer")
    level = level.__index__()
    if not -(2**31) <= level < 2**31:
        low, high = get_param_bounds(100, True)  # ZSTD_c_compressionLevel
        raise ValueError(f"illegal compression level; the valid range is [{low}, {high}]")
    return level


class ZstdCompressor(pylon_codecs.NotPickled):
    __slots__ = ("_handle", "last_mode", "__weakref__")
    CONTINUE = _CONTINUE
    FLUSH_BLOCK = _FLUSH_BLOCK
    FLUSH_FRAME = _FLUSH_FRAME

    def __new__(cls, level=None, options=None, zstd_dict=None):
        level, options = _level(level), _options(options, True)
        handle, mode = _dict_args(zstd_dict)
        self = super().__new__(cls)
        self._handle = pylon_codecs.Handle(_OWN, "zstd-compressor", level, options, handle, mode)
        self.last_mode = _FLUSH_FRAME
        return self

    def compress(self, data, mode=_CONTINUE):
        mode = pylon_codecs.c_int(mode)
        if mode not in (_CONTINUE, _FLUSH_BLOCK, _FLUSH_FRAME):
            raise ValueError(
                "mode argument wasn't one of ZstdCompressor.CONTINUE, "
                "ZstdCompressor.FLUSH_BLOCK, ZstdCompressor.FLUSH_FRAME."
            )
        out = pylon_codecs.compress(_OWN, self._handle, data, mode, _CONTINUE)
        self.last_mode = mode
        return out

    def flush(self, mode=_FLUSH_FRAME):
        mode = pylon_codecs.c_int(mode)
        if mode not in (_FLUSH_BLOCK, _FLUSH_FRAME):
            raise ValueError(
                "mode argument wasn't one of ZstdCompressor.FLUSH_BLOCK, "
                "ZstdCompressor.FLUSH_FRAME."
            )
        out = pylon_codecs.flush(_OWN, self._handle, mode)
        self.last_mode = mode
        return out

    def set_pledged_input_size(self, size, /):
        if size is not None and not isinstance(size, int):
            raise TypeError(f"'{type(size).__name__}' object cannot be interpreted as an integer")
        pylon_codecs.function(_OWN, "zstd.set-pledged-input-size", self._handle.id, size)


class ZstdDecompressor(pylon_codecs.Decompressor):
    __slots__ = ()

    def __new__(cls, zstd_dict=None, options=None):
        handle, mode = _dict_args(zstd_dict)
        options = _options(options, False)
        self = super().__new__(cls)
        self._start(_OWN, "zstd-decompressor", handle, mode, options)
        return self


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


def _samples(samples_bytes, samples_sizes, dict_size):
    """train_dict's and finalize_dict's arguments, checked as _zstd's C code does."""
    if type(samples_bytes) is not bytes:
        name = type(samples_bytes).__name__
        raise TypeError(f"argument 'samples_bytes' must be bytes, not {name}")
    if type(samples_sizes) is not tuple:
        name = type(samples_sizes).__name__
        raise TypeError(f"argument 'samples_sizes' must be tuple, not {name}")
    dict_size = pylon_codecs.c_int(dict_size, "ssize_t")
    sizes = []
    for size in samples_sizes:
        if isinstance(size, float) or not hasattr(type(size), "__index__"):
            raise TypeError(f"'{type(size).__name__}' object cannot be interpreted as an integer")
        size = size.__index__()
        if not 0 <= size < 2**64:
            raise ValueError(
                "Items in samples_sizes should be an int object, with a value between 0 and "
                f"{2**64 - 1}."
            )
        sizes.append(size)
    if sum(sizes) != len(samples_bytes):
        raise ValueError("The samples size tuple doesn't match the concatenation's size.")
    if dict_size <= 0:
        raise ValueError("dict_size argument should be positive number.")
    return sizes, dict_size


def train_dict(samples_bytes, samples_sizes, dict_size, /):
    sizes, dict_size = _samples(samples_bytes, samples_sizes, dict_size)
    return pylon_codecs.function(_OWN, "zstd.train-dict", samples_bytes, sizes, dict_size)[0]


def finalize_dict(custom_dict_bytes, samples_bytes, samples_sizes, dict_size, compression_level, /):
    if type(custom_dict_bytes) is not bytes:
        raise TypeError(
            f"argument 'custom_dict_bytes' must be bytes, not {type(custom_dict_bytes).__name__}"
        )
    sizes, dict_size = _samples(samples_bytes, samples_sizes, dict_size)
    compression_level = pylon_codecs.c_int(compression_level)
    return pylon_codecs.function(
        _OWN,
        "zstd.finalize-dict",
        custom_dict_bytes,
        samples_bytes,
        sizes,
        dict_size,
        compression_level,
    )[0]


def set_parameter_types(c_parameter_type, d_parameter_type, /):
    """The stdlib registers its enums: kept to refuse one where the other belongs
    (error messages name the host codec's own parameters)."""
    if not (isinstance(c_parameter_type, type) and isinstance(d_parameter_type, type)):
        raise ValueError("The two arguments should be CompressionParameter and "
                         "DecompressionParameter types.")
    _PARAMETER_TYPES[:] = [c_parameter_type, d_parameter_type]


for _cls in (ZstdError, ZstdDict, ZstdCompressor, ZstdDecompressor):
    _cls.__module__ = "_zstd"
