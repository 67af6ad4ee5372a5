"""Malformed data on the guest-to-host channels is the guest's error, never the launcher's.

A program may call the bindings under the stand-ins itself (CPython's
wit_world.imports.host, MicroPython's host.call): whatever it sends, it gets a
one-line error or its session ends with a reason; the launcher never shows an
internal error or a traceback of its own.
"""

from __future__ import annotations

import pytest

CPYTHON = "from wit_world.imports import host\n"
MICROPYTHON = "import host\n"


def assert_no_launcher_error(stderr: str) -> None:
    assert "internal error" not in stderr
    assert "Traceback" not in stderr or "pylon_shell" not in stderr


@pytest.mark.parametrize(
    "call",
    [
        "host.events('[' * 100000)",
        "host.events('1\\n[]\\n\"x\"\\nnull')",
        'host.events(\'{"k": "call", "c": [1], "g": {}}\')',
        "print(host.request('no-such-cap', 'x', 'y'))",
    ],
)
def test_cpython_malformed_events_and_requests_are_dropped(pylon, call):
    result = pylon("-c", f"{CPYTHON}{call}\nprint('alive')")
    assert_no_launcher_error(result.stderr)
    assert result.status == 0
    assert result.stdout.splitlines()[-1] == "alive"


def test_cpython_output_that_is_not_base64_ends_the_session_with_a_reason(pylon):
    result = pylon("-c", f"{CPYTHON}host.write(1, '!!!x')\nprint('alive')")
    assert_no_launcher_error(result.stderr)
    assert result.status == 1
    assert result.stderr.strip().startswith(
        "pylon: the guest sent the host output that is not base64"
    )
    assert "alive" not in result.stdout


MALFORMED_ARGS = '{"err": ["TypeError", "malformed bridge arguments"]}'


@pytest.mark.parametrize(
    ("name", "payload", "reply"),
    [
        ("events", "'[' * 100000", ""),
        ("events", "'1\\n[]'", ""),
        ("request", "'[1, 2, 3]'", "false"),
        ("request", "'{'", '{"err": ["ValueError", "malformed host call \'request\'"]}'),
        ("put", "'zz'", '!["ValueError", "a bridge part that is not hex"]'),
        ("compression.compress", "'[[[\\nzz'", '!["TypeError", "malformed bridge arguments"]'),
        ("duckdb.connect", "'{}'", MALFORMED_ARGS),
        ("duckdb.connect", "'[' * 100000", MALFORMED_ARGS),
        ("more", "'abc'", '{"err": ["ValueError", "malformed host call \'more\'"]}'),
        (
            "duckdb.close",
            "'[1, 2, 3]'",
            '{"err": ["TypeError", "bad bridge arguments: too many positional arguments"]}',
        ),
        (
            "duckdb.connect",
            "'[]'",
            '{"err": ["TypeError", "bad bridge arguments: missing a required argument: \'db\'"]}',
        ),
        ("next", "''", '{"error": "a request is already running"}'),
    ],
)
def test_micropython_malformed_bridge_calls_get_an_error_reply(pylon, name, payload, reply):
    code = f"{MICROPYTHON}reply = host.call({name!r}, {payload})\nprint(reply == {reply!r})\n"
    flags = ("--mp", "--cap", "duckdb", "--cap", "compression", "--timeout", "20")
    result = pylon(*flags, "-c", code + "print('alive')")
    assert_no_launcher_error(result.stderr)
    assert (result.status, result.stdout) == (0, "True\nalive\n")


def test_micropython_a_reply_that_is_not_an_object_ends_the_session_cleanly(pylon):
    result = pylon("--mp", "-c", f"{MICROPYTHON}host.call('done', '[1]')\nprint('alive')")
    assert_no_launcher_error(result.stderr)
    assert result.status == 1
    assert result.stderr.strip().startswith(
        "pylon: the guest crashed (the guest's reply was corrupt"
    )


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_the_guest_cannot_report_itself_a_granted_import(built, runtime):
    """Only the host's own decision of a gated import becomes its event: a
    forged "granted" report is dropped, odd names are decided by the host's
    catalog (a NUL or extra dots change nothing), long names are cut."""
    from dataclasses import replace

    from conftest import Captured

    from pylon_shell.caps.grants import ImportEvent
    from pylon_shell.plan import shipped
    from pylon_shell.runtimes.base import Ok
    from pylon_shell.session import Session

    forged = '{"k": "import", "m": "duckdb", "i": "__main__", "c": "duckdb", "g": true}'
    if runtime == "cpython":
        code = (
            f"{CPYTHON}host.events({forged!r})\n"
            "ask = host.import_module\n"
            "print(ask('duckdb', 'x'), ask('duckdb..', ''), ask('duckdb.x', 'y' * 100000),"
            " ask('\\x00duckdb', ''))\n"
        )
    else:
        code = (
            f"{MICROPYTHON}import json\nhost.call('events', {forged!r})\n"
            "ask = lambda m, i: json.loads(host.call('import', json.dumps([m, i])))\n"
            "print(ask('duckdb', 'x'), ask('duckdb..', ''), ask('duckdb.x', 'y' * 100000),"
            " ask('\\x00duckdb', ''), host.call('import', '[1, 2]'), host.call('import', 'x'))\n"
        )
    plan = replace(shipped("default").with_runtime(runtime), capabilities=())
    out = Captured()
    session = Session(plan, out)
    events: list[ImportEvent] = []
    session.grants.subscribe(lambda e: events.append(e) if isinstance(e, ImportEvent) else None)
    try:
        assert session.runtime.run_input(code) == Ok(), out.text(2)
    finally:
        session.close()
    expected = "False False False True" + (" false false" if runtime == "micropython" else "")
    assert out.text().strip() == expected
    duckdb = [e for e in events if e.cap == "duckdb"]
    assert [e.module for e in duckdb] == ["duckdb", "duckdb..", "duckdb.x"]
    assert not any(e.granted for e in duckdb)
    assert max(len(e.importer) for e in duckdb) == 256
