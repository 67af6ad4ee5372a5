"""What `pylon trace` learns from a run's events, and the plan it writes."""

from __future__ import annotations

from pathlib import Path

from pylon_shell.caps.grants import CapCallEvent, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Preopen
from pylon_shell.trace import Recorder, report_lines, smallest_plan

DATA = Preopen(Path("/host/data"), "/data")
LOGS = Preopen(Path("/host/logs"), "/logs")
SCRATCH = Preopen(Path("/host/scratch"), "/scratch", readonly=True)


def base_plan(**changes):
    from dataclasses import replace

    plan = replace(
        shipped("default"),
        capabilities=("sqlite", "duckdb", "fs", "env"),
        preopens=(DATA, LOGS, SCRATCH),
    )
    return replace(plan, **changes)


def recorder_for(plan) -> Recorder:
    return Recorder(GuestFS(list(plan.preopens)))


def test_a_pure_computation_needs_no_caps():
    plan = base_plan()
    recorder = recorder_for(plan)
    recorder(ImportEvent("json", "__main__", "stdlib", True, True))
    smallest = smallest_plan(plan, recorder, "traced")
    assert smallest.capabilities == ()
    assert smallest.preopens == ()
    assert report_lines(recorder, smallest) == ["  no caps: the script only computed"]


def test_caps_come_from_imports_and_calls():
    plan = base_plan()
    recorder = recorder_for(plan)
    recorder(ImportEvent("sqlite3", "__main__", "sqlite", True, True))
    recorder(CapCallEvent("sqlite", "import", "sqlite3", True, decided_by="audit"))
    recorder(CapCallEvent("sqlite", "execute", "select 1", True, decided_by="audit"))
    recorder(ImportEvent("duckdb", "helpers", "duckdb", True, False))
    smallest = smallest_plan(plan, recorder, "traced")
    assert smallest.capabilities == ("sqlite", "duckdb")
    assert smallest.name == "traced"
    lines = report_lines(recorder, smallest)
    assert "  sqlite    sqlite3 (from __main__); 1 call" in lines
    assert "  duckdb    duckdb (from helpers)" in lines


def test_only_the_directories_used_stay():
    plan = base_plan()
    recorder = recorder_for(plan)
    recorder(CapCallEvent("fs", "open", "/data/in.csv", True))
    recorder(CapCallEvent("fs", "open", "/data/in.csv", True))
    recorder(CapCallEvent("duckdb", "connect", "/logs/x.duckdb", True))
    recorder(CapCallEvent("fs", "open", "/etc/passwd", False))
    smallest = smallest_plan(plan, recorder, "traced")
    assert smallest.preopens == (DATA, LOGS)
    assert "fs" in smallest.capabilities
    lines = report_lines(recorder, smallest)
    assert "  fs        /data/in.csv, /logs/x.duckdb" in lines
    assert "  (refused) /etc/passwd: outside every directory given with --dir" in lines


def test_an_in_memory_database_needs_no_directory():
    plan = base_plan()
    recorder = recorder_for(plan)
    recorder(CapCallEvent("duckdb", "connect", ":memory:", True))
    smallest = smallest_plan(plan, recorder, "traced")
    assert smallest.capabilities == ("duckdb",)
    assert smallest.preopens == ()


def test_env_given_is_kept_because_reads_are_not_observed():
    plan = base_plan(env=(("TOKEN", "x"),))
    smallest = smallest_plan(plan, recorder_for(plan), "traced")
    assert smallest.capabilities == ("env",)
    assert smallest.env == (("TOKEN", "x"),)
    assert any("TOKEN" in line for line in report_lines(recorder_for(plan), smallest))
