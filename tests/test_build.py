"""The artifact cache: keyed by its inputs, checked before use, rebuilt when damaged."""

from __future__ import annotations

import json
import os
import shutil

import pytest
from conftest import Captured

from pylon_shell import artifacts, build
from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Ok


@pytest.fixture
def private_cache(built, tmp_path, monkeypatch):
    """A cache of our own holding a copy of the built CPython entry."""
    entry = artifacts.cpython_entry()
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path))
    copy = artifacts.cpython_entry()
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
    before = artifacts.cpython_key()
    guest = tmp_path / "cpython"
    shutil.copytree(artifacts.GUEST_CPYTHON, guest)
    (guest / "pylon_session.py").write_text(
        (guest / "pylon_session.py").read_text() + "\n# changed\n"
    )
    monkeypatch.setattr(artifacts, "GUEST_CPYTHON", guest)
    assert artifacts.cpython_key() != before


def test_the_remembered_key_still_changes_when_a_source_changes(tmp_path, monkeypatch):
    """The key is remembered under the sources' identities; a write that keeps
    a source's size and mtime still changes its ctime, so it is hashed again."""
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path / "cache"))
    guest = tmp_path / "cpython"
    shutil.copytree(artifacts.GUEST_CPYTHON, guest)
    monkeypatch.setattr(artifacts, "GUEST_CPYTHON", guest)
    first = artifacts.cpython_key()
    assert (artifacts.runtimes_dir() / artifacts.KEY_MEMO).is_file()
    reads = []
    original = type(guest).read_bytes
    monkeypatch.setattr(type(guest), "read_bytes", lambda p: reads.append(p) or original(p))
    assert artifacts.cpython_key() == first
    assert reads == []  # remembered, not hashed again
    session = guest / "pylon_session.py"
    st = session.stat()
    text = session.read_text()
    session.write_text(text.replace("import", "imporT", 1))  # same size
    os.utime(session, ns=(st.st_atime_ns, st.st_mtime_ns))
    changed = artifacts.cpython_key()
    assert changed != first and reads
    session.write_text(text)
    assert artifacts.cpython_key() == first
    (guest / "pylon_extra.py").write_text("")
    assert artifacts.cpython_key() != first


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


def test_native_code_changed_with_its_times_restored_is_not_used(private_cache):
    """A byte flipped in place, then its mtime and atime put back: the ctime
    still differs from the recorded identity, so the file is hashed and refused."""
    artifacts = build.cpython_artifacts()
    native = artifacts.native.path
    before = native.stat()
    data = bytearray(native.read_bytes())
    data[len(data) // 3] ^= 0x01
    with open(native, "r+b") as handle:
        handle.write(bytes(data))
    os.utime(native, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert native.stat().st_size == before.st_size
    assert artifacts.native.load(artifacts.wasm_sha256) is None
    assert hello() == "hello\n"


def test_intact_native_code_is_trusted_by_identity_without_rehashing(private_cache, monkeypatch):
    from pylon_shell.wasmhost import engine

    artifacts = build.cpython_artifacts()
    assert artifacts.native.load(artifacts.wasm_sha256) == artifacts.native.path

    def no_hashing(path):
        raise AssertionError(f"{path} was hashed on a start")

    monkeypatch.setattr(engine, "sha256_file", no_hashing)
    assert artifacts.native.load(artifacts.wasm_sha256) == artifacts.native.path


def test_truncated_micropython_code_is_recompiled(built, tmp_path, monkeypatch):
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path))
    assert hello("micropython") == "hello\n"
    mp = artifacts.micropython_artifacts()
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
    assert artifacts.read_manifest(private_cache) is not None
    damage(private_cache)
    assert artifacts.read_manifest(private_cache) is None


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


class _Rebuilt(Exception):
    pass


def _flip_one_byte(path, restore_mtime: bool) -> None:
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    with open(path, "r+b") as handle:  # in place: same inode, same size
        handle.write(bytes(data))
    if restore_mtime:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert path.stat().st_size == before.st_size
    assert path.stat().st_ino == before.st_ino


@pytest.mark.parametrize("restore_mtime", [False, True], ids=["written", "mtime-restored"])
def test_a_changed_component_is_rebuilt_never_run(private_cache, monkeypatch, restore_mtime):
    """One byte of the cached session.wasm flipped in place (same size, same inode,
    even the mtime set back): the entry no longer checks out, and asking for the
    runtime rebuilds it rather than hand out the changed bytes under the digest
    the manifest recorded (which a pinned plan trusts)."""
    assert artifacts.built_cpython() is not None  # the copy's identity is recorded now
    pinned = artifacts.built_cpython().wasm_sha256
    wasm = private_cache / "session.wasm"
    _flip_one_byte(wasm, restore_mtime)
    assert artifacts.built_cpython() is None
    assert artifacts.read_manifest(private_cache) is None

    def rebuild(entry, progress):
        raise _Rebuilt(entry)

    monkeypatch.setattr(build, "_build_cpython", rebuild)
    with pytest.raises(_Rebuilt):
        build.cpython_artifacts()
    assert build.sha256_file(wasm) != pinned  # still changed: nothing "repaired" it quietly


def test_a_changed_sqlite_provider_is_not_used(built, tmp_path, monkeypatch):
    entry = artifacts.sqlite_provider_entry()
    if artifacts.built_sqlite_provider() is None:
        build.sqlite_provider_artifacts()
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path))
    copy = artifacts.sqlite_provider_entry()
    shutil.copytree(entry, copy)
    assert artifacts.built_sqlite_provider() is not None
    _flip_one_byte(copy / "component.wasm", restore_mtime=True)
    assert artifacts.built_sqlite_provider() is None


def test_the_identity_check_does_not_rehash_on_every_start(private_cache, monkeypatch):
    """A copied entry (new inodes, same bytes) is hashed once, its new identity
    recorded; the starts after that compare a stat, not 19 MB of SHA-256."""
    manifest = json.loads((private_cache / "manifest.json").read_text())
    assert manifest["wasm_identity"]["ino"] != (private_cache / "session.wasm").stat().st_ino
    assert artifacts.built_cpython() is not None
    recorded = json.loads((private_cache / "manifest.json").read_text())["wasm_identity"]
    assert recorded["ino"] == (private_cache / "session.wasm").stat().st_ino

    def no_hash(path):
        raise AssertionError(f"hashed {path} on start")

    monkeypatch.setattr(build, "sha256_file", no_hash)
    assert artifacts.built_cpython() is not None


def test_a_component_swapped_in_with_the_same_size_and_mtime_is_refused(private_cache):
    wasm = private_cache / "session.wasm"
    before = wasm.stat()
    data = bytearray(wasm.read_bytes())
    data[100] ^= 0x01
    swapped = private_cache / "swapped.wasm"
    swapped.write_bytes(bytes(data))
    os.utime(swapped, ns=(before.st_atime_ns, before.st_mtime_ns))
    os.replace(swapped, wasm)
    assert artifacts.read_manifest(private_cache) is None
