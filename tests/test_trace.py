"""`pylon trace`, `pylon plan build` and replays, run as a user runs them."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

FLAGS = ("--cp", "--mp")

JOB = """
import json
import sqlite3
import duckdb

with open('/data/in.csv', 'w') as f:
    f.write('a,b\\n1,2\\n3,4\\n')
con = sqlite3.connect('/data/app.db')
con.execute('create table if not exists t(x)')
con.execute('insert into t values (1)')
con.commit()
total = duckdb.connect().sql("select sum(a+b) from read_csv('/data/in.csv')").fetchone()[0]
print('total', int(total))
"""


@pytest.fixture
def job(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A script that uses sqlite, duckdb and a file, with a used and an unused dir."""
    (tmp_path / "data").mkdir()
    (tmp_path / "other").mkdir()
    script = tmp_path / "job.py"
    script.write_text(JOB)
    return script, tmp_path / "data", tmp_path / "other"


@pytest.mark.parametrize("flag", FLAGS)
def test_trace_writes_the_smallest_plan_and_it_replays(pylon, tmp_path, job, flag):
    script, data, other = job
    plan_path = tmp_path / "plan.json"
    traced = pylon(
        "trace",
        flag,
        "--dir",
        f"{data}:/data",
        "--dir",
        f"{other}:/other",
        "-o",
        str(plan_path),
        str(script),
    )
    assert traced.status == 0, traced.stderr
    assert traced.stdout == "total 10\n"
    assert "sqlite3 (from __main__)" in traced.stderr
    assert "duckdb (from __main__)" in traced.stderr
    assert "/data/in.csv" in traced.stderr
    plan = json.loads(plan_path.read_text())
    assert sorted(c["name"] for c in plan["policy"]["capabilities"]) == ["duckdb", "fs", "sqlite"]
    assert [p["guest"] for p in plan["preopens"]] == ["/data"]  # /other was never used
    assert plan["runtime"] == ("cpython" if flag == "--cp" else "micropython")
    assert all(len(c["digest"]) == 32 for c in plan["components"])

    assert pylon("plan", "validate", str(plan_path)).status == 0
    replay = pylon("--plan", str(plan_path), str(script))
    assert (replay.status, replay.stdout) == (0, "total 10\n"), replay.stderr
    with sqlite3.connect(data / "app.db") as host:
        assert host.execute("select count(*) from t").fetchone() == (2,)


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize("cap", ["sqlite", "duckdb", "fs"])
def test_the_traced_plan_minus_any_cap_fails_naming_it(pylon, tmp_path, job, flag, cap):
    script, data, _ = job
    plan_path = tmp_path / "plan.json"
    traced = pylon("trace", flag, "--dir", f"{data}:/data", "-o", str(plan_path), str(script))
    assert traced.status == 0, traced.stderr
    result = pylon("--plan", str(plan_path), "--cap", f"-{cap}", str(script))
    assert result.status == 1
    assert result.stderr.count("\n") == 1
    assert f"needs the {cap} cap" in result.stderr
    assert "--dir HOST:GUEST" in result.stderr if cap == "fs" else f"--cap {cap}" in result.stderr


def test_a_script_that_only_computes_needs_no_caps(pylon, tmp_path):
    script = tmp_path / "calc.py"
    script.write_text("import json, math\nprint(json.dumps(math.factorial(5)))\n")
    plan_path = tmp_path / "plan.json"
    traced = pylon("trace", "-o", str(plan_path), str(script))
    assert traced.status == 0
    assert "no caps: the script only computed" in traced.stderr
    assert json.loads(plan_path.read_text())["policy"]["capabilities"] == []


def test_trace_passes_the_script_status_and_arguments(pylon, tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import sys\nprint(sys.argv[1:])\nraise SystemExit(4)\n")
    traced = pylon("trace", str(script), "a", "b")
    assert traced.status == 4
    assert traced.stdout == "['a', 'b']\n"
    assert "smallest plan" in traced.stderr


def test_plan_build_pins_the_provider_component(pylon, tmp_path):
    plan_path = tmp_path / "p.json"
    built = pylon("plan", "build", "--mp", "--cap", "sqlite", "-o", str(plan_path))
    assert built.status == 0, built.stderr
    plan = json.loads(plan_path.read_text())
    ids = [c["id"] for c in plan["components"]]
    assert ids == ["micropython", "sqlite-provider"]
    assert plan["bindings"] == [
        {
            "consumer_id": "micropython",
            "import_name": "pylon:cap/sqlite@0.1.0",
            "provider_id": "sqlite-provider",
            "export_name": "pylon:cap/sqlite@0.1.0",
        }
    ]
    run = pylon(
        "--plan",
        str(plan_path),
        "-c",
        "import sqlite3; print(sqlite3.connect(':memory:').execute('select 6*7').fetchone())",
    )
    assert (run.status, run.stdout) == (0, "(42,)\n"), run.stderr


def test_a_provider_digest_mismatch_refuses_to_start(pylon, tmp_path):
    plan_path = tmp_path / "p.json"
    assert pylon("plan", "build", "--mp", "--cap", "sqlite", "-o", str(plan_path)).status == 0
    plan = json.loads(plan_path.read_text())
    plan["components"][1]["digest"] = [0] * 32
    plan_path.write_text(json.dumps(plan))
    run = pylon("--plan", str(plan_path), "-c", "print('never')")
    assert run.status == 2
    assert run.stdout == ""
    assert run.stderr.count("\n") == 1
    assert "sqlite-provider" in run.stderr and "digest" in run.stderr


def test_caps_prints_the_catalog(pylon):
    result = pylon("caps")
    assert result.status == 0
    for name in ("fs", "env", "sqlite", "duckdb"):
        assert f"\n{name}  " in "\n" + result.stdout
    assert "pylon:cap/sqlite@0.1.0" in result.stdout
    as_json = json.loads(pylon("caps", "--json").stdout)
    sqlite = next(cap for cap in as_json if cap["name"] == "sqlite")
    component = next(p for p in sqlite["providers"] if p["kind"] == "component")
    # The provider is built by now (the fixtures built it): its digest is shown.
    assert component["backing"].startswith("sha256:") or "not built" in component["backing"]


@pytest.mark.parametrize("flag", FLAGS)
def test_relative_paths_after_chdir_keep_their_directory(pylon, tmp_path, flag):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("hi")
    script = tmp_path / "rel.py"
    script.write_text("import os\nos.chdir('/data')\nprint(open('in.txt').read())\n")
    plan_path = tmp_path / "plan.json"
    traced = pylon("trace", flag, "--dir", f"{data}:/data", "-o", str(plan_path), str(script))
    assert (traced.status, traced.stdout) == (0, "hi\n"), traced.stderr
    assert "/data/in.txt" in traced.stderr and "refused" not in traced.stderr
    assert json.loads(plan_path.read_text())["policy"]["capabilities"] == [
        {"name": "fs", "level": "required"}
    ]


@pytest.mark.parametrize("way", [("--mp",), ("--cp", "--provider", "sqlite=component")])
def test_a_provider_database_by_relative_name_needs_no_directory(pylon, tmp_path, way):
    script = tmp_path / "count.py"
    script.write_text("import sqlite3\nsqlite3.connect('trace-count.db').execute('select 1')\n")
    plan_path = tmp_path / "plan.json"
    traced = pylon("trace", *way, "-o", str(plan_path), str(script))
    assert traced.status == 0, traced.stderr
    assert "refused" not in traced.stderr
    assert json.loads(plan_path.read_text())["policy"]["capabilities"] == [
        {"name": "sqlite", "level": "required"}
    ]
