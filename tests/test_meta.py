"""The line REPL's meta-commands, on a real session."""

from __future__ import annotations

import json

import pytest
from conftest import Captured

from pylon_shell.meta import MetaError, run_meta
from pylon_shell.plan import load, shipped, shipped_dir
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
    assert plan["policy"]["capabilities"] == [
        {"name": "duckdb", "level": "required"},
        {"name": "crypto", "level": "required"},
        {"name": "fs", "level": "required"},
    ]
    target = tmp_path / "mine.json"
    assert run_meta(session, f":save {target}") == f"saved the plan to {target}"
    assert json.loads(target.read_text())["policy"]["capabilities"] == [
        {"name": "duckdb", "level": "required"},
        {"name": "crypto", "level": "required"},
        {"name": "fs", "level": "required"},
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (":grant", ":grant needs a cap name (fs, env, sqlite"),
        (":revoke sqlit", "unknown cap 'sqlit' (known: fs, env"),
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


def test_save_without_a_name_writes_here_never_into_a_shipped_plan(session, tmp_path, monkeypatch):
    """`:save` once wrote the session's grants into the installed package's
    plans/default.json, widening the default sandbox of every later run."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "plans").mkdir()  # where the old relative target "plans/default.json" led
    shipped_file = shipped_dir() / "default.json"
    before = shipped_file.read_bytes()
    assert run_meta(session, ":grant crypto") == "granted crypto"
    assert run_meta(session, ":save") == f"saved the plan to {tmp_path / 'default.json'}"
    assert shipped_file.read_bytes() == before
    assert not (tmp_path / "plans" / "default.json").exists()
    assert {"name": "crypto", "level": "required"} in json.loads(
        (tmp_path / "default.json").read_text()
    )["policy"]["capabilities"]


def test_a_plan_loaded_from_the_shipped_directory_saves_here(tmp_path, monkeypatch):
    """`--plan .../site-packages/pylon_shell/plans/default.json` is a shipped plan too."""
    monkeypatch.chdir(tmp_path)
    shipped_file = shipped_dir() / "default.json"
    before = shipped_file.read_bytes()
    session = Session(load(shipped_file), Captured())
    try:
        run_meta(session, ":grant crypto")
        assert run_meta(session, ":save") == f"saved the plan to {tmp_path / 'default.json'}"
        with pytest.raises(MetaError) as refused:
            run_meta(session, f":save {shipped_file}")
    finally:
        session.close()
    assert str(refused.value) == (
        f"could not write {shipped_file}: {shipped_file} is a plan shipped with pylon and is "
        "never overwritten; save to a file of your own, e.g. ./pylon-plan.json"
    )
    assert shipped_file.read_bytes() == before


def test_save_names_the_absolute_path_it_wrote(session, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_meta(session, ":save mine.json") == f"saved the plan to {tmp_path / 'mine.json'}"
    assert json.loads((tmp_path / "mine.json").read_text())["name"] == "default"


def test_runtime_refuses_a_memory_limit_the_other_runtime_cannot_start_in(tmp_path):
    from dataclasses import replace

    session = Session(replace(shipped("default"), memory_mib=16), Captured())
    try:
        with pytest.raises(MetaError) as refused:
            run_meta(session, ":runtime mp")
    finally:
        session.close()
    assert str(refused.value) == (
        "cannot switch runtimes: 16 MiB is too little for MicroPython, "
        "which needs at least 17 MiB to start (the plan's memory limit)"
    )
