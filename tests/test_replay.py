"""After a trap the REPL session is restored by replaying the earlier inputs that
had no effect outside the guest (pylon_shell/replay.py), on both runtimes."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
from conftest import Captured

from pylon_shell.options import Preopen
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised, Trapped
from pylon_shell.session import Session

RUNTIMES = ["cpython", "micropython"]
#: A C loop that never returns to bytecode: Ctrl+C can only trap it.
C_LOOP = {"cpython": "sum(range(10**15))\n", "micropython": "sum(range(10**9))\n"}


def _session(runtime: str, **plan_changes: object) -> tuple[Session, Captured]:
    out = Captured()
    plan = replace(shipped("default").with_runtime(runtime), **plan_changes)
    return Session(plan, out, keep_on_interrupt=True), out


def _trap(session: Session) -> None:
    runtime = session.runtime
    timer = threading.Timer(0.5, runtime.interrupt)
    timer.daemon = True
    timer.start()
    outcome = session.run_input(C_LOOP[runtime.name])
    assert isinstance(outcome, Trapped), outcome


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_trap_replays_the_inputs_before_it_silently(built, runtime):
    session, out = _session(runtime)
    try:
        assert session.run_input("x = 41\n") == Ok()
        assert session.run_input("print('once')\n") == Ok()
        assert isinstance(session.run_input("1/0\n"), Raised)  # ran to its end: replayed
        assert session.run_input("y = x + 1\n") == Ok()
        _trap(session)
        out.clear()
        assert session.restore() == "replayed 4 earlier inputs into a fresh session"
        assert out.text() == ""  # the replay's output is not shown again
        assert session.run_input("print(x, y)\n") == Ok()
        assert out.text() == "41 42\n"
    finally:
        session.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_write_to_a_granted_directory_ends_the_replay(built, runtime, tmp_path):
    preopens = (Preopen(tmp_path, "/data", False),)
    session, out = _session(runtime, capabilities=("fs",), preopens=preopens)
    try:
        assert session.run_input("x = 41\n") == Ok()
        code = "f = open('/data/log.txt', 'a')\nf.write('line\\n')\nf.close()\n"
        assert session.run_input(code) == Ok()
        assert session.run_input("y = 2\n") == Ok()
        _trap(session)
        assert session.restore() == (
            "replayed 1 earlier input into a fresh session "
            "(not input 2 or later: it used the fs cap)"
        )
        assert (tmp_path / "log.txt").read_text() == "line\n"  # written once, not again
        out.clear()
        assert session.run_input("print(x, 'y' in globals())\n") == Ok()
        assert out.text() == "41 False\n"
    finally:
        session.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_denied_cap_call_is_replayed(built, runtime):
    """A refused import did nothing outside the guest."""
    session, out = _session(runtime, capabilities=())
    try:
        assert isinstance(session.run_input("import duckdb\n"), Raised)
        assert session.run_input("x = 41\n") == Ok()
        _trap(session)
        assert session.restore() == "replayed 2 earlier inputs into a fresh session"
        out.clear()
        assert session.run_input("print(x + 1)\n") == Ok()
        assert out.text() == "42\n"
    finally:
        session.close()


def test_the_log_stops_at_stdin_and_at_an_interrupted_input():
    from pylon_shell.replay import ReplayLog

    log = ReplayLog()
    log.begin()
    log.end("a = 1\n", Ok())
    log.begin()
    log.read_stdin()
    log.end("b = input()\n", Ok())
    log.begin()
    log.end("c = 3\n", Ok())
    assert log.inputs == ["a = 1\n"]
    assert log.summary(1).endswith("(not input 2 or later: it read stdin)")
    log.clear()
    log.begin()
    log.end("while True: pass\n", Raised("KeyboardInterrupt", "KeyboardInterrupt\n"))
    assert log.inputs == [] and log.stopped == "it was interrupted"
