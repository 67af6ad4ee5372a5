"""`pylon plan ...` and plans on the command line."""

from __future__ import annotations

import json

from conftest import run_pylon


def test_plan_show_reflects_the_flags(tmp_path):
    result = run_pylon(
        "plan", "show", "--mp", "--env", "A=1", "--timeout", "3", "--dir", f"{tmp_path}:/data:ro"
    )
    assert result.status == 0, result.stderr
    plan = json.loads(result.stdout)
    assert plan["runtime"] == "micropython" and plan["root"] == "micropython"
    assert plan["env"] == {"A": "1"}
    assert plan["policy"]["limits"]["timeout_seconds"] == 3
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
    assert sorted(plan["policy"]["capabilities"]) == ["duckdb", "fs", "sqlite"]
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
