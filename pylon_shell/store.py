"""The content store: components by SHA-256 digest, in the user cache.

A plan names a component by its digest (PlanV1's `components[].digest`); the
store is where pylon finds its bytes. Layout, under `paths.cache_dir()/store`:

    blobs/<64 hex digits>     the component's bytes, read-only
    meta/<64 hex digits>.json what pylon knows of it: {"kind": ..., "name": ...}

`kind` is set only for what pylon built itself ("cpython", "sqlite-provider",
"micropython"): such an entry runs as pylon's own component. An entry added
with `pylon store add` has no kind and runs as a `wasi:cli/run` root.

A blob's name is only a claim: an entry is trusted because its bytes hash to
its name, checked when it enters the store (`add`) and again by the runtime
that loads it (`verify`). `gc` deletes damaged blobs and pylon's own entries
that no current build is made of; what the user added stays.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pylon_shell import paths
from pylon_shell.errors import PylonError

#: The largest file the store takes (the CPython component is ~40 MB).
MAX_BLOB_BYTES = 1024 * 1024 * 1024
KINDS = ("cpython", "micropython", "sqlite-provider")
_HEX = re.compile(r"^[0-9a-f]{64}$")


class StoreError(PylonError):
    """A file cannot enter the store, or an entry is damaged."""

    status = 2


@dataclass(frozen=True)
class Entry:
    digest: str
    path: Path
    size: int
    #: Which of pylon's own components it is, or None for one the user added.
    kind: str | None = None
    #: The file name it was added from (a label only).
    name: str | None = None


def root() -> Path:
    return paths.cache_dir() / "store"


def _blob(digest: str) -> Path:
    return root() / "blobs" / digest


def _meta(digest: str) -> Path:
    return root() / "meta" / f"{digest}.json"


def _dirs() -> None:
    (root() / "blobs").mkdir(parents=True, exist_ok=True)
    (root() / "meta").mkdir(parents=True, exist_ok=True)


def _read_meta(digest: str) -> dict:
    try:
        data = json.loads(_meta(digest).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_meta(digest: str, meta: dict) -> None:
    target = _meta(digest)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(meta, sort_keys=True), encoding="utf-8")
    os.replace(tmp, target)


def _entry(digest: str) -> Entry | None:
    blob = _blob(digest)
    try:
        info = blob.lstat()
    except OSError:
        return None
    if not blob.is_file() or blob.is_symlink():
        return None
    meta = _read_meta(digest)
    kind = meta.get("kind") if meta.get("kind") in KINDS else None
    name = meta.get("name") if isinstance(meta.get("name"), str) else None
    return Entry(digest, blob, info.st_size, kind, name)


def get(digest: str) -> Entry | None:
    """The entry whose name is `digest` (64 lowercase hex digits), if the store
    has it. pylon's own built components are registered here as they are built;
    one built before the store existed is registered the first time it is asked
    for."""
    if not _HEX.match(digest):
        return None
    found = _entry(digest)
    if found is not None:
        return found
    for kind, (wasm, built) in current_builds().items():
        if built == digest:
            return register(wasm, digest, kind)
    return None


def _copy_hashed(source: Path, limit: int) -> tuple[Path, str]:
    """Copy the regular file `source` into a temporary file of the store,
    hashing it on the way; at most `limit` bytes."""
    from pylon_shell.files import open_regular

    _dirs()
    try:
        fd = open_regular(source, "component file")
    except FileNotFoundError:
        raise StoreError(f"{source}: no such file") from None
    except OSError as error:
        raise StoreError(f"{source}: cannot be read ({error.strerror or error})") from None
    except Exception as error:  # NotRegular
        raise StoreError(f"{source} {error}") from None
    out_fd, tmp = tempfile.mkstemp(prefix=".add.", dir=root() / "blobs")
    digest = hashlib.sha256()
    size = 0
    try:
        with os.fdopen(fd, "rb") as src, os.fdopen(out_fd, "wb") as out:
            while chunk := src.read(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise StoreError(f"{source} is larger than {limit} bytes")
                digest.update(chunk)
                out.write(chunk)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Path(tmp), digest.hexdigest()


def add(source: Path, *, kind: str | None = None) -> Entry:
    """Put the file `source` into the store under its SHA-256; the entry."""
    tmp, digest = _copy_hashed(Path(source), MAX_BLOB_BYTES)
    try:
        os.chmod(tmp, 0o444)
        os.replace(tmp, _blob(digest))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    meta = _read_meta(digest)
    meta.setdefault("name", Path(source).name[:200])
    if kind is not None:
        meta["kind"] = kind
    _write_meta(digest, meta)
    entry = _entry(digest)
    assert entry is not None
    return entry


def register(wasm: Path, digest: str, kind: str) -> Entry | None:
    """Record one of pylon's built artifacts by its digest: a hard link to the
    built file where the file system allows it (no second copy of ~40 MB), a
    copy (hashed) otherwise. None when the store cannot be written; a plan
    that needs the entry then says how to add it."""
    try:
        _dirs()
        found = _entry(digest)
        if found is None:
            target = _blob(digest)
            tmp = target.with_name(f".link.{os.getpid()}.{digest[:8]}")
            tmp.unlink(missing_ok=True)
            try:
                os.link(wasm, tmp)
            except OSError:
                copied, got = _copy_hashed(wasm, MAX_BLOB_BYTES)
                if got != digest:
                    copied.unlink(missing_ok=True)
                    return None
                os.replace(copied, tmp)
            os.replace(tmp, target)
        meta = _read_meta(digest)
        if meta.get("kind") != kind:
            meta["kind"] = kind
            meta.setdefault("name", wasm.name)
            _write_meta(digest, meta)
        return _entry(digest)
    except (OSError, StoreError):
        return None


def verify(entry: Entry) -> None:
    """StoreError unless the entry's bytes still hash to its name."""
    digest = hashlib.sha256()
    try:
        with open(entry.path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as error:
        raise StoreError(f"store entry {entry.digest[:16]}… cannot be read ({error})") from None
    if digest.hexdigest() != entry.digest:
        raise StoreError(
            f"store entry sha256:{entry.digest} is damaged (its bytes hash to "
            f"sha256:{digest.hexdigest()[:16]}…); run `pylon store gc` and add the file again"
        )


def entries() -> list[Entry]:
    folder = root() / "blobs"
    if not folder.is_dir():
        return []
    found = (_entry(p.name) for p in sorted(folder.iterdir()) if _HEX.match(p.name))
    return [e for e in found if e is not None]


def current_builds() -> dict[str, tuple[Path, str]]:
    """pylon's own artifacts as the cache holds them now, never building any:
    {kind: (wasm, sha256)}."""
    from pylon_shell import artifacts

    out: dict[str, tuple[Path, str]] = {}
    try:
        cpython = artifacts.built_cpython()
        if cpython is not None:
            out["cpython"] = (cpython.wasm, cpython.wasm_sha256)
    except Exception:  # noqa: BLE001 - an unreadable cache is "not built"
        pass
    try:
        sqlite = artifacts.built_sqlite_provider()
        if sqlite is not None:
            out["sqlite-provider"] = (sqlite.wasm, sqlite.wasm_sha256)
    except Exception:  # noqa: BLE001
        pass
    try:
        mp = artifacts.micropython_artifacts()
        out["micropython"] = (mp.wasm, mp.wasm_sha256)
    except Exception:  # noqa: BLE001
        pass
    return out


def gc() -> list[str]:
    """Delete damaged blobs, leftovers of interrupted adds, metadata without a
    blob, and pylon's own entries that no current build is made of. What the
    user added stays. The removed digests (or file names)."""
    removed: list[str] = []
    blobs = root() / "blobs"
    if not blobs.is_dir():
        return removed
    current = {digest for _wasm, digest in current_builds().values()}
    for path in sorted(blobs.iterdir()):
        name = path.name
        if not _HEX.match(name):
            if name.startswith("."):
                path.unlink(missing_ok=True)
                removed.append(name)
            continue
        entry = _entry(name)
        stale = entry is not None and entry.kind is not None and name not in current
        damaged = False
        if entry is not None and not stale:
            try:
                verify(entry)
            except StoreError:
                damaged = True
        if entry is None or stale or damaged:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            _meta(name).unlink(missing_ok=True)
            removed.append(name)
    meta = root() / "meta"
    if meta.is_dir():
        for path in meta.iterdir():
            if not (blobs / path.name.removesuffix(".json")).exists():
                path.unlink(missing_ok=True)
    return removed


def missing_message(component_id: str, digest: str, source: str | None = None) -> str:
    """The one line for a component the store lacks."""
    hint = f" (its source hint: {_shown(source)[:120]})" if source else ""
    return (
        f"component {_shown(component_id)!r} (sha256:{digest}) is not in pylon's store{hint}; "
        "add the file whose SHA-256 that is with `pylon store add FILE`"
    )


def _shown(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
