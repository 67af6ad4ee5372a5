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
        right = any(reason in text for reason in reasons)
        print(json.dumps([name, "blocked" if right else "wrong reason", text[:300]]))
    else:
        print(json.dumps([name, "ESCAPED", ""]))
"""

#: (name, code defining `go()`, reasons any of which the error must show).
COMMON = [
    (
        "read a host file by absolute path",
        "def go():\n    open('/etc/hostname').read()",
        ("FileNotFoundError", "PermissionError", "OSError"),
    ),
    (
        "read outside a preopen with ..",
        "def go():\n    open('/data/../secret.txt').read()",
        ("FileNotFoundError", "PermissionError", "OSError"),
    ),
    (
        "follow a symlink in a preopen that points out of it",
        "def go():\n    print(open('/data/link-out').read())",
        ("PermissionError", "OSError", "FileNotFoundError"),
    ),
    (
        "write into a read-only preopen",
        "def go():\n    open('/ro/new.txt', 'w').write('x')",
        ("PermissionError", "OSError", "Read-only"),
    ),
    (
        "read the host environment",
        "import os\ndef go():\n"
        "    environ = getattr(os, 'environ', {})\n"
        "    value = os.getenv('PYLON_SECRET_ENV') if hasattr(os, 'getenv') else environ.get("
        "'PYLON_SECRET_ENV')\n"
        "    if value is not None:\n        print(value)\n        return\n"
        "    raise LookupError('not in the guest environment')",
        ("LookupError",),
    ),
    (
        "DuckDB read_csv outside the granted dirs",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"select * from read_csv('{outside}')\").fetchall()",
        ("PermissionError",),
    ),
    (
        "DuckDB COPY TO outside the granted dirs",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"copy (select 1) to '{out_file}'\")",
        ("PermissionError",),
    ),
    (
        "DuckDB ATTACH outside the granted dirs",
        "import duckdb\ndef go():\n    duckdb.connect().execute(\"attach '{out_db}' as x\")",
        ("PermissionError",),
    ),
    (
        "DuckDB INSTALL an extension",
        "import duckdb\ndef go():\n    duckdb.connect().execute('install httpfs')",
        ("PermissionError",),
    ),
    (
        "DuckDB LOAD an extension",
        "import duckdb\ndef go():\n    duckdb.connect().execute('load httpfs')",
        ("PermissionError",),
    ),
    (
        "DuckDB over https",
        "import duckdb\ndef go():\n"
        "    duckdb.connect().execute(\"select * from read_csv('https://example.com/x.csv')\")",
        ("PermissionError",),
    ),
    (
        "SQLite ATTACH outside the granted dirs",
        "import sqlite3\ndef go():\n    c = sqlite3.connect('/data/in.db')\n"
        "    c.execute(\"attach database '{out_db}' as x\")\n"
        "    c.execute('create table x.t (a)')",
        ("OperationalError", "PermissionError"),
    ),
]

CPYTHON_ONLY = [
    (
        "a socket without a grant",
        "import socket\ndef go():\n    socket.create_connection(('127.0.0.1', 9))",
        ("PermissionError: the tls cap is not granted (connect 127.0.0.1:9)",),
    ),
    (
        "the interpreter's own WASI socket module (pylon's stand-in keeps it)",
        "import pylon_socket\ndef go():\n"
        "    wasi = pylon_socket._wasi\n"
        "    wasi.socket(wasi.AF_INET, wasi.SOCK_STREAM).connect(('127.0.0.1', 9))",
        ("PermissionError", "OSError"),
    ),
    (
        "TLS to a host outside the allowlist",
        "import socket, ssl\ndef go():\n"
        "    ssl.create_default_context().wrap_socket(\n"
        "        socket.create_connection(('example.com', 443)), server_hostname='example.com')",
        ("PermissionError",),
    ),
    (
        "call a cap's interface directly without its grant",
        "from wit_world.imports import crypto\ndef go():\n"
        "    crypto.pbkdf2_hmac('sha256', b'p', b's', 1, None)",
        ("Err", "PermissionError"),
    ),
    (
        "grant itself a cap through the host's request call",
        "from wit_world.imports import host\ndef go():\n"
        "    if host.request('crypto', 'import', 'pylon.crypto'):\n        return\n"
        "    import pylon.crypto",
        ("needs the crypto cap",),
    ),
    (
        "send the monitor an event that says a cap was granted",
        "from wit_world.imports import host\ndef go():\n"
        '    host.events(\'{"k":"call","c":"crypto","o":"grant","t":"","g":true}\')\n'
        "    import pylon.crypto",
        ("needs the crypto cap",),
    ),
    (
        "write into the bulk directory the host reads from",
        "def go():\n    open('/.pylon-bulk/g1', 'wb').write(b'x')",
        ("PermissionError",),
    ),
    (
        "SQLite component: open a database outside its directory",
        "import sqlite3\ndef go():\n    sqlite3.connect('{out_db}').execute('create table t (a)')",
        ("OperationalError", "PermissionError"),
    ),
]

MICROPYTHON_ONLY = [
    (
        "a socket module",
        "def go():\n    import socket\n    socket.socket()",
        ("ImportError", "no module named", "PermissionError"),
    ),
    (
        "grant itself a cap through the bridge's request call",
        "import host, json\ndef go():\n"
        "    if json.loads(host.call('request', json.dumps(['crypto', 'import', 'x']))):\n"
        "        return\n"
        "    import pylon.crypto",
        ("needs the crypto cap",),
    ),
    (
        "call a cap's provider through the bridge without its grant",
        "import host, json\ndef go():\n"
        "    reply = json.loads(host.call('crypto.pbkdf2_hmac',"
        " json.dumps(['sha256', '70', '73', 1, None])))\n"
        "    if 'err' in reply:\n        raise PermissionError(reply['err'][1])\n",
        ("the crypto cap is not granted",),
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


def run_attempts(pylon, sandbox, flag: str, attempts: list) -> list[list[str]]:
    root = sandbox["root"]
    fill = {
        "outside": root / "outside.csv",
        "out_file": root / "written.csv",
        "out_db": root / "outside.db",
    }
    parts = [HARNESS]
    for index, (name, code, reasons) in enumerate(attempts):
        body = code
        for key, value in fill.items():
            body = body.replace("{" + key + "}", str(value))
        body = body.replace("def go()", f"def go_{index}()")
        parts.append(body)
        parts.append(f"attempt({name!r}, go_{index}, *{reasons!r})")
    args = [flag, "--dir", f"{sandbox['data']}:/data", "--dir", f"{sandbox['ro']}:/ro:ro"]
    args += ["--cap", "duckdb", "--cap", "sqlite", "--provider", "sqlite=component"]
    result = pylon(*args, "-c", "\n".join(parts), env={"PYLON_SECRET_ENV": SECRET})
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
