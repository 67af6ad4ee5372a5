"""The compression cap's host provider: bz2, lzma and zstd on the host's own codecs.

The guest's `_bz2`, `_lzma` and `_zstd` stand-ins hold handles to objects made
here from CPython's C codecs (zstd from `compression.zstd` on Python 3.14, else
`backports.zstd`, the same code), so every streaming rule (max_length,
needs_input, unused_data, eof, lzma's check, zstd's frame modes) is the
stdlib's, not a re-implementation. Every call checks the live grants.
"""

from __future__ import annotations

import builtins
import bz2
import importlib
import lzma
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.values import ProviderError, handle_counter

if TYPE_CHECKING:
    from pylon_shell.caps.model import Provider
    from pylon_shell.caps.registry import ProviderSetup

CAP = "compression"
#: Live codec objects a session may hold at once: a guest cannot grow the
#: host's memory without bound by leaking handles.
MAX_OBJECTS = 4096
#: The most output one decompress call makes, whatever max_length the guest
#: asks for: the stand-ins ask again for the rest, so a 400-byte bz2 bomb
#: never becomes hundreds of MiB in the provider at once.
MAX_OUTPUT = 8 << 20
#: The most a one-shot decompress (MicroPython's bz2/lzma/zstd.decompress)
#: may produce: its result is held whole on both sides.
MAX_ONE_SHOT = 64 << 20
#: Exceptions a codec raises that the guest re-raises as the same class.
_GUEST_ERRORS = (
    ValueError,
    TypeError,
    EOFError,
    OverflowError,
    MemoryError,
    OSError,
)


def zstd_module() -> Any:
    """The host's `_zstd`: the stdlib's on 3.14, else the backport's (same C code)."""
    try:
        return importlib.import_module("_zstd")
    except ImportError:
        return importlib.import_module("backports.zstd._zstd")


@dataclass(frozen=True)
class Decompressed:
    data: bytes
    eof: bool
    needs_input: bool
    unused_data: bytes
    check: int


class CompressionProvider:
    def __init__(self, grants: Grants) -> None:
        self._grants = grants
        self._objects: dict[int, tuple[str, Any]] = {}
        self._ids = handle_counter()
        self._lock = threading.Lock()
        self._zstd = zstd_module()

    # -- objects ---------------------------------------------------------

    def create(self, kind: str, args: list[Any]) -> int:
        makers: dict[str, Callable[..., Any]] = {
            "bz2-compressor": bz2.BZ2Compressor,
            "bz2-decompressor": bz2.BZ2Decompressor,
            "lzma-compressor": self._lzma_compressor,
            "lzma-decompressor": self._lzma_decompressor,
            "zstd-compressor": self._zstd_compressor,
            "zstd-decompressor": self._zstd_decompressor,
            "zstd-dict": lambda content, is_raw: self._zstd.ZstdDict(content, is_raw=is_raw),
        }
        maker = makers.get(kind)
        if maker is None:
            raise ProviderError("ValueError", f"unknown codec object {kind!r}")
        with self._grants.call(CAP, "create", kind):
            with self._lock:
                if len(self._objects) >= MAX_OBJECTS:
                    raise ProviderError(
                        "MemoryError", f"more than {MAX_OBJECTS} live codec objects"
                    )
            obj = _codec_errors(maker, *args)
            with self._lock:
                handle = next(self._ids)
                self._objects[handle] = (kind, obj)
        return handle

    def _object(self, handle: int, *kinds: str) -> Any:
        with self._lock:
            found = self._objects.get(handle)
        if found is None or (kinds and found[0] not in kinds):
            raise ProviderError("ValueError", "the codec object is closed or of another kind")
        return found[1]

    def drop(self, handle: int) -> None:
        with self._lock:
            self._objects.pop(handle, None)

    def close_all(self) -> None:
        with self._lock:
            self._objects.clear()

    @staticmethod
    def _lzma_compressor(
        format: int, check: int, preset: int | None, filters: list[dict[str, Any]] | None
    ) -> Any:
        return lzma.LZMACompressor(format, check, preset, filters)

    @staticmethod
    def _lzma_decompressor(
        format: int, memlimit: int | None, filters: list[dict[str, Any]] | None
    ) -> Any:
        return lzma.LZMADecompressor(format, memlimit, filters)

    def _zstd_dict(self, handle: int | None, mode: int) -> Any:
        """The guest's zstd_dict argument: none, a bare dict (mode -1), or (dict, mode)."""
        if handle is None:
            return None
        found = self._object(handle, "zstd-dict")
        return found if mode < 0 else (found, mode)

    def _zstd_compressor(
        self,
        level: int | None,
        options: dict[str, int] | None,
        dict_handle: int | None,
        dict_mode: int,
    ) -> Any:
        return self._zstd.ZstdCompressor(
            level, _int_keys(options), self._zstd_dict(dict_handle, dict_mode)
        )

    def _zstd_decompressor(
        self, dict_handle: int | None, dict_mode: int, options: dict[str, int] | None
    ) -> Any:
        return self._zstd.ZstdDecompressor(
            self._zstd_dict(dict_handle, dict_mode), _int_keys(options)
        )

    # -- streaming -------------------------------------------------------

    def compress(self, handle: int, data: bytes, mode: int) -> bytes:
        obj = self._object(handle, "bz2-compressor", "lzma-compressor", "zstd-compressor")
        with self._grants.call(CAP, "compress", f"{len(data)} bytes"):
            if mode < 0:
                return _codec_errors(obj.compress, data)
            return _codec_errors(obj.compress, data, mode)

    def flush(self, handle: int, mode: int) -> bytes:
        obj = self._object(handle, "bz2-compressor", "lzma-compressor", "zstd-compressor")
        with self._grants.call(CAP, "flush", ""):
            return _codec_errors(obj.flush) if mode < 0 else _codec_errors(obj.flush, mode)

    def decompress(self, handle: int, data: bytes, max_length: int) -> Decompressed:
        obj = self._object(handle, "bz2-decompressor", "lzma-decompressor", "zstd-decompressor")
        limit = MAX_OUTPUT if max_length < 0 else min(max_length, MAX_OUTPUT)
        with self._grants.call(CAP, "decompress", f"{len(data)} bytes"):
            out = _codec_errors(obj.decompress, data, limit)
        return Decompressed(
            out, obj.eof, obj.needs_input, obj.unused_data, getattr(obj, "check", -1)
        )

    # -- one-shot (MicroPython) ------------------------------------------

    def one_shot(self, codec: str, operation: str, data: bytes, options: dict[str, Any]) -> bytes:
        """bz2/lzma/zstd compress() or decompress() of the whole buffer, with the
        stdlib functions' keyword arguments."""
        modules: dict[str, Any] = {"bz2": bz2, "lzma": lzma, "zstd": self._zstd_functions()}
        module = modules.get(codec)
        if module is None or operation not in ("compress", "decompress"):
            raise ProviderError("ValueError", f"unknown codec {codec!r}")
        with self._grants.call(CAP, f"{codec}.{operation}", f"{len(data)} bytes"):
            if operation == "decompress":
                return _codec_errors(lambda: self._bounded_decompress(codec, data, options))
            function = getattr(module, operation)
            return _codec_errors(lambda: function(data, **options))

    def _bounded_decompress(self, codec: str, data: bytes, options: dict[str, Any]) -> bytes:
        """The stdlib's one-shot decompress (every concatenated stream or
        frame), through decompressor objects so the output stops at
        MAX_ONE_SHOT instead of filling the provider's memory."""
        makers: dict[str, Callable[[], Any]] = {
            "bz2": lambda: bz2.BZ2Decompressor(**options),
            "lzma": lambda: lzma.LZMADecompressor(**options),
            "zstd": lambda: self._zstd.ZstdDecompressor(**options),
        }
        out: list[bytes] = []
        total = 0
        while True:
            decompressor = makers[codec]()
            try:
                chunk = decompressor.decompress(data, MAX_ONE_SHOT + 1 - total)
            except Exception:
                if out and codec == "lzma":
                    break  # Trailing data that is not a stream: lzma.decompress ignores it.
                raise
            while True:
                total += len(chunk)
                out.append(chunk)
                if total > MAX_ONE_SHOT:
                    raise ProviderError(
                        "MemoryError",
                        f"the decompressed data is larger than {MAX_ONE_SHOT >> 20} MiB",
                    )
                if decompressor.eof or decompressor.needs_input:
                    break
                chunk = decompressor.decompress(b"", MAX_ONE_SHOT + 1 - total)
            if not decompressor.eof:
                raise ValueError(
                    "Compressed data ended before the end-of-stream marker was reached"
                )
            data = decompressor.unused_data
            if not data:
                break
        return b"".join(out)

    def _zstd_functions(self) -> Any:
        """zstd's one-shot functions: compression.zstd's, or the backport's."""
        try:
            return importlib.import_module("compression.zstd")
        except ImportError:
            return importlib.import_module("backports.zstd")

    # -- module functions ------------------------------------------------

    def call(self, name: str, args: list[Any]) -> list[Any]:
        functions: dict[str, Callable[..., list[Any]]] = {
            "constants": self._constants,
            "lzma.is-check-supported": lambda check: [lzma.is_check_supported(check)],
            "lzma.encode-filter-properties": lambda f: [
                # CPython's lzma exports these (for zipfile); typeshed leaves them out.
                lzma._encode_filter_properties(f)  # type: ignore[attr-defined]
            ],
            "lzma.decode-filter-properties": lambda fid, props: [
                _decode_filter_properties(fid, props)
            ],
            "lzma.check": lambda handle: [self._object(handle, "lzma-decompressor").check],
            "zstd.dict-id": lambda handle: [self._object(handle, "zstd-dict").dict_id],
            "zstd.set-pledged-input-size": lambda handle, size: [
                self._object(handle, "zstd-compressor").set_pledged_input_size(size)
            ],
            "zstd.get-frame-info": lambda frame: list(self._zstd.get_frame_info(frame)),
            "zstd.get-frame-size": lambda frame: [self._zstd.get_frame_size(frame)],
            "zstd.get-param-bounds": lambda parameter, is_compress: list(
                self._zstd.get_param_bounds(parameter, is_compress)
            ),
            "zstd.train-dict": lambda samples, sizes, size: [
                self._zstd.train_dict(samples, tuple(sizes), size)
            ],
            "zstd.finalize-dict": lambda custom, samples, sizes, size, level: [
                self._zstd.finalize_dict(custom, samples, tuple(sizes), size, level)
            ],
        }
        function = functions.get(name)
        if function is None:
            raise ProviderError("ValueError", f"unknown compression function {name!r}")
        with self._grants.call(CAP, name, ""):
            return _codec_errors(function, *args)

    def _constants(self) -> list[Any]:
        """The modules' constants, from the codecs that will serve the calls."""
        zstd = self._zstd
        names = {
            "lzma": {n: getattr(lzma, n) for n in dir(lzma) if n.isupper() and n[0] != "_"},
            "zstd": {
                n: getattr(zstd, n)
                for n in dir(zstd)
                if n.startswith("ZSTD_") or n in ("zstd_version_number", "zstd_version")
            },
        }
        sample = zstd.ZstdDict(b"\0" * 8, is_raw=True)
        names["zstd"]["_DICT_MODES"] = [
            sample.as_digested_dict[1],
            sample.as_undigested_dict[1],
            sample.as_prefix[1],
        ]
        names["zstd"]["_MODES"] = [
            zstd.ZstdCompressor.CONTINUE,
            zstd.ZstdCompressor.FLUSH_BLOCK,
            zstd.ZstdCompressor.FLUSH_FRAME,
        ]
        return [names]


def _codec_errors(call: Callable[..., Any], *args: Any) -> Any:
    """A codec's own error, raised in the guest as the same class: the codec
    modules' LZMAError and ZstdError, or the builtin exception it is."""
    try:
        return call(*args)
    except ProviderError:
        raise
    except Exception as error:
        name = type(error).__name__
        if name in ("LZMAError", "ZstdError"):
            raise ProviderError(name, str(error)) from None
        for builtin in _GUEST_ERRORS:
            if isinstance(error, builtin):
                kind = name if getattr(builtins, name, None) is type(error) else builtin.__name__
                raise ProviderError(kind, str(error)) from None
        raise


#: liblzma's branch/call/jump filters, whose properties may be empty.
_BCJ_FILTERS = frozenset(
    getattr(lzma, name)
    for name in (
        "FILTER_X86",
        "FILTER_POWERPC",
        "FILTER_IA64",
        "FILTER_ARM",
        "FILTER_ARMTHUMB",
        "FILTER_SPARC",
    )
)


def _decode_filter_properties(filter_id: Any, props: Any) -> dict[str, Any]:
    """lzma._decode_filter_properties, without the crash of CPython < 3.12's
    _lzma on a BCJ filter with empty properties (gh-104282: it dereferenced a
    NULL options pointer); 3.12+ returns just the id, as this does."""
    if type(filter_id) is not int or not isinstance(props, bytes):
        raise TypeError("filter id must be an int and properties bytes")
    if filter_id in _BCJ_FILTERS and not props:
        return {"id": filter_id}
    # CPython's lzma exports it (for zipfile); typeshed leaves it out.
    return lzma._decode_filter_properties(filter_id, props)  # type: ignore[attr-defined]


def _int_keys(options: dict[str, int] | None) -> dict[int, int] | None:
    """zstd options arrive as JSON objects, whose keys are text."""
    if options is None:
        return None
    return {int(key): value for key, value in options.items()}


def make(grants: Grants, setup: ProviderSetup) -> CompressionProvider:
    return CompressionProvider(grants)


def backing(provider: Provider) -> str:
    """What `pylon caps` says backs the codecs: the host's CPython and zstd."""
    import platform

    zstd = zstd_module()
    return (
        f"bz2 and lzma of the host's CPython {platform.python_version()}; "
        f"zstd {zstd.zstd_version} ({zstd.__name__})"
    )
