"""Plans as composectl writes and reads them (PlanV1, compose-core types.rs).

The plans here are shaped exactly as upstream writes them: digests as JSON
arrays of 32 numbers, bindings with versioned interface names, capabilities
as {name, level}, limits in cpu_ms / memory_bytes / io_ops. `planv1_problems`
is PlanV1's typing as serde applies it (required fields, enums, u64s, 32-byte
digests; unknown keys ignored), so "pylon writes valid PlanV1" is tested
against the upstream struct definitions, not against pylon's own reader.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from conftest import run_pylon

from pylon_shell import plan as plans
from pylon_shell import store
from pylon_shell.errors import PlanError, PylonError

MIB = 1024 * 1024
U64 = 2**64


# -- PlanV1's typing, as serde reads it ----------------------------------------


def planv1_problems(data: object) -> list[str]:
    """What keeps serde from reading `data` as PlanV1 (empty: it reads)."""
    out: list[str] = []

    def need(obj: dict, key: str, kind: type | tuple, where: str) -> object:
        if key not in obj:
            out.append(f"{where}.{key} missing")
            return None
        value = obj[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            out.append(f"{where}.{key} is a bool")
        elif not isinstance(value, kind):
            out.append(f"{where}.{key} has type {type(value).__name__}")
        return value

    def u64(value: object, where: str) -> None:
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < U64
        ):
            out.append(f"{where} is not a u64 or null")

    if not isinstance(data, dict):
        return ["not an object"]
    need(data, "version", str, "$")
    need(data, "root", str, "$")
    for i, comp in enumerate(need(data, "components", list, "$") or []):
        where = f"$.components[{i}]"
        if not isinstance(comp, dict):
            out.append(f"{where} not an object")
            continue
        need(comp, "id", str, where)
        digest = need(comp, "digest", list, where)
        if isinstance(digest, list) and not all(
            isinstance(b, int) and not isinstance(b, bool) and 0 <= b <= 255 for b in digest
        ):
            out.append(f"{where}.digest is not bytes")
        if isinstance(digest, list) and len(digest) != 32:  # compose-core's validation
            out.append(f"{where}.digest has {len(digest)} bytes")
        if comp.get("source") is not None and not isinstance(comp["source"], str):
            out.append(f"{where}.source not a string")
    for i, binding in enumerate(need(data, "bindings", list, "$") or []):
        where = f"$.bindings[{i}]"
        for key in ("import_name", "provider_id", "export_name"):
            need(binding, key, str, where)
        if binding.get("consumer_id") is not None and not isinstance(binding["consumer_id"], str):
            out.append(f"{where}.consumer_id not a string")
    for i, secret in enumerate(need(data, "secrets", list, "$") or []):
        need(secret, "secret_id", str, f"$.secrets[{i}]")
        need(secret, "backend_uri", str, f"$.secrets[{i}]")
    policy = need(data, "policy", dict, "$")
    if isinstance(policy, dict):
        if need(policy, "determinism", str, "$.policy") not in ("strict", "audit", "relaxed"):
            out.append("$.policy.determinism not strict|audit|relaxed")
        for i, cap in enumerate(need(policy, "capabilities", list, "$.policy") or []):
            if not isinstance(cap, dict):
                out.append(f"$.policy.capabilities[{i}] not an object")
                continue
            need(cap, "name", str, f"$.policy.capabilities[{i}]")
            if cap.get("level") not in ("required", "optional"):
                out.append(f"$.policy.capabilities[{i}].level not required|optional")
        limits = need(policy, "limits", dict, "$.policy")
        if isinstance(limits, dict):
            for key in ("cpu_ms", "memory_bytes", "io_ops"):
                u64(limits.get(key), f"$.policy.limits.{key}")
    if data.get("linkage", "static") not in ("static", "runtime"):
        out.append("$.linkage not static|runtime")
    return out


# -- plans shaped as upstream writes them ----------------------------------------

#: tegmentum/python-wasm plans/python-browser.json, as shipped there.
PYTHON_BROWSER = {
    "version": "1",
    "root": "python",
    "components": [
        {
            "id": "python",
            "digest": [
                93,
                217,
                198,
                8,
                91,
                251,
                72,
                61,
                142,
                249,
                85,
                76,
                7,
                52,
                212,
                85,
                180,
                131,
                131,
                14,
                163,
                246,
                143,
                24,
                131,
                244,
                32,
                154,
                247,
                132,
                106,
                118,
            ],
        },  # noqa: E501
        {
            "id": "compression",
            "digest": [
                222,
                138,
                71,
                35,
                7,
                145,
                74,
                72,
                84,
                239,
                4,
                169,
                18,
                4,
                188,
                56,
                251,
                109,
                86,
                233,
                114,
                76,
                210,
                158,
                78,
                247,
                19,
                68,
                177,
                80,
                200,
                52,
            ],
        },  # noqa: E501
    ],
    "bindings": [
        {
            "consumer_id": "python",
            "import_name": "tegmentum:compression-multiplexer/compression-dispatcher@0.1.0",
            "provider_id": "compression",
            "export_name": "tegmentum:compression-multiplexer/compression-dispatcher@0.1.0",
        }
    ],
    "secrets": [],
    "policy": {"determinism": "relaxed", "capabilities": [], "limits": {}},
}


def cpython_digest() -> str:
    from pylon_shell.build import cpython_artifacts

    return cpython_artifacts().wasm_sha256


def upstream_plan(digest_hex: str, **policy: object) -> dict:
    """A plan with only PlanV1's keys, pinning one root component by digest."""
    return {
        "version": "1",
        "root": "python",
        "components": [{"id": "python", "digest": list(bytes.fromhex(digest_hex))}],
        "bindings": [],
        "secrets": [],
        "policy": {
            "determinism": "relaxed",
            "capabilities": [],
            "limits": {},
            **policy,
        },
    }


@pytest.fixture
def private_store(tmp_path, monkeypatch):
    """A store of its own (pylon's builds are not in it unless a test adds them)."""
    monkeypatch.setattr(store, "root", lambda: tmp_path / "store")
    monkeypatch.setattr(store, "current_builds", lambda: {})
    return tmp_path / "store"


def test_upstreams_shipped_plan_names_the_missing_component_and_the_fix(private_store):
    with pytest.raises(PlanError) as caught:
        plans.parse(json.dumps(PYTHON_BROWSER), source="python-browser.json")
    message = str(caught.value)
    assert "\n" not in message
    assert caught.value.path == "$.components[0].digest"
    digest = bytes(PYTHON_BROWSER["components"][0]["digest"]).hex()
    assert f"component 'python' (sha256:{digest}) is not in pylon's store" in message
    assert "pylon store add FILE" in message


def test_a_component_in_the_store_is_found_by_digest_and_source_is_only_a_hint(
    private_store, tmp_path
):
    blob = tmp_path / "thing.wasm"
    blob.write_bytes(b"\0asm not really")
    entry = store.add(blob)
    data = upstream_plan(entry.digest)
    data["components"][0]["source"] = "https://example.com/other.wasm"
    plan = plans.parse(json.dumps(data))
    assert plan.runtime == "command"
    assert plan.root_component.path == f"store:{entry.digest}"
    assert plan.root_component.source == "https://example.com/other.wasm"
    written = json.loads(plan.dumps())
    assert "path" not in written["components"][0]
    assert written["components"][0]["source"] == "https://example.com/other.wasm"
    assert planv1_problems(written) == []


def test_builtin_python_source_maps_to_pylons_cpython(built):
    digest = cpython_digest()
    data = upstream_plan(digest)
    data["components"][0]["source"] = "builtin:python"
    plan = plans.parse(json.dumps(data))
    assert plan.runtime == "cpython" and plan.root_component.path == "builtin:cpython"
    assert plan.root_component.digest == digest


def test_pylons_cpython_by_digest_only_is_found_in_the_store(built):
    plan = plans.parse(json.dumps(upstream_plan(cpython_digest())))
    assert plan.runtime == "cpython" and plan.root_component.builtin == "cpython"
    assert store.get(cpython_digest()).kind == "cpython"


# -- the must-hold run ---------------------------------------------------------


def test_a_planv1_only_plan_pinning_cpython_runs_within_its_policy(built, tmp_path):
    data = upstream_plan(
        cpython_digest(),
        capabilities=[{"name": "sqlite", "level": "required"}],
        limits={"memory_bytes": 256 * MIB},
    )
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(data))
    assert run_pylon("plan", "validate", str(plan_file)).status == 0

    sqlite = tmp_path / "s.py"
    sqlite.write_text(
        "import sqlite3\n"
        "c = sqlite3.connect(':memory:')\n"
        "c.execute('create table t (x)')\n"
        "c.execute('insert into t values (41)')\n"
        "print(c.execute('select x + 1 from t').fetchone()[0])\n"
    )
    result = run_pylon("--plan", str(plan_file), str(sqlite))
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == "42"

    result = run_pylon("--plan", str(plan_file), "-c", "import bz2")
    assert result.status != 0
    assert "compression cap" in result.stderr

    result = run_pylon(
        "--plan",
        str(plan_file),
        "-c",
        "try:\n    b = bytearray(400 * 1000 * 1000)\nexcept MemoryError:\n    print('MemoryError')",
    )
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == "MemoryError"


def test_a_plan_naming_a_digest_the_store_lacks_refuses_in_one_line(tmp_path):
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(upstream_plan(hashlib.sha256(b"nothing").hexdigest())))
    result = run_pylon("--plan", str(plan_file), "-c", "pass")
    assert result.status == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "pylon store add" in lines[0] and "'python'" in lines[0]


# -- what pylon writes is PlanV1 -------------------------------------------------


@pytest.mark.parametrize("name", ["default", "minimal", "data", "net"])
def test_plan_show_of_every_shipped_plan_is_planv1(built, name, tmp_path):
    result = run_pylon("plan", "show", "--plan", name, cwd=tmp_path)
    assert result.status == 0, result.stderr
    written = json.loads(result.stdout)
    assert planv1_problems(written) == []
    assert "plan digest sha256:" in result.stderr


def test_plan_build_trace_and_save_write_planv1(built, tmp_path):
    out = tmp_path / "built.json"
    result = run_pylon(
        "plan", "build", "--cap", "sqlite", "--timeout", "5", "--memory", "64", "-o", str(out)
    )
    assert result.status == 0, result.stderr
    written = json.loads(out.read_text())
    assert planv1_problems(written) == []
    assert written["policy"]["limits"] == {"memory_bytes": 64 * MIB}
    assert written["timeout_seconds"] == 5
    assert {"name": "sqlite", "level": "required"} in written["policy"]["capabilities"]
    assert plans.load(out) == plans.load(out)  # reads back

    script = tmp_path / "t.py"
    script.write_text("print(1)\n")
    traced = tmp_path / "traced.json"
    result = run_pylon("trace", str(script), "-o", str(traced))
    assert result.status == 0, result.stderr
    assert planv1_problems(json.loads(traced.read_text())) == []

    saved = tmp_path / "saved.json"
    plans.shipped("minimal").save(saved)
    assert planv1_problems(json.loads(saved.read_text())) == []


def test_a_round_trip_keeps_pylons_extras_and_planv1s_fields(built, tmp_path):
    data = upstream_plan(
        cpython_digest(),
        capabilities=[
            {"name": "sqlite", "level": "required"},
            {"name": "fs", "level": "optional"},
            {"name": "gpu", "level": "optional"},
        ],
        tenant="team-a",
        limits={"cpu_ms": 1500, "memory_bytes": 100 * MIB + 5},
    )
    data.update(
        linkage="runtime",
        name="mine",
        preopens=[{"host": str(tmp_path), "guest": "/data", "readonly": True}],
        env={"A": "1"},
        hosts=["example.com:443"],
        timeout_seconds=9,
        secrets=[{"secret_id": "TOKEN", "backend_uri": "env:HOME"}],
    )
    plan = plans.parse(json.dumps(data))
    assert plan.call_timeout == 1.5 and plan.memory_mib == 100
    again = plans.parse(plan.dumps())
    assert again == plan
    assert again.digest() == plans.parse(json.dumps(data)).digest()
    written = json.loads(plan.dumps())
    assert planv1_problems(written) == []
    assert written["linkage"] == "runtime"
    assert written["policy"]["tenant"] == "team-a"
    assert written["policy"]["limits"] == {"cpu_ms": 1500, "memory_bytes": 100 * MIB + 5}
    assert {"name": "gpu", "level": "optional"} in written["policy"]["capabilities"]
    assert {"name": "fs", "level": "optional"} in written["policy"]["capabilities"]


def test_older_pylon_plans_still_read(built):
    old = {
        "version": "1",
        "name": "old",
        "runtime": "cpython",
        "root": "cpython",
        "components": [{"id": "cpython", "path": "builtin:cpython", "digest": None}],
        "bindings": [],
        "secrets": [],
        "policy": {
            "determinism": "none",
            "capabilities": ["sqlite", "fs"],
            "limits": {"timeout_seconds": 3, "memory_mib": 64},
        },
        "preopens": [],
        "env": {},
    }
    plan = plans.parse(json.dumps(old))
    assert plan.capabilities == ("sqlite", "fs") and plan.determinism == "relaxed"
    assert plan.timeout_seconds == 3 and plan.memory_mib == 64
    written = json.loads(plan.dumps())
    assert planv1_problems(written) == []
    assert written["components"][0]["digest"] == list(bytes.fromhex(cpython_digest()))


# -- refusals, each one line naming the JSON path ---------------------------------


def refusal(data: dict) -> PlanError:
    with pytest.raises(PlanError) as caught:
        plans.parse(json.dumps(data))
    assert "\n" not in str(caught.value)
    return caught.value


FAKE = "ab" * 32


def fake_builtin(**policy: object) -> dict:
    data = upstream_plan(FAKE, **policy)
    data["components"][0]["source"] = "builtin:cpython"
    return data


@pytest.mark.parametrize(
    "policy, path, fragment",
    [
        ({"determinism": "strict"}, "$.policy.determinism", "clocks and entropy"),
        ({"determinism": "audit"}, "$.policy.determinism", "audit is refused"),
        ({"determinism": "none-such"}, "$.policy.determinism", "strict, audit or relaxed"),
        ({"limits": {"io_ops": 10}}, "$.policy.limits.io_ops", "cannot count"),
        ({"limits": {"cpu_ms": -1}}, "$.policy.limits.cpu_ms", "whole number"),
        ({"limits": {"cpu_ms": 2**64}}, "$.policy.limits.cpu_ms", "2^64"),
        ({"limits": {"memory_bytes": True}}, "$.policy.limits.memory_bytes", "whole number"),
        ({"limits": {"memory_bytes": 1000}}, "$.policy.limits.memory_bytes", "1 MiB"),
        ({"limits": {"memory_bytes": 2 * MIB}}, "$.policy.limits.memory_bytes", "too little"),
        (
            {"capabilities": [{"name": "gpu", "level": "required"}]},
            "$.policy.capabilities[0].name",
            "requires cap 'gpu'",
        ),
        (
            {"capabilities": [{"name": "fs", "level": "maybe"}]},
            "$.policy.capabilities[0].level",
            "required or optional",
        ),
    ],
)
def test_policy_refusals(policy, path, fragment):
    error = refusal(fake_builtin(**policy))
    assert error.path == path
    assert fragment in str(error)


@pytest.mark.parametrize(
    "uri",
    [
        "file:../../etc/shadow",
        "file:/etc/shadow",
        "file:a/../../b",
        "file:",
        "http://example.com/secret",
        "vault:kv/x",
        "env:A B",
        "env:",
    ],
)
def test_secret_backends_pylon_does_not_understand_are_refused(uri):
    data = fake_builtin()
    data["secrets"] = [{"secret_id": "S", "backend_uri": uri}]
    error = refusal(data)
    assert error.path == "$.secrets[0].backend_uri"


def test_a_secret_id_must_be_a_variable_name():
    data = fake_builtin()
    data["secrets"] = [{"secret_id": "db-password", "backend_uri": "env:X"}]
    assert refusal(data).path == "$.secrets[0].secret_id"


def test_linkage_static_and_runtime_are_accepted_others_not():
    for linkage in ("static", "runtime"):
        data = fake_builtin()
        data["linkage"] = linkage
        assert plans.parse(json.dumps(data)).linkage == linkage
    data = fake_builtin()
    data["linkage"] = "dynamic"
    assert refusal(data).path == "$.linkage"


def test_an_optional_cap_pylon_lacks_is_reported_once_on_stderr(built, tmp_path):
    data = upstream_plan(cpython_digest(), capabilities=[{"name": "gpu", "level": "optional"}])
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(data))
    result = run_pylon("--plan", str(plan_file), "-c", "print('ran')")
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == "ran"
    notes = [line for line in result.stderr.splitlines() if "gpu" in line]
    assert len(notes) == 1 and "optional cap 'gpu'" in notes[0]


# -- secrets ---------------------------------------------------------------------


def test_secrets_reach_the_guest_as_environment_variables_and_never_a_written_plan(built, tmp_path):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "db").write_text("file-value-123\n")
    outside = tmp_path / "outside"
    outside.write_text("outside-value")
    (secrets / "escape").symlink_to(outside)
    data = upstream_plan(cpython_digest())
    data["secrets"] = [
        {"secret_id": "FROM_ENV", "backend_uri": "env:PYLON_TEST_SECRET"},
        {"secret_id": "FROM_FILE", "backend_uri": "file:db"},
    ]
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(data))
    env = {"PYLON_SECRETS_DIR": str(secrets), "PYLON_TEST_SECRET": "env-value-456"}
    code = "import os; print(os.environ['FROM_ENV'], os.environ['FROM_FILE'])"
    result = run_pylon("--plan", str(plan_file), "-c", code, env=env)
    assert result.status == 0, result.stderr
    assert result.stdout.strip() == "env-value-456 file-value-123"

    shown = run_pylon("plan", "show", "--plan", str(plan_file), env=env)
    built_plan = tmp_path / "b.json"
    run_pylon("plan", "build", "--plan", str(plan_file), "-o", str(built_plan), env=env)
    for text in (shown.stdout, shown.stderr, built_plan.read_text()):
        assert "env-value-456" not in text and "file-value-123" not in text
    assert "env:PYLON_TEST_SECRET" in shown.stdout

    # A symlink out of the secrets folder is not followed out of it.
    data["secrets"] = [{"secret_id": "S", "backend_uri": "file:escape"}]
    plan_file.write_text(json.dumps(data))
    result = run_pylon("--plan", str(plan_file), "-c", "pass", env=env)
    assert result.status == 2
    assert "outside" in result.stderr and "outside-value" not in result.stderr
    # A missing variable names the secret, never a value.
    data["secrets"] = [{"secret_id": "S", "backend_uri": "env:PYLON_TEST_UNSET"}]
    plan_file.write_text(json.dumps(data))
    result = run_pylon("--plan", str(plan_file), "-c", "pass", env=env)
    assert result.status == 2 and "PYLON_TEST_UNSET" in result.stderr


def test_secret_resolution_refuses_large_and_binary_files(tmp_path, monkeypatch):
    monkeypatch.setenv("PYLON_SECRETS_DIR", str(tmp_path))
    (tmp_path / "big").write_bytes(b"x" * (plans.MAX_SECRET_BYTES + 1))
    (tmp_path / "bin").write_bytes(b"\xff\xfe")
    (tmp_path / "nul").write_bytes(b"a\0b")
    for name in ("big", "bin", "nul"):
        with pytest.raises(PylonError) as caught:
            plans.resolve_secrets((plans.Secret("S", f"file:{name}"),))
        assert "secret S" in str(caught.value)


# -- the plan's digest -------------------------------------------------------------


def test_the_digest_is_sha256_of_planv1s_cbor_in_field_order():
    """Bytes worked out by hand from ciborium's encoding of the PlanV1 struct:
    a map per struct (definite length, keys in field order, skipped Options and
    static linkage absent), text strings, a digest as an array of integers in
    their shortest form."""
    data = {
        "version": "1",
        "root": "r",
        "components": [{"id": "r", "digest": [0] * 31 + [255]}],
        "bindings": [],
        "secrets": [],
        "policy": {
            "determinism": "relaxed",
            "capabilities": [],
            "limits": {"memory_bytes": 16 * MIB},
        },  # noqa: E501
    }
    data["components"][0]["source"] = "builtin:cpython"
    plan = plans.parse(json.dumps(data))

    def text(s: str) -> bytes:
        assert len(s) < 24
        return bytes([0x60 + len(s)]) + s.encode()

    expected = (
        b"\xa6"  # map(6): linkage is static, so omitted
        + text("version") + text("1")
        + text("root") + text("r")
        + text("components") + b"\x81"
        + b"\xa3" + text("id") + text("r")
        + text("digest") + b"\x98\x20" + b"\x00" * 31 + b"\x18\xff"
        + text("source") + text("builtin:cpython")
        + text("bindings") + b"\x80"
        + text("secrets") + b"\x80"
        + text("policy") + b"\xa3"
        + text("determinism") + text("relaxed")
        + text("capabilities") + b"\x80"
        + text("limits") + b"\xa1" + text("memory_bytes") + b"\x1a\x01\x00\x00\x00"
    )  # fmt: skip
    assert plan.digest() == hashlib.sha256(expected).hexdigest()


def test_the_digest_ignores_pylons_extras_the_full_digest_does_not():
    data = fake_builtin()
    plain = plans.parse(json.dumps(data))
    data["env"] = {"A": "1"}
    data["name"] = "other"
    extra = plans.parse(json.dumps(data))
    assert plain.digest() == extra.digest()
    assert plain.full_digest() != extra.full_digest()
    data["linkage"] = "runtime"
    assert plans.parse(json.dumps(data)).digest() != plain.digest()
    data["linkage"] = "static"  # static is omitted: the same digest as without it
    data.pop("env")
    data.pop("name")
    assert plans.parse(json.dumps(data)).digest() == plain.digest()


def test_cpu_ms_becomes_the_tighter_wall_clock_limit():
    data = fake_builtin(limits={"cpu_ms": 250})
    data["timeout_seconds"] = 10
    plan = plans.parse(json.dumps(data))
    assert plan.call_timeout == 0.25
    assert plan.runtime_options().timeout == 0.25


def test_cpu_ms_stops_a_busy_guest(built, tmp_path):
    data = upstream_plan(cpython_digest(), limits={"cpu_ms": 500})
    plan_file = tmp_path / "p.json"
    plan_file.write_text(json.dumps(data))
    result = run_pylon("--plan", str(plan_file), "-c", "while True: pass", timeout=60)
    assert result.status == 124, result.stderr


def test_pylon_writes_no_secret_values_into_the_environment_of_the_plan(tmp_path):
    assert not any(k.startswith("PYLON_TEST_SECRET") for k in os.environ)
    data = fake_builtin()
    data["secrets"] = [{"secret_id": "X", "backend_uri": "env:HOME"}]
    plan = plans.parse(json.dumps(data))
    assert "HOME" not in dict(plan.env) and "X" not in dict(plan.env)
    assert Path(os.environ["HOME"]).as_posix() not in json.dumps(
        plans.parse(json.dumps(data)).planv1()
    )  # noqa: E501
