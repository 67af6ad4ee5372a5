"""The artifact cache: keyed by its inputs, checked before use, rebuilt when damaged."""

from __future__ import annotations

import shutil

import pytest
from conftest import Captured

from pylon_shell import build
from pylon_shell.runtimes import start_runtime
from pylon_shell.runtimes.base import Ok, RuntimeOptions


@pytest.fixture
def private_cache(built, tmp_path, monkeypatch):
    """A cache of our own holding a copy of the built CPython entry."""
    entry = build.cpython_entry()
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path))
    copy = build.cpython_entry()
    shutil.copytree(entry, copy)
    return copy


def hello(kind: str = "cpython") -> str:
    out = Captured()
    rt = start_runtime(kind, RuntimeOptions(), out)
    try:
        assert rt.run_input("print('hello')") == Ok()
    finally:
        rt.close()
    return out.text()


def test_key_changes_with_guest_sources(tmp_path, monkeypatch):
    before = build.cpython_key()
    guest = tmp_path / "cpython"
    shutil.copytree(build.GUEST_CPYTHON, guest)
    (guest / "pylon_session.py").write_text(
        (guest / "pylon_session.py").read_text() + "\n# changed\n"
    )
    monkeypatch.setattr(build, "GUEST_CPYTHON", guest)
    assert build.cpython_key() != before


def test_corrupt_native_code_is_recompiled_not_used(private_cache):
    artifacts = build.cpython_artifacts()
    native = artifacts.native.path
    good = native.read_bytes()
    corrupt = bytearray(good)
    corrupt[len(corrupt) // 2] ^= 0xFF
    native.write_bytes(bytes(corrupt))
    assert artifacts.native.load(artifacts.wasm_sha256) is None
    assert hello() == "hello\n"
    assert artifacts.native.load(artifacts.wasm_sha256) is not None


def test_truncated_micropython_code_is_recompiled(built, tmp_path, monkeypatch):
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path))
    assert hello("micropython") == "hello\n"
    mp = build.micropython_artifacts()
    data = mp.native.path.read_bytes()
    mp.native.path.write_bytes(data[: len(data) // 3])
    assert mp.native.load(mp.wasm_sha256) is None
    assert hello("micropython") == "hello\n"
    assert mp.native.load(mp.wasm_sha256) is not None


@pytest.mark.parametrize(
    "damage",
    [
        lambda entry: (entry / "manifest.json").unlink(),
        lambda entry: (entry / "manifest.json").write_text("{not json"),
        lambda entry: (entry / "stdlib" / ".complete").unlink(),
        lambda entry: (entry / "session.wasm").write_bytes(b"\0asm"),
    ],
    ids=["no-manifest", "bad-manifest", "partial-stdlib", "truncated-component"],
)
def test_damaged_entry_is_detected(private_cache, damage):
    assert build._read_manifest(private_cache) is not None
    damage(private_cache)
    assert build._read_manifest(private_cache) is None


def test_partial_entry_is_rebuilt_and_works(private_cache):
    """A build that died half way leaves an entry without its manifest: rebuild it."""
    (private_cache / "manifest.json").unlink()
    (private_cache / "stdlib" / "json" / "__init__.py").unlink()
    artifacts = build.cpython_artifacts()
    assert artifacts.root == private_cache
    assert (private_cache / "stdlib" / "json" / "__init__.py").is_file()
    out = Captured()
    rt = start_runtime("cpython", RuntimeOptions(), out)
    try:
        assert rt.run_input("import json; print(json.dumps([1]))") == Ok()
    finally:
        rt.close()
    assert out.text() == "[1]\n"


def test_stdlib_is_precompiled(built):
    stdlib = build.cpython_artifacts().stdlib
    assert list((stdlib / "json" / "__pycache__").glob("__init__.cpython-314.pyc"))
    assert list((stdlib / "asyncio" / "__pycache__").glob("base_events.cpython-314.pyc"))
