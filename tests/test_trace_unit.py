"""What `pylon trace` learns from a run's events, and the plan it writes."""

from __future__ import annotations

from pathlib import Path

from pylon_shell.caps.grants import CapCallEvent, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.options import Preopen
from pylon_shell.plan import shipped
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
    recorder(ImportEvent("sqlite3", "__main__", "sqlite", True, True, decided_by="audit"))
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


def test_only_exact_hosts_that_were_reached_are_recorded():
    """A failed connect to the name `*` was written as the pattern `*:443`
    (any host on replay); refused and failed connects are not a host reached."""
    import pytest

    from pylon_shell.caps.grants import Grants

    plan = base_plan()
    recorder = recorder_for(plan)
    grants = Grants(audit=True)
    grants.subscribe(recorder)
    for target, error in (
        ("*:443", OSError("[Errno -2] Name or service not known")),
        ("refused.example:443", ConnectionRefusedError("[Errno 111] Connection refused")),
    ):
        with pytest.raises(OSError), grants.call("net", "connect", target):
            raise error
    for target in ("*.example.com:443", "example.com:*", "ok.example:443"):
        with grants.call("net", "connect", target):
            pass
    try:
        raise KeyError("handled before the call: the call itself succeeds")
    except KeyError:
        with grants.call("tls", "connect", "tls.example:443"):
            pass
    smallest = smallest_plan(plan, recorder, "traced")
    assert smallest.hosts == ("ok.example:443", "tls.example:443")
    assert recorder.hits["net"].calls == 5  # the attempts still needed the cap


class _CountingPath(str):
    """A path that counts how often it is compared: a recorder that searches a
    list compares each new path with every earlier one; past the budget it stops
    the test at once instead of running for minutes."""

    comparisons = 0
    budget = 0

    def __eq__(self, other: object) -> bool:
        cls = type(self)
        cls.comparisons += 1
        if cls.comparisons > cls.budget:
            raise AssertionError(f"more than {cls.budget} comparisons: recording is not linear")
        return str.__eq__(self, other)

    __hash__ = str.__hash__


def test_recording_45000_file_events_is_linear():
    """45,000 fs events in one batch took 11-19 s: every new path was looked up
    in a list of the earlier ones. Counted, not timed: a linear recorder
    compares a path with a few others at most (hash collisions)."""
    count = 45_000
    _CountingPath.comparisons = 0
    _CountingPath.budget = count
    plan = base_plan()
    recorder = recorder_for(plan)
    for i in range(count):
        path = _CountingPath(f"/data/file-{i}")
        recorder(CapCallEvent("fs", "open", path, True))
        recorder(CapCallEvent("fs", "open", path, True))  # again: still one entry
        recorder(CapCallEvent("fs", "open", _CountingPath(f"/elsewhere/{i}"), False))
    assert len(recorder.hits["fs"].files) == count
    assert len(recorder.refused_files) == count
    assert _CountingPath.comparisons <= count
    _CountingPath.budget = 10**9  # matching paths to preopens compares each with a few
    smallest = smallest_plan(plan, recorder, "traced")
    assert [p.guest for p in smallest.preopens] == ["/data"]
    assert len(report_lines(recorder, smallest)) == count + 1
