"""`pylon plan ...` and plans on the command line."""

from __future__ import annotations

import json

import pytest
from conftest import run_pylon


def test_plan_show_reflects_the_flags(tmp_path):
    result = run_pylon(
        "plan", "show", "--mp", "--env", "A=1", "--timeout", "3", "--dir", f"{tmp_path}:/data:ro"
    )
    assert result.status == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["runtime"] == "micropython" and plan["root"] == "micropython"
    assert plan["env"] == {"A": "1"}
    assert plan["timeout_seconds"] == 3 and plan["policy"]["limits"] == {}
    assert plan["preopens"] == [{"host": str(tmp_path), "guest": "/data", "readonly": True}]


def test_plan_validate_accepts_and_rejects(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(run_pylon("plan", "show").stdout)
    result = run_pylon("plan", "validate", str(good))
    assert result.status == 0
    assert "valid plan 'default'" in result.stdout

    data = json.loads(good.read_text())
    data["components"][0]["digest"] = [0] * 31
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    result = run_pylon("plan", "validate", str(bad))
    assert result.status == 2
    assert result.stderr == (
        f"pylon: invalid plan: {bad}: $.components[0].digest: "
        "expected 32 byte values (SHA-256), got 31\n"
    )


def test_invalid_plan_refuses_to_run(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"version": "1", "root": "cpython", "components": []}')
    result = run_pylon("--plan", str(bad), "-c", "print(1)")
    assert result.status == 2
    assert result.stdout == ""
    assert "$.components: must name at least the root component" in result.stderr


def test_plan_build_pins_digests_and_replays(pylon, tmp_path):
    out = tmp_path / "pinned.json"
    result = run_pylon("plan", "build", "-o", str(out))
    assert result.status == 0, result.stderr
    digest = json.loads(out.read_text())["components"][0]["digest"]
    assert isinstance(digest, list) and len(digest) == 32
    replay = run_pylon("--plan", str(out), "-c", "print('replayed')")
    assert (replay.status, replay.stdout) == (0, "replayed\n")


def test_digest_mismatch_refuses_to_start_naming_the_component(pylon, tmp_path):
    for flag, component in (("--cp", "cpython"), ("--mp", "micropython")):
        out = tmp_path / f"{component}.json"
        assert run_pylon("plan", "build", flag, "-o", str(out)).status == 0
        data = json.loads(out.read_text())
        data["components"][0]["digest"][0] ^= 0xFF
        out.write_text(json.dumps(data))
        result = run_pylon("--plan", str(out), "-c", "print('must not run')")
        assert result.status == 2
        assert result.stdout == ""
        assert f"component '{component}' does not match the digest its plan trusts" in result.stderr
        assert result.stderr.count("\n") == 1


def test_a_shipped_plan_by_name_maps_the_working_directory(tmp_path):
    result = run_pylon("plan", "show", "--plan", "data", cwd=tmp_path)
    assert result.status == 0, result.stderr
    plan = json.loads(result.stdout)
    caps = plan["policy"]["capabilities"]
    assert sorted(c["name"] for c in caps) == ["duckdb", "fs", "sqlite"]
    assert {c["level"] for c in caps} == {"required"}
    assert plan["preopens"] == [{"host": str(tmp_path), "guest": "/data", "readonly": False}]


def test_an_unknown_plan_is_one_line(tmp_path):
    result = run_pylon("--plan", "nope", "-c", "pass", cwd=tmp_path)
    assert result.status == 2
    assert result.stderr == "pylon: invalid plan: nope: $: no such file\n"


def test_a_directory_named_like_a_shipped_plan_does_not_hide_it(tmp_path):
    (tmp_path / "data").mkdir()
    result = run_pylon("plan", "show", "--plan", "data", cwd=tmp_path)
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout)["name"] == "data"


def test_a_plan_is_read_only_from_a_regular_file(tmp_path):
    """A FIFO once delivered 24 MB past the 1 MiB limit (its size said 0); it is
    refused before anything is read, and so are devices and directories."""
    import os

    fifo = tmp_path / "plan.fifo"
    os.mkfifo(fifo)
    cases = {
        str(fifo): "is a FIFO, not a plan file",
        "/dev/zero": "is a device, not a plan file",
        str(tmp_path): "is a directory, not a plan file",
    }
    for path, problem in cases.items():
        for args in (["--plan", path, "-c", "print('ran')"], ["plan", "validate", path]):
            result = run_pylon(*args, cwd=tmp_path, timeout=30)
            assert (result.status, result.stdout) == (2, ""), (args, result.stderr)
            assert result.stderr == f"pylon: invalid plan: {path}: $: {problem}\n"


def test_plan_build_never_writes_over_a_shipped_plan(tmp_path):
    from pylon_shell.plan import shipped_dir

    shipped = shipped_dir() / "default.json"
    before = shipped.read_bytes()
    result = run_pylon("plan", "build", "--cap", "crypto", "-o", str(shipped), cwd=tmp_path)
    assert shipped.read_bytes() == before
    assert (result.status, result.stdout) == (2, "")
    assert result.stderr == (
        f"pylon: {shipped} is a plan shipped with pylon and is "
        "never overwritten; save to a file of your own, e.g. ./pylon-plan.json\n"
    )


def test_a_component_file_is_resolved_and_digest_checked(tmp_path):
    """A component path such as ../../../../etc/passwd is resolved like any
    path and its bytes checked against the digest before the plan is used."""
    import hashlib

    plan = json.loads(run_pylon("plan", "show").stdout)
    plan["components"].append(
        {"id": "peek", "path": "../../../../../../../../etc/passwd", "digest": [0] * 32}
    )
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = run_pylon("--plan", "plan.json", "-c", "print('ran')", cwd=tmp_path)
    assert (result.status, result.stdout) == (2, ""), result.stderr
    found = hashlib.sha256(open("/etc/passwd", "rb").read()).hexdigest()
    assert result.stderr == (
        f"pylon: invalid plan: plan.json: $.components[1].digest: /etc/passwd does not match "
        f"the digest the plan trusts (plan sha256:{'0' * 12}…, file sha256:{found[:12]}…)\n"
    )


def test_tmp_size_is_recorded_in_the_plan_and_replayed(tmp_path):
    """--tmp-size is part of the plan: `plan show` writes it, --plan applies it
    (a guest past it is stopped with the plan's limit in the line, as without
    user namespaces), a flag wins."""
    shown = run_pylon("plan", "show", "--tmp-size", "1")
    assert shown.status == 0, shown.stderr
    assert json.loads(shown.stdout)["tmp_size_mib"] == 1
    assert "tmp_size_mib" not in json.loads(run_pylon("plan", "show").stdout)
    plan = tmp_path / "p.json"
    plan.write_text(shown.stdout)
    flood = "open('/tmp/big', 'wb').write(b'x' * (3 << 20)); import time; time.sleep(0.5)"
    replayed = run_pylon("--plan", str(plan), "-c", flood, env={"PYLON_NO_USERNS": "1"})
    assert replayed.status == 1
    assert "the guest's /tmp passed its limit of 1 MiB" in replayed.stderr
    wider = run_pylon("--plan", str(plan), "--tmp-size", "8", "-c", flood + "; print('ok')")
    assert (wider.status, wider.stdout) == (0, "ok\n"), wider.stderr
    none = run_pylon("plan", "show", "--tmp-size", "0")
    plan.write_text(none.stdout)
    gone = run_pylon("--plan", str(plan), "-c", "import os; print(os.path.exists('/tmp'))")
    assert gone.stdout == "False\n", gone.stderr


def test_a_bad_tmp_size_in_a_plan_is_one_line(tmp_path):
    data = json.loads(run_pylon("plan", "show").stdout)
    for value, problem in (
        (-1, f"must be between 0 (no /tmp) and {1 << 20} MiB"),
        (True, "expected a whole number of MiB, got true"),
        ("8", "expected a whole number of MiB, got the string '8'"),
    ):
        data["tmp_size_mib"] = value
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(data))
        result = run_pylon("plan", "validate", str(bad))
        assert result.status == 2
        assert result.stderr == f"pylon: invalid plan: {bad}: $.tmp_size_mib: {problem}\n"


@pytest.mark.runtime
def test_validate_refuses_a_digest_that_start_would_refuse(built, tmp_path):
    """`plan validate` checks the digests of pylon's own components it can
    check, with the one line `--plan` gives, instead of calling the plan valid."""
    good = tmp_path / "good.json"
    assert run_pylon("plan", "build", "-o", str(good)).status == 0
    data = json.loads(good.read_text())
    data["components"][0]["digest"][0] ^= 1  # one bit of the CPython component's digest
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    validated = run_pylon("plan", "validate", str(bad))
    started = run_pylon("--plan", str(bad), "-c", "print('ran')")
    assert (validated.status, validated.stdout) == (2, "")
    assert (started.status, started.stdout) == (2, "")
    assert validated.stderr == started.stderr
    assert validated.stderr.startswith("pylon: component 'cpython' does not match the digest")
    assert run_pylon("plan", "validate", str(good)).status == 0
