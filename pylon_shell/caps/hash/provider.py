"""The hash cap's host provider: xxhash and blake3 over bytes the guest sends.

It runs in the provider process (caps/worker.py), which checks the grant and
each call's fit to these signatures before it runs. What is left to check here
is what a signature cannot say: every value comes from the guest, so the
algorithm is one of ours, seeds are reduced as the libraries reduce them,
keys and contexts have their sizes, a digest is at most MAX_DIGEST bytes (a
BLAKE3 output can be asked to any length) and at most MAX_OBJECTS hashers
live at once (the guest only holds one for a stream it feeds in parts).
"""

from __future__ import annotations

from typing import Any

import blake3
import xxhash

from pylon_shell.caps.values import ProviderError, handle_counter

XXH = {
    "xxh32": (xxhash.xxh32, 1 << 32),
    "xxh64": (xxhash.xxh64, 1 << 64),
    "xxh3_64": (xxhash.xxh3_64, 1 << 64),
    "xxh3_128": (xxhash.xxh3_128, 1 << 64),
}
BLAKE3 = "blake3"
#: The longest digest one call may ask for (a BLAKE3 output reader has no end).
MAX_DIGEST = 16 << 20
#: Hashers alive at once in one session.
MAX_OBJECTS = 4096
#: The longest derive_key_context.
MAX_CONTEXT = 64 << 10


def _bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProviderError("TypeError", f"{what} must be bytes, not {type(value).__name__}")
    return value


def _make(algorithm: Any, seed: Any, key: Any, context: Any) -> Any:
    if algorithm in XXH:
        make, modulus = XXH[algorithm]
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ProviderError("TypeError", "the seed must be an int")
        return make(seed=seed % modulus)
    if algorithm == BLAKE3:
        if key is not None:
            key = _bytes(key, "key")
            if len(key) != blake3.blake3.key_size:
                raise ProviderError("ValueError", f"expected a 32-byte key, found {len(key)}")
        if context is not None:
            if not isinstance(context, str):
                raise ProviderError("TypeError", "derive_key_context must be a str")
            if len(context) > MAX_CONTEXT:
                raise ProviderError("ValueError", "derive_key_context is longer than 64 KiB")
        if key is not None and context is not None:
            raise ProviderError(
                "ValueError", "cannot use key and derive_key_context at the same time"
            )
        return blake3.blake3(key=key, derive_key_context=context, max_threads=1)
    raise ProviderError("ValueError", f"unknown hash algorithm {algorithm!r}")


def _digest(hasher: Any, length: Any, seek: Any) -> bytes:
    if not isinstance(hasher, blake3.blake3):
        return bytes(hasher.digest())
    for value, what in ((length, "length"), (seek, "seek")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise ProviderError("TypeError", f"{what} must be an int")
        if value < 0:
            raise ProviderError("OverflowError", "can't convert negative int to unsigned")
    if length > MAX_DIGEST:
        raise ProviderError("ValueError", f"a digest of at most {MAX_DIGEST} bytes a call")
    if seek >= 1 << 64:
        raise ProviderError("OverflowError", "seek does not fit in 64 bits")
    return bytes(hasher.digest(length=length, seek=seek))


class HashProvider:
    def __init__(self, grants: Any, memory_mib: int | None = None) -> None:
        self._hashers: dict[int, Any] = {}
        self._ids = handle_counter()

    def oneshot(
        self, algorithm: str, data: bytes, seed: int, key: bytes | None, context: str | None,
        length: int, seek: int,
    ) -> bytes:  # fmt: skip
        """The digest of `data` in one call: no hasher outlives it."""
        hasher = _make(algorithm, seed, key, context)
        hasher.update(_bytes(data, "data"))
        return _digest(hasher, length, seek)

    def new(
        self, algorithm: str, data: bytes, seed: int, key: bytes | None, context: str | None
    ) -> int:
        if len(self._hashers) >= MAX_OBJECTS:
            raise ProviderError("MemoryError", f"more than {MAX_OBJECTS} hash objects alive")
        hasher = _make(algorithm, seed, key, context)
        hasher.update(_bytes(data, "data"))
        handle = next(self._ids)
        self._hashers[handle] = hasher
        return handle

    def _get(self, handle: int) -> Any:
        hasher = self._hashers.get(handle)
        if hasher is None:
            raise ProviderError("ValueError", "the hash object is gone")
        return hasher

    def update(self, handle: int, data: bytes) -> None:
        self._get(handle).update(_bytes(data, "data"))

    def digest(self, handle: int, length: int, seek: int) -> bytes:
        return _digest(self._get(handle), length, seek)

    def copy(self, handle: int) -> int:
        if len(self._hashers) >= MAX_OBJECTS:
            raise ProviderError("MemoryError", f"more than {MAX_OBJECTS} hash objects alive")
        copied = self._get(handle).copy()
        new = next(self._ids)
        self._hashers[new] = copied
        return new

    def reset(self, handle: int) -> None:
        self._get(handle).reset()

    def drop(self, handle: int) -> None:
        self._hashers.pop(handle, None)

    def versions(self, library: str) -> tuple[str, str]:
        """The version of the library that hashes (and xxhash's C library's)."""
        if library == "xxhash":
            return (xxhash.VERSION, xxhash.XXHASH_VERSION)
        if library == "blake3":
            return (blake3.__version__, "")
        raise ProviderError("ValueError", f"no library {library!r}")
