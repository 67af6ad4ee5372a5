"""The lz4 package's host provider: LZ4 frames made and read by the lz4 distribution.

It runs in the provider process (caps/worker.py), which checks the compression
grant and each call's fit to these signatures before it runs. The guest's
`lz4.frame` (guest/frame.py) keeps the Python layer of the lz4 package (its
compressor and decompressor objects, LZ4FrameFile); only the C codec runs
here, on a compression or decompression context the guest names by handle.

Every value comes from the guest, so the costs are bounded here, whatever the
guest asks: a call takes at most MAX_INPUT bytes and makes at most MAX_OUTPUT
bytes of decompressed data (an LZ4 frame expands up to 255 times, and its
header may claim any content size: the library's own one-shot `decompress`
allocates what the header claims, so it never runs on guest data unbounded),
and at most MAX_OBJECTS contexts live at once (one holds up to two 4 MiB
blocks). A context is only held while a frame is being made or read: the
guest drops it at the frame's end.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lz4
import lz4.frame as frame

from pylon_shell.caps.values import ProviderError, handle_counter

#: The most bytes one call may carry to the codec.
MAX_INPUT = 16 << 20
#: The most decompressed bytes one call makes (the compression cap's bound).
MAX_OUTPUT = 8 << 20
#: Contexts alive at once in one session.
MAX_OBJECTS = 64
#: Errors the library raises that reach the guest as the same class.
_ERRORS = (RuntimeError, ValueError, TypeError, OverflowError, MemoryError)

_COMPRESSOR = "compressor"
_DECOMPRESSOR = "decompressor"


def _bytes(value: Any, what: str = "data") -> bytes:
    if not isinstance(value, bytes):
        raise ProviderError("TypeError", f"{what} must be bytes, not {type(value).__name__}")
    if len(value) > MAX_INPUT:
        raise ProviderError("ValueError", f"at most {MAX_INPUT >> 20} MiB of {what} a call")
    return value


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProviderError("TypeError", f"{what} must be an int")
    return value


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise ProviderError("TypeError", f"{what} must be a bool")
    return value


def _library(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The library's call; its error raised in the guest as the same class."""
    try:
        return call(*args, **kwargs)
    except ProviderError:
        raise
    except _ERRORS as error:
        kind = next(e.__name__ for e in _ERRORS if isinstance(error, e))
        raise ProviderError(kind, str(error)) from None


def _settings(
    level: Any, block_size: Any, content_checksum: Any, block_checksum: Any, block_linked: Any
) -> dict[str, Any]:
    return {
        "compression_level": _int(level, "compression_level"),
        "block_size": _int(block_size, "block_size"),
        "content_checksum": _flag(content_checksum, "content_checksum"),
        "block_checksum": _flag(block_checksum, "block_checksum"),
        "block_linked": _flag(block_linked, "block_linked"),
    }


class LZ4Provider:
    def __init__(self, grants: Any, memory_mib: int | None = None) -> None:
        self._objects: dict[int, tuple[str, Any]] = {}
        self._ids = handle_counter()

    # -- objects -----------------------------------------------------------

    def _add(self, kind: str, context: Any) -> int:
        handle = next(self._ids)
        self._objects[handle] = (kind, context)
        return handle

    def _room(self) -> None:
        if len(self._objects) >= MAX_OBJECTS:
            raise ProviderError(
                "MemoryError",
                f"more than {MAX_OBJECTS} lz4 frames open at once (close or finish some)",
            )

    def _get(self, handle: Any, kind: str) -> Any:
        usable = isinstance(handle, int) and not isinstance(handle, bool)
        found = self._objects.get(handle) if usable else None
        if found is None or found[0] != kind:
            raise ProviderError("ValueError", f"the lz4 {kind} context is gone")
        return found[1]

    def drop(self, handle: int) -> None:
        if isinstance(handle, int):
            self._objects.pop(handle, None)

    # -- the library ---------------------------------------------------------

    def versions(self) -> tuple[Any, ...]:
        """The lz4 package's and C library's versions, and the block size ids."""
        return (
            lz4.__version__,
            lz4.library_version_number(),
            lz4.library_version_string(),
            frame.BLOCKSIZE_DEFAULT,
            frame.BLOCKSIZE_MAX64KB,
            frame.BLOCKSIZE_MAX256KB,
            frame.BLOCKSIZE_MAX1MB,
            frame.BLOCKSIZE_MAX4MB,
        )

    def compress(
        self, data: bytes, level: int, block_size: int, content_checksum: bool,
        block_checksum: bool, block_linked: bool, store_size: bool,
    ) -> bytes:  # fmt: skip
        """lz4.frame.compress of one call's data: a whole frame."""
        settings = _settings(level, block_size, content_checksum, block_checksum, block_linked)
        store = _flag(store_size, "store_size")
        return _library(frame.compress, _bytes(data), store_size=store, **settings)

    def compressor(
        self, level: int, block_size: int, content_checksum: bool, block_checksum: bool,
        block_linked: bool, auto_flush: bool, source_size: int,
    ) -> tuple[int, bytes]:  # fmt: skip
        """A frame begun: its context's handle and the frame header."""
        settings = _settings(level, block_size, content_checksum, block_checksum, block_linked)
        size = _int(source_size, "source_size")
        if not 0 <= size < 1 << 64:
            raise ProviderError("OverflowError", "source_size must fit in 64 bits, unsigned")
        self._room()
        context = _library(frame.create_compression_context)
        header = _library(
            frame.compress_begin,
            context,
            source_size=size,
            auto_flush=_flag(auto_flush, "auto_flush"),
            **settings,
        )
        return self._add(_COMPRESSOR, context), header

    def compress_chunk(self, handle: int, data: bytes) -> bytes:
        return _library(frame.compress_chunk, self._get(handle, _COMPRESSOR), _bytes(data))

    def compress_flush(self, handle: int) -> bytes:
        """The frame's end; its context is gone after it."""
        context = self._get(handle, _COMPRESSOR)
        self.drop(handle)
        return _library(frame.compress_flush, context, end_frame=True)

    def decompressor(self) -> int:
        self._room()
        return self._add(_DECOMPRESSOR, _library(frame.create_decompression_context))

    def decompress_chunk(
        self, handle: int, data: bytes, max_length: int
    ) -> tuple[bytes, int, bool]:
        """decompress_chunk: (output, bytes read, end of frame), at most
        MAX_OUTPUT bytes of output whatever max_length asks."""
        context = self._get(handle, _DECOMPRESSOR)
        limit = _int(max_length, "max_length")
        limit = MAX_OUTPUT if limit < 0 else min(limit, MAX_OUTPUT)
        out, read, end = _library(frame.decompress_chunk, context, _bytes(data), max_length=limit)
        return bytes(out), read, bool(end)

    def decompress(self, data: bytes, final: bool) -> tuple[bytes, int, bool, int]:
        """lz4.frame.decompress of one frame at the start of `data` (all of
        the guest's input when `final`, else its first part): (output, bytes
        read, end of frame, handle). A frame that goes on past this call's
        bounds returns what it made and the handle of its context, for the
        guest to go on with decompress_chunk (0 when the frame is done)."""
        data = _bytes(data)
        final = _flag(final, "final")
        # The one-shot function's errors for a bad header ("LZ4F_getFrameInfo
        # failed with code: ..."), without its allocation of the claimed size.
        info = _library(frame.get_frame_info, data)
        context = _library(frame.create_decompression_context)
        out, read, end = _library(frame.decompress_chunk, context, data, max_length=MAX_OUTPUT)
        if end:
            return bytes(out), read, True, 0
        if final and read == len(data) and len(out) < MAX_OUTPUT:
            # The frame is cut short. Its output is known to be small, so the
            # library's own call can say how, in its words.
            if info["content_size"] <= MAX_OUTPUT:
                _library(frame.decompress, data)
            raise ProviderError("RuntimeError", "Frame incomplete.")
        self._room()  # only a frame that goes on holds its context
        return bytes(out), read, False, self._add(_DECOMPRESSOR, context)

    def frame_info(self, data: bytes) -> tuple[int, int, bool, bool, bool, bool, int]:
        info = _library(frame.get_frame_info, _bytes(data))
        return (
            info["block_size"],
            info["block_size_id"],
            info["block_linked"],
            info["content_checksum"],
            info["block_checksum"],
            info["skippable"],
            info["content_size"],
        )
