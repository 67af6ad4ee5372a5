"""The line REPL's meta-commands, on a real session."""

from __future__ import annotations

import json

import pytest
from conftest import Captured

from pylon_shell.meta import MetaError, run_meta
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok
from pylon_shell.session import Session


@pytest.fixture
def session():
    session = Session(shipped("default"), Captured())
    yield session
    session.close()


def test_caps_lists_every_cap_with_its_state_and_provider(session):
    text = run_meta(session, ":caps")
    assert "  on   sqlite       builtin (builtin, policy)" in text.splitlines()
    assert "  off  crypto       host (host, boundary)" in text.splitlines()


def test_grant_and_revoke_change_the_live_grants_and_the_plan(session, tmp_path):
    assert run_meta(session, ":grant crypto") == "granted crypto"
    assert run_meta(session, ":revoke sqlite") == "revoked sqlite"
    assert run_meta(session, ":grant fs") == "granted fs (applies at the next restart)"
    plan = json.loads(run_meta(session, ":plan"))
    assert plan["policy"]["capabilities"] == ["duckdb", "crypto", "fs"]
    target = tmp_path / "mine.json"
    assert run_meta(session, f":save {target}") == f"saved the plan to {target}"
    assert json.loads(target.read_text())["policy"]["capabilities"] == ["duckdb", "crypto", "fs"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (":grant", ":grant needs a cap name (fs, env, sqlite"),
        (":revoke sqlit", "unknown cap 'sqlit' (known: fs, env"),
        (":save", ":save needs a file name"),
        (":runtime pypy", ":runtime needs cp or mp"),
        (":frobnicate", "unknown command :frobnicate; :help lists them"),
        (":save /nonexistent/dir/plan.json", "could not write /nonexistent/dir/plan.json"),
    ],
)
def test_bad_meta_commands_say_what_is_wrong(session, line, message):
    with pytest.raises(MetaError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_meta(session, line)


def test_runtime_switches_with_the_same_plan(built, session):
    assert session.runtime.run_input("x = 1\n") == Ok()
    assert run_meta(session, ":runtime mp").startswith("switched to MicroPython")
    assert session.plan.runtime == "micropython"
    assert (
        session.runtime.run_input("import sys\nassert sys.implementation.name == 'micropython'\n")
        == Ok()
    )
