"""One wasmtime Engine per process, and the cache of compiled machine code.

Compiling the 19 MB CPython component takes ~7 s; mapping code pylon compiled
earlier takes milliseconds. Serialised code is native code, so it is only ever
loaded from a file pylon wrote itself: one whose identity (size, times, inode)
is the one recorded with its SHA-256 when pylon stored it, made by this
wasmtime with these engine settings.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import wasmtime
    import wasmtime.component

# Everything here changes the machine code, so it is part of the cache key.
_SETTINGS = {
    "epoch_interruption": True,
    "wasm_exceptions": True,
    "cranelift_opt_level": "speed",
}

_engine: wasmtime.Engine | None = None
_engine_lock = threading.Lock()


def fingerprint() -> str:
    """Identifies code compiled by this wasmtime with these settings."""
    settings = hashlib.sha256(json.dumps(_SETTINGS, sort_keys=True).encode()).hexdigest()
    return f"wasmtime-{installed_version('wasmtime')}-{settings[:12]}"


@functools.cache
def installed_version(distribution: str) -> str:
    """A distribution's version from its .dist-info folder's name beside the
    package: importlib.metadata answers the same but costs ~25 ms to import,
    on every start. Falls back to it when the folder is not found or not
    alone (a stale second install)."""
    import importlib.util

    spec = importlib.util.find_spec(distribution.replace("-", "_"))
    if spec is not None and spec.origin:
        site = Path(spec.origin).resolve().parent.parent
        prefix = distribution.replace("-", "_") + "-"
        found = [p.name for p in site.glob(f"{prefix}*.dist-info")]
        if len(found) == 1:
            return found[0][len(prefix) : -len(".dist-info")]
    from importlib.metadata import version

    return version(distribution)


def shared_engine() -> wasmtime.Engine:
    """The process-wide engine: compiled code only fits the engine config it was made with."""
    global _engine
    with _engine_lock:
        if _engine is None:
            import wasmtime

            from pylon_shell.wasmhost import fastbytes, fasttypes

            fastbytes.install()
            fasttypes.install()
            config = wasmtime.Config()
            for name, value in _SETTINGS.items():
                setattr(config, name, value)
            _engine = wasmtime.Engine(config)
        return _engine


@atexit.register
def _drop_engine() -> None:
    """Release the engine while wasmtime's bindings still exist (not during teardown)."""
    global _engine
    _engine = None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_identity(path: Path) -> dict[str, int]:
    """What identifies a file as the one pylon wrote: any write to it changes its
    ctime (which no utime can set back), and a file put in its place has another
    inode. Compared on every start instead of hashing the whole file."""
    st = os.stat(path)
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "ino": st.st_ino,
        "dev": st.st_dev,
    }


@dataclass(frozen=True)
class NativeCode:
    """Where compiled code for one wasm binary lives, with its integrity record."""

    path: Path

    @property
    def record(self) -> Path:
        return self.path.with_name(self.path.name + ".json")

    def load(self, source_sha256: str) -> Path | None:
        """The code's path if it is the file pylon wrote from `source_sha256`
        for this engine, else None. The file's identity as recorded when it was
        stored stands in for its SHA-256 (machine code is ~40 MB: hashing it
        cost every start ~20 ms); a file whose identity changed is hashed once,
        and used only if its bytes are still the ones recorded."""
        try:
            meta = json.loads(self.record.read_text())
            current = file_identity(self.path)
        except (OSError, ValueError):
            return None
        if (
            not isinstance(meta, dict)
            or meta.get("engine") != fingerprint()
            or meta.get("source_sha256") != source_sha256
            or meta.get("size") != current["size"]
        ):
            return None
        if meta.get("identity") == current:
            return self.path
        try:
            if sha256_file(self.path) != meta.get("sha256"):
                return None
            _atomic_write(self.record, json.dumps({**meta, "identity": current}).encode())
        except OSError:
            return None
        return self.path

    def store(self, data: bytes, source_sha256: str) -> None:
        """Write code then its record, each atomically: a reader never sees half of either."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _atomic_write(self.path, data)
        meta = {
            "engine": fingerprint(),
            "source_sha256": source_sha256,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "identity": file_identity(self.path),
        }
        _atomic_write(self.record, json.dumps(meta).encode())


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def load_component(
    wasm: Path,
    wasm_sha256: str,
    native: NativeCode,
    on_compile: Callable[[], None] | None = None,
) -> wasmtime.component.Component:
    """The component from cached machine code, compiling (and caching) it when needed."""
    from wasmtime.component import Component

    engine = shared_engine()
    cached = native.load(wasm_sha256)
    if cached is not None:
        # Mapped from the file pylon wrote, not read and copied into a buffer.
        return Component.deserialize_file(engine, str(cached))
    if on_compile is not None:
        on_compile()
    component = Component.from_file(engine, str(wasm))
    native.store(bytes(component.serialize()), wasm_sha256)
    return component


def load_module(
    wasm: Path,
    wasm_sha256: str,
    native: NativeCode,
    on_compile: Callable[[], None] | None = None,
) -> wasmtime.Module:
    """The core module from cached machine code, compiling (and caching) it when needed."""
    import wasmtime

    engine = shared_engine()
    cached = native.load(wasm_sha256)
    if cached is not None:
        return wasmtime.Module.deserialize_file(engine, str(cached))
    if on_compile is not None:
        on_compile()
    module = wasmtime.Module.from_file(engine, str(wasm))
    native.store(bytes(module.serialize()), wasm_sha256)
    return module
