"""The escape suite: guest code that tries to get out, on both runtimes.

Each attempt runs inside the real guest with the grants a user would give it
(a data directory, a read-only one, duckdb and sqlite) and must fail for the
right reason: the exception it raises names what stopped it. An attempt that
succeeds is an escape; the count of escapes must be zero. docs/security.md
lists the attempts and their results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SECRET = "pylon-host-secret-7f3a"

#: Defined in the guest before the attempts: runs one, prints one JSON line.
HARNESS = """
import json
def attempt(name, fn, *reasons):
    try:
        fn()
    except BaseException as error:
        text = type(error).__name__ + ": " + str(error)
        right = any(text.startswith(reason) for reason in reasons)
        print(json.dumps([name, "blocked" if right else "wrong reason", text[:300]]), flush=True)
    else:
        print(json.dumps([name, "ESCAPED", ""]), flush=True)
"""

#: (name, code defining `go()`, the refusals: the error must start with one of
#: them, its class and its text; "{cp}" / "{mp}" prefixes keep one to a runtime).
COMMON = [
    (
        "read a host file by absolute path",
        "def go():\n    print(open('{secret}').read())",
        (
            "{cp}FileNotFoundError: [Errno 44] No such file or directory: '{secret}'",
            "{mp}OSError: [Errno 44] ENOENT",
        ),
    ),
    (
        "read outside a preopen with ..",
        "def go():\n    print(open('/data/../secret.txt').read())",
        (
            "{cp}PermissionError: [Errno 63] Operation not permitted: '/data/../secret.txt'",
            "{mp}OSError: [Errno 63] EPERM",
        ),
    ),
    (
        "follow a symlink in a preopen that points out of it",
        "def go():\n    print(open('/data/link-out').read())",
        (
            "{cp}PermissionError: [Errno 63] Operation not permitted: '/data/link-out'",
            "{mp}OSError: [Errno 63] EPERM",
        ),
    ),
    (
        "write into a read-only preopen",
        "def go():\n    open('/ro/new.txt', 'w').write('x')",
        (
            "{cp}PermissionError: [Errno 63] Operation not permitted: '/ro/new.txt'",
            "{mp}OSError: [Errno 63] EPERM",
        ),
    ),
    (
        "read the host environment",
        "import os\ndef go():\n"
        "    environ = getattr(os, 'environ', {})\n"
        "    value = os.getenv('PYLON_SECRET_ENV') if hasattr(os, 'getenv') else environ.get("
        "'PYLON_SECRET_ENV')\n"
        "    if value is not None:\n        print(value)\n        return\n"
        "    raise LookupError('not in the guest environment')",
        ("LookupError: not in the guest environment",),
    ),
    (
        "DuckDB read_csv outside the granted dirs",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"select * from read_csv('{outside}')\").fetchall()",
        (
            "PermissionError: the duckdb cap may not reach {outside}: it is outside the writable directories this plan grants (grant one with --dir HOST:GUEST)",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "DuckDB COPY TO outside the granted dirs",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"copy (select 1) to '{out_file}'\")",
        (
            "PermissionError: the duckdb cap may not reach {out_file}: it is outside the writable directories this plan grants (grant one with --dir HOST:GUEST)",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "DuckDB ATTACH outside the granted dirs",
        "import duckdb\ndef go():\n    duckdb.connect().execute(\"attach '{out_db}' as x\")",
        (
            "PermissionError: the duckdb cap may not reach {out_db}: it is outside the writable directories this plan grants (grant one with --dir HOST:GUEST)",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "DuckDB INSTALL an extension",
        "import duckdb\ndef go():\n    duckdb.connect().execute('install httpfs')",
        (
            'PermissionError: the duckdb cap refused: Permission Error: Cannot access directory "/.pylon-provider/.duckdb/extensions/',  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "DuckDB LOAD an extension",
        "import duckdb\ndef go():\n    duckdb.connect().execute('load httpfs')",
        (
            "PermissionError: the duckdb cap refused: Permission Error: Loading external extensions is disabled through configuration (extensions, network and settings are locked)",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "DuckDB over https",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"select * from read_csv('https://example.com/x.csv')\")",
        (
            "PermissionError: the duckdb cap may not reach https://example.com/x.csv: it is outside the writable directories this plan grants (grant one with --dir HOST:GUEST)",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "SQLite ATTACH outside the granted dirs",
        "import sqlite3\ndef go():\n    c = sqlite3.connect('/data/in.db')\n"
        "    c.execute(\"attach database '{out_db}' as x\")\n"
        "    c.execute('create table x.t (a)')",
        ("OperationalError: unable to open database: {out_db}",),
    ),
]

CPYTHON_ONLY = [
    (
        "a socket without a grant",
        "import socket\ndef go():\n    socket.create_connection(('127.0.0.1', 9))",
        (
            "PermissionError: 127.0.0.1:9 is not among the hosts this plan lets the tls cap reach (allowed.test:443); allow it with --host 127.0.0.1:9",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "the interpreter's own WASI socket module (pylon's stand-in keeps it)",
        "import pylon_socket\ndef go():\n"
        "    wasi = pylon_socket._wasi\n"
        "    wasi.socket(wasi.AF_INET, wasi.SOCK_STREAM).connect(('127.0.0.1', 9))",
        ("PermissionError: [Errno 2] Permission denied",),
    ),
    (
        "TLS to a host outside the allowlist",
        "import socket, ssl\ndef go():\n"
        "    ssl.create_default_context().wrap_socket(\n"
        "        socket.create_connection(('example.com', 443)), server_hostname='example.com')",
        (
            "PermissionError: example.com:443 is not among the hosts this plan lets the tls cap reach (allowed.test:443); allow it with --host example.com:443",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "call a cap's interface directly without its grant",
        "from wit_world.imports import crypto\ndef go():\n"
        "    crypto.pbkdf2_hmac('sha256', b'p', b's', 1, None)",
        (
            "Err: Failure(kind='PermissionError', message='the crypto cap is not granted (pbkdf2_hmac sha256, 1 iterations); grant it with --cap crypto')",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "grant itself a cap through the host's request call",
        "from wit_world.imports import host\ndef go():\n"
        "    if host.request('crypto', 'import', 'pylon.crypto'):\n        return\n"
        "    import pylon.crypto",
        (
            "CapImportError: import of pylon.crypto needs the crypto cap, which this plan does not grant; grant it with --cap crypto",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "send the monitor an event that says a cap was granted",
        "from wit_world.imports import host\ndef go():\n"
        '    host.events(\'{"k":"call","c":"crypto","o":"grant","t":"","g":true}\')\n'
        "    import pylon.crypto",
        (
            "CapImportError: import of pylon.crypto needs the crypto cap, which this plan does not grant; grant it with --cap crypto",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "write into the bulk directory the host reads from",
        "def go():\n    open('/.pylon-bulk/g1', 'wb').write(b'x')",
        ("PermissionError: [Errno 63] Operation not permitted: '/.pylon-bulk/g1'",),
    ),
    (
        "SQLite component: open a database outside its directory",
        "import sqlite3\ndef go():\n    sqlite3.connect('{out_db}').execute('create table t (a)')",
        ("OperationalError: unable to open database file",),
    ),
]

MICROPYTHON_ONLY = [
    (
        "https to a host outside the allowlist (the tls cap granted)",
        "import pylon.https as https\ndef go():\n    https.get('https://example.com/')",
        (
            "PermissionError: example.com:443 is not among the hosts this plan lets the tls cap reach (allowed.test:443); allow it with --host example.com:443",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "grant itself a cap through the bridge's request call",
        "import host, json\ndef go():\n"
        "    if json.loads(host.call('request', json.dumps(['crypto', 'import', 'x']))):\n"
        "        return\n"
        "    import pylon.crypto",
        (
            "CapImportError: import of pylon.crypto needs the crypto cap, which this plan does not grant; grant it with --cap crypto",  # noqa: E501 (the exact refusal)
        ),
    ),
    (
        "call a cap's provider through the bridge without its grant",
        "import host, json\ndef go():\n"
        "    reply = json.loads(host.call('crypto.pbkdf2_hmac',"
        " json.dumps(['sha256', '70', '73', 1, None])))\n"
        "    if 'err' in reply:\n        raise PermissionError(reply['err'][1])\n",
        (
            "PermissionError: the crypto cap is not granted (pbkdf2_hmac sha256, 1 iterations); grant it with --cap crypto",  # noqa: E501 (the exact refusal)
        ),
    ),
]


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("escape")
    data, ro = root / "data", root / "ro"
    data.mkdir()
    ro.mkdir()
    (root / "secret.txt").write_text(SECRET)
    (ro / "kept.txt").write_text("read-only")
    os.symlink(root / "secret.txt", data / "link-out")
    (root / "outside.csv").write_text(f"a\n{SECRET}\n")
    return {"root": root, "data": data, "ro": ro}


def _fill(text: str, fill: dict[str, Path]) -> str:
    for key, value in fill.items():
        text = text.replace("{" + key + "}", str(value))
    return text


def run_attempts(pylon, sandbox, flag: str, attempts: list) -> list[list[str]]:
    root = sandbox["root"]
    fill = {
        "secret": root / "secret.txt",
        "outside": root / "outside.csv",
        "out_file": root / "written.csv",
        "out_db": root / "outside.db",
    }
    parts = [HARNESS]
    for index, (name, code, reasons) in enumerate(attempts):
        body = code
        body = _fill(body, fill)
        body = body.replace("def go()", f"def go_{index}()")
        parts.append(body)
        mine, other = ("{cp}", "{mp}") if flag == "--cp" else ("{mp}", "{cp}")
        wanted = tuple(
            _fill(r, fill).removeprefix(mine) for r in reasons if not r.startswith(other)
        )
        parts.append(f"attempt({name!r}, go_{index}, *{wanted!r})")
    args = [flag, "--dir", f"{sandbox['data']}:/data", "--dir", f"{sandbox['ro']}:/ro:ro"]
    args += ["--cap", "duckdb", "--cap", "sqlite", "--provider", "sqlite=component"]
    # The tls cap granted, for one host: the allowlist itself is what refuses.
    args += ["--host", "allowed.test:443"]
    result = pylon(*args, "-c", "\n".join(parts), env={"PYLON_SECRET_ENV": SECRET}, timeout=300)
    assert result.status == 0, result.stderr
    assert SECRET not in result.stdout
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("[")]


@pytest.mark.parametrize(
    ("flag", "attempts"),
    [("--cp", COMMON + CPYTHON_ONLY), ("--mp", COMMON + MICROPYTHON_ONLY)],
    ids=["cpython", "micropython"],
)
def test_no_attempt_escapes(pylon, sandbox, flag, attempts):
    results = run_attempts(pylon, sandbox, flag, attempts)
    assert [r[0] for r in results] == [a[0] for a in attempts]
    escapes = [r for r in results if r[1] == "ESCAPED"]
    wrong = [r for r in results if r[1] == "wrong reason"]
    assert not escapes, escapes
    assert not wrong, wrong
    root = sandbox["root"]
    assert not (root / "written.csv").exists()
    assert not (root / "outside.db").exists()
    assert not (sandbox["ro"] / "new.txt").exists()
    assert (root / "secret.txt").read_text() == SECRET


def test_a_plan_whose_component_digest_does_not_match_refuses_to_start(pylon, tmp_path):
    shown = pylon("plan", "build", "-o", str(tmp_path / "plan.json"))
    assert shown.status == 0, shown.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    plan["components"][0]["digest"] = [0] * 32
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    result = pylon("--plan", str(tmp_path / "plan.json"), "-c", "print('ran')")
    assert result.status == 2
    assert "ran" not in result.stdout
    assert "does not match the digest its plan trusts" in result.stderr
