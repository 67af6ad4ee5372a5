"""The content store (`pylon store add|list|gc`) and a wasi:cli/run root named by digest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_pylon

from pylon_shell import store

#: A WASI command made with componentize-py: exports only wasi:cli/run@0.2.0
#: (as upstream's python.wasm does) and runs argv[1] as a Python script.
COMMAND_APP = """\
import os
import sys

from wit_world import exports


class Run(exports.Run):
    def run(self) -> None:
        path = sys.argv[1]
        sys.argv = sys.argv[1:]
        try:
            with open(path) as f:
                code = compile(f.read(), path, "exec")
            exec(code, {"__name__": "__main__", "__file__": path})
        except SystemExit as exit:
            sys.stdout.flush()
            os._exit(exit.code if isinstance(exit.code, int) else 1)
        except MemoryError:
            print("MemoryError", file=sys.stderr)
            sys.stderr.flush()
            os._exit(1)
"""
RUN_WIT = "package wasi:cli@0.2.0;\n\ninterface run {\n  run: func() -> result;\n}\n"
WORLD_WIT = "package pylon-test:command;\n\nworld command {\n  export wasi:cli/run@0.2.0;\n}\n"


@pytest.fixture
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(store, "current_builds", lambda: {})
    return tmp_path / "cache" / "store"


def test_add_list_and_gc(private_store, tmp_path):
    blob = tmp_path / "a.wasm"
    blob.write_bytes(b"component bytes")
    entry = store.add(blob)
    assert entry.digest == hashlib.sha256(b"component bytes").hexdigest()
    assert entry.path.read_bytes() == b"component bytes"
    assert not os.access(entry.path, os.W_OK) or os.geteuid() == 0
    assert [e.digest for e in store.entries()] == [entry.digest]
    assert store.get(entry.digest) == entry
    assert store.get("../" + entry.digest[3:]) is None

    # gc keeps what the user added and removes what is damaged or left over.
    (private_store / "blobs" / ".add.leftover").write_bytes(b"x")
    assert store.gc() == [".add.leftover"]
    damaged = private_store / "blobs" / entry.digest
    os.chmod(damaged, 0o644)
    damaged.write_bytes(b"other bytes")
    with pytest.raises(store.StoreError, match="damaged"):
        store.verify(store.get(entry.digest))
    assert store.gc() == [entry.digest]
    assert store.entries() == []


def test_gc_removes_pylons_own_stale_builds_only(private_store, tmp_path):
    old = tmp_path / "old.wasm"
    old.write_bytes(b"an old build")
    store.add(old, kind="cpython")
    mine = tmp_path / "mine.wasm"
    mine.write_bytes(b"mine")
    kept = store.add(mine)
    assert store.gc() == [hashlib.sha256(b"an old build").hexdigest()]
    assert [e.digest for e in store.entries()] == [kept.digest]


def test_add_refuses_what_is_not_a_regular_file(private_store, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(store.StoreError, match="FIFO"):
        store.add(fifo)
    with pytest.raises(store.StoreError, match="no such file"):
        store.add(tmp_path / "missing")
    with pytest.raises(store.StoreError, match="directory"):
        store.add(tmp_path)


def test_the_store_command(tmp_path):
    blob = tmp_path / "x.wasm"
    blob.write_bytes(b"x")
    env = {"PYLON_CACHE_DIR": str(tmp_path / "cache")}
    added = run_pylon("store", "add", str(blob), env=env)
    assert added.status == 0, added.stderr
    digest = hashlib.sha256(b"x").hexdigest()
    assert f"sha256:{digest}" in added.stdout
    listed = run_pylon("store", "list", env=env)
    assert f"sha256:{digest}" in listed.stdout and "x.wasm" in listed.stdout
    assert run_pylon("store", "gc", env=env).status == 0
    missing = run_pylon("store", "add", str(tmp_path / "nope"), env=env)
    assert missing.status == 2 and len(missing.stderr.strip().splitlines()) == 1


def test_pylons_builds_are_registered_in_the_store(built):
    from pylon_shell.build import cpython_artifacts

    artifacts = cpython_artifacts()
    entry = store.get(artifacts.wasm_sha256)
    assert entry is not None and entry.kind == "cpython"
    assert any(e.digest == artifacts.wasm_sha256 for e in store.entries())


# -- a wasi:cli/run root ------------------------------------------------------------


@pytest.fixture(scope="session")
def command_wasm(request) -> Path:
    """The test command component, built once and kept in pytest's cache
    (keyed by its source and componentize-py's version); never committed."""
    from pylon_shell.wasmhost.engine import installed_version

    key = hashlib.sha256(
        (COMMAND_APP + RUN_WIT + WORLD_WIT + installed_version("componentize-py")).encode()
    ).hexdigest()[:16]
    folder = Path(request.config.cache.mkdir(f"pylon-command-{key}"))
    wasm = folder / "command.wasm"
    if wasm.is_file():
        return wasm
    (folder / "app").mkdir(exist_ok=True)
    (folder / "app" / "app.py").write_text(COMMAND_APP)
    (folder / "wit" / "deps" / "cli").mkdir(parents=True, exist_ok=True)
    (folder / "wit" / "deps" / "cli" / "run.wit").write_text(RUN_WIT)
    (folder / "wit" / "world.wit").write_text(WORLD_WIT)
    script = (
        "import sys, componentize_py; sys.argv[0] = 'componentize-py'; componentize_py.script()"
    )
    subprocess.run(
        [sys.executable, "-c", script, "-d", "wit", "-w", "command", "componentize"]
        + ["-p", "app", "app", "-o", str(wasm) + ".tmp"],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    os.replace(str(wasm) + ".tmp", wasm)
    return wasm


def command_plan(tmp_path: Path, digest: str, **extra: object) -> Path:
    data = {
        "version": "1",
        "root": "python",
        "components": [{"id": "python", "digest": list(bytes.fromhex(digest))}],
        "bindings": [],
        "secrets": [],
        "policy": {
            "determinism": "relaxed",
            "capabilities": [
                {"name": "fs", "level": "required"},
                {"name": "env", "level": "required"},
            ],
            "limits": {"memory_bytes": 64 * 1024 * 1024},
        },
        **extra,
    }
    plan = tmp_path / "p.json"
    plan.write_text(json.dumps(data))
    return plan


def test_a_wasi_cli_run_root_runs_a_script_from_a_plan_naming_it_by_digest(command_wasm, tmp_path):
    env = {"PYLON_CACHE_DIR": str(tmp_path / "cache")}  # the command needs no build of pylon's
    added = run_pylon("store", "add", str(command_wasm), env=env)
    assert added.status == 0, added.stderr
    digest = hashlib.sha256(command_wasm.read_bytes()).hexdigest()
    data = tmp_path / "data"
    data.mkdir()
    (data / "x.txt").write_text("from the preopen")
    plan = command_plan(
        tmp_path,
        digest,
        preopens=[{"host": "data", "guest": "/data", "readonly": True}],
        env={"GREETING": "hello"},
    )
    script = tmp_path / "script.py"
    script.write_text(
        "import os, sys\n"
        "print(sys.argv)\n"
        "print(os.environ['GREETING'], open('/data/x.txt').read())\n"
        "try:\n    open('/data/new', 'w')\nexcept OSError:\n    print('read-only')\n"
    )
    result = run_pylon("--plan", str(plan), str(script), "a", "b", env=env)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "['/.pylon-script/script.py', 'a', 'b']",
        "hello from the preopen",
        "read-only",
    ]

    # Its memory limit is the plan's.
    big = tmp_path / "big.py"
    big.write_text("b = bytearray(200 * 1000 * 1000)\nprint('allocated')\n")
    result = run_pylon("--plan", str(plan), str(big), env=env)
    assert result.status != 0 and "allocated" not in result.stdout

    # A failing exit status reaches pylon's (WASI 0.2's exit carries only ok/err).
    failing = tmp_path / "fail.py"
    failing.write_text("import sys; sys.exit(3)\n")
    assert run_pylon("--plan", str(plan), str(failing), env=env).status == 1

    # The REPL says in one line what it needs.
    result = subprocess.run(
        [sys.executable, "-c", "from pylon_shell.cli import run; import sys;"
         f"sys.stdin.isatty = lambda: True; sys.exit(run(['--plan', {str(plan)!r}, '--no-tui']))"],
        capture_output=True, text=True, timeout=120, env={**os.environ, **env},
    )  # fmt: skip
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "pylon's session interface" in lines[0]


def test_a_command_root_refuses_caps_it_cannot_reach(command_wasm, tmp_path):
    env = {"PYLON_CACHE_DIR": str(tmp_path / "cache")}
    assert run_pylon("store", "add", str(command_wasm), env=env).status == 0
    digest = hashlib.sha256(command_wasm.read_bytes()).hexdigest()
    plan = command_plan(tmp_path, digest)
    data = json.loads(plan.read_text())
    data["policy"]["capabilities"] = [{"name": "sqlite", "level": "required"}]
    plan.write_text(json.dumps(data))
    result = run_pylon("plan", "validate", str(plan), env=env)
    assert result.status == 2
    assert "wasi:cli/run root" in result.stderr and len(result.stderr.strip().splitlines()) == 1
