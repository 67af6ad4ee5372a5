"""Guards that a mutation of the code showed no test would miss (issue 13).

Each test here is named in tests/mutation/guards.toml beside the mutant it
kills: the guard removed or loosened, this test fails.
"""

from __future__ import annotations

import hashlib
import json
import socket
from dataclasses import replace

import pytest
from conftest import Captured

from pylon_shell import artifacts
from pylon_shell.caps import channel
from pylon_shell.caps.grants import Grants
from pylon_shell.caps.layer import MAX_PENDING, MAX_UPLOAD, CapLayer
from pylon_shell.caps.process import ProviderProcess
from pylon_shell.options import Preopen
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session

FLAGS = ["--cp", "--mp"]


# -- the import gate: a module already loaded is checked again ---------------


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_an_import_of_a_loaded_module_is_checked_again_after_a_revoke(built, runtime):
    plan = replace(shipped("minimal").with_runtime(runtime), capabilities=("sqlite",))
    out = Captured()
    session = Session(plan, out)
    try:
        rt = session.runtime
        assert rt.run_input("import sqlite3") == Ok()
        session.grants.revoke("sqlite")
        outcome = rt.run_input("import sqlite3")
        assert isinstance(outcome, Raised), outcome
        assert outcome.type_name == "CapImportError", outcome
        assert (
            "import of sqlite3 needs the sqlite cap, which this plan does not grant; "
            "grant it with --cap sqlite"
        ) in outcome.traceback
        session.grants.grant("sqlite")
        assert rt.run_input("import sqlite3") == Ok()
    finally:
        session.close()


# -- DuckDB's confinement -------------------------------------------------------

DUCKDB_SETTINGS = """
import duckdb
c = duckdb.connect()
print(c.execute("select current_setting('memory_limit'), current_setting('enable_external_access'),"
                " current_setting('lock_configuration')").fetchone())
for stmt in ("SET memory_limit = '8GB'", "SET lock_configuration = false",
             "SET enable_external_access = true"):
    try:
        c.execute(stmt)
        print("CHANGED", stmt)
    except Exception as error:
        print(type(error).__name__, str(error).splitlines()[0])
"""


@pytest.mark.parametrize("flag", FLAGS)
def test_duckdb_settings_cannot_be_changed_by_the_guest(pylon, flag):
    result = pylon(flag, "--memory", "64", "--cap", "duckdb", "-c", DUCKDB_SETTINGS)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "('64.0 MiB', False, True)", lines
    locked = "Invalid Input Error: Cannot change configuration option"
    assert lines[1:] == [
        f'InvalidInputException {locked} "memory_limit" - the configuration has been locked',
        f'InvalidInputException {locked} "lock_configuration" - the configuration has been locked',
        f'InvalidInputException {locked} "enable_external_access" - the configuration has been '
        "locked",
    ], lines


def test_duckdb_cannot_write_through_a_read_only_grant(tmp_path):
    """The backstop under the launcher's SQL path checks: the connection the
    provider opens may write only in writable grants (DuckDB's
    allowed_directories), whatever path reaches DuckDB itself."""
    import duckdb

    from pylon_shell.caps.duckdb.provider import DuckDBProvider
    from pylon_shell.caps.guestfs import GuestFS

    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    fs = GuestFS([Preopen(rw, "/rw", False), Preopen(ro, "/ro", True)])
    connection = DuckDBProvider(Grants(["duckdb"]), fs)._open(":memory:", False)
    try:
        connection.execute(f"copy (select 42) to '{rw}/written.csv'")
        assert (rw / "written.csv").exists()
        with pytest.raises(duckdb.PermissionException) as refused:
            connection.execute(f"copy (select 42) to '{ro}/written.csv'")
        assert str(refused.value).startswith(
            f'Permission Error: Cannot access file "{ro}/written.csv" - file system operations '
            "are disabled by configuration"
        ), refused.value
        assert not (ro / "written.csv").exists()
    finally:
        connection.close()


# -- WASI caps apply only when granted ----------------------------------------------

ENV_AND_FILES = """
import os
print(os.getenv('TOKEN'))
try:
    print(open('/data/in.txt').read())
except OSError as error:
    print(type(error).__name__)
"""


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_a_plans_env_and_preopens_need_their_caps(pylon, runtime, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "in.txt").write_text("granted file")
    plan = json.loads(shipped("minimal").with_runtime(runtime).dumps())
    plan["env"] = {"TOKEN": "s3cret"}
    plan["preopens"] = [{"host": str(data), "guest": "/data"}]
    for caps, env, files in (
        ([], "None", None),
        (["env", "fs"], "s3cret", "granted file"),
    ):
        plan["policy"]["capabilities"] = caps
        path = tmp_path / f"plan-{len(caps)}.json"
        path.write_text(json.dumps(plan))
        result = pylon("--plan", str(path), "-c", ENV_AND_FILES)
        assert result.status == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0] == env, (caps, result.stdout)
        if files is None:
            assert "s3cret" not in result.stdout
            assert lines[1] == ("FileNotFoundError" if runtime == "cpython" else "OSError")
        else:
            assert lines[1] == files


# -- digest checks ------------------------------------------------------------------


def test_a_micropython_plan_pinning_another_digest_refuses_to_start(pylon, tmp_path):
    wasm = artifacts.micropython_artifacts().wasm
    real = list(hashlib.sha256(wasm.read_bytes()).digest())
    plan = json.loads(shipped("minimal").with_runtime("micropython").dumps())
    for digest, status in ((real, 0), ([0] * 32, 2)):
        plan["components"][0]["digest"] = digest
        (tmp_path / "plan.json").write_text(json.dumps(plan))
        result = pylon("--plan", str(tmp_path / "plan.json"), "-c", "print('ran')")
        assert result.status == status, result.stderr
        if status == 0:
            assert result.stdout == "ran\n"
        else:
            assert result.stdout == ""
            assert "does not match the digest its plan trusts" in result.stderr


# -- the MicroPython bridge's bounds --------------------------------------------------


def test_bridge_uploads_and_pending_replies_are_bounded(tmp_path):
    layer = CapLayer("micropython", Grants(["compression"]), [])
    try:
        handlers = layer.bridge_handlers()
        part = "00" * (1 << 20)
        answers = [handlers["put"](part) for _ in range((MAX_UPLOAD >> 20) + 1)]
        assert answers[:-1] == [""] * (MAX_UPLOAD >> 20)
        assert answers[-1] == '!["MemoryError", "more than 64 MiB in one call"]'
        assert layer.bridge._upload == []
        # Replies in parts: unread ones are dropped oldest first past MAX_PENDING.
        for _ in range(MAX_PENDING // (4 << 20) + 4):  # each leaves 4 Mi hex digits unread
            first = layer.bridge.parts("ab" * (4 << 20))
            assert first.startswith(">")
        assert sum(map(len, layer.bridge._pending.values())) <= MAX_PENDING
    finally:
        layer.process.close()


# -- the channel's bounds ---------------------------------------------------------------


def test_channel_frames_and_nesting_are_bounded():
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(channel._HEADER.pack(channel.MAX_FRAME + 1, 2) + b"{}")
        theirs.shutdown(socket.SHUT_WR)  # without the bound, the read ends, never hangs
        with pytest.raises(channel.ChannelError, match="over the limit"):
            channel.receive(ours)
    finally:
        ours.close()
        theirs.close()
    nested: object = 1
    for _ in range(channel.MAX_DEPTH + 2):
        nested = [nested]
    head = json.dumps({"m": nested, "a": []}).encode()
    frame = channel._HEADER.pack(channel._HEADER.size + len(head), len(head)) + head
    with pytest.raises(channel.ChannelError, match="value nests too deeply"):
        channel.unpack(frame)


# -- the provider process: what it is given, what it may ask ------------------------------


def test_the_provider_process_gets_read_only_grants_read_only(tmp_path, monkeypatch):
    rw, ro = tmp_path / "rw", tmp_path / "ro"
    rw.mkdir()
    ro.mkdir()
    sent: list[object] = []
    real_send = channel.send

    def record(sock, message):
        sent.append(message)
        return real_send(sock, message)

    monkeypatch.setattr(channel, "send", record)
    process = ProviderProcess(
        Grants(["duckdb"]), [Preopen(rw, "/rw", False), Preopen(ro, "/ro", True)], None
    )
    try:
        process._start()
    finally:
        process.close()
    config = sent[0]
    assert isinstance(config, dict)
    assert str(ro) not in config["read_write"]
    assert str(rw) in config["read_write"]
    assert config["read_only"] == [str(ro)]


@pytest.mark.parametrize(
    "question",
    [
        ["grant", ["crypto"]],
        ["set", ["crypto", True]],
        ["allow_host", ["*:*"]],
        ["decide", ["crypto", 1, "x"]],
        ["reaches", ["crypto", None]],
        ["is_granted", []],
        ["denial", ["a", "b"]],
        "decide",
    ],
    ids=str,
)
def test_the_launcher_answers_only_the_questions_it_knows(question):
    grants = Grants([])
    process = ProviderProcess(grants, [], None)
    with pytest.raises(channel.ChannelError, match="a malformed question"):
        process._answer(question)
    assert grants.granted == frozenset()
    assert grants.hosts == ()
    events: list[object] = []
    grants.subscribe(events.append)
    for event in (
        ["crypto", "x", "", "yes", 0.1, "grant", True],
        ["crypto", "x", "", True, 0.1, "grant"],
        [1, "x", "", True, 0.1, "grant", True],
    ):
        with pytest.raises(channel.ChannelError, match="a malformed event"):
            process._event(event)
    assert events == []
    assert process._answer(["is_granted", ["crypto"]]) is False


# -- the TLS policy on the host side ----------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "problem"),
    [
        (
            {"verify_mode": 0, "check_hostname": False},
            "the tls cap never turns certificate checks off (this context does not require "
            "a certificate); trust the server's CA with load_verify_locations instead",
        ),
        (
            {"verify_mode": 1, "check_hostname": True},
            "the tls cap never turns certificate checks off (this context does not require "
            "a certificate); trust the server's CA with load_verify_locations instead",
        ),
        (
            {"verify_mode": 2, "check_hostname": False},
            "the tls cap never turns certificate checks off (check_hostname is False); "
            "connect with the name the certificate is for",
        ),
        (
            {"verify_mode": 2, "check_hostname": True, "server_side": True},
            "the tls cap makes client connections only; TLS servers are not supported",
        ),
    ],
)
def test_the_host_refuses_tls_settings_that_turn_checks_off(settings, problem):
    """The guest's ssl stand-in refuses these first; a guest that calls the WIT
    import itself meets the host's refusal, which must not depend on the guest."""
    import ssl

    from pylon_shell.caps.tls import provider as tls

    assert settings.get("verify_mode") in (ssl.CERT_NONE, ssl.CERT_OPTIONAL, ssl.CERT_REQUIRED)
    assert tls.refusal(settings) == problem
    assert tls.refusal({"verify_mode": ssl.CERT_REQUIRED, "check_hostname": True}) is None
