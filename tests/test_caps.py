"""The SQL caps and the grants, on the real wasm runtimes, as a user meets them."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import Captured

from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent
from pylon_shell.options import Preopen
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session

FLAGS = ("--cp", "--mp")
#: Every way a sqlite3 module reaches SQLite: CPython's builtin, the component
#: provider from CPython, and MicroPython (component only).
SQLITE_WAYS = (
    ("--cp",),
    ("--cp", "--provider", "sqlite=component"),
    ("--mp",),
)


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize(("module", "cap"), [("sqlite3", "sqlite"), ("duckdb", "duckdb")])
def test_an_ungranted_import_fails_with_one_line_naming_the_cap(pylon, flag, module, cap):
    result = pylon(flag, "--no-caps", "-c", f"import {module}")
    assert result.status == 1
    assert result.stderr == (
        "pylon: <string>:1: "
        f"import of {module} needs the {cap} cap, which this plan does not grant; "
        f"grant it with --cap {cap}\n"
    )


@pytest.mark.parametrize("flag", FLAGS)
def test_the_denial_is_an_import_error_the_program_can_catch(pylon, flag):
    code = (
        "try:\n"
        "    import duckdb\n"
        "except ImportError as e:\n"
        "    print(type(e).__name__, isinstance(e, ImportError), 'duckdb' in str(e))\n"
    )
    result = pylon(flag, "--no-caps", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "CapImportError True True\n"


SQLITE_PROGRAM = """
import sqlite3
con = sqlite3.connect(DB)
con.execute('create table if not exists t(id integer primary key, name text, score real, raw blob)')
con.executemany('insert into t(name, score, raw) values (?, ?, ?)',
                [('ada', 1.5, b'\\x00\\x01'), ('bob', None, None)])
con.commit()
cur = con.execute('select id, name, score, raw from t where name = ?', ('ada',))
print(cur.fetchone())
print(con.execute('select count(*) from t').fetchone()[0])
print([d[0] for d in con.execute('select name, score from t').description])
with con:
    con.execute("insert into t(name) values ('cy')")
try:
    with con:
        con.execute("insert into t(name) values ('dee')")
        raise ValueError
except ValueError:
    pass
print(sorted(r[0] for r in con.execute('select name from t').fetchall()))
try:
    con.execute('select * from nope')
except sqlite3.OperationalError as e:
    print('OperationalError', e)
con.close()
"""


@pytest.mark.parametrize("way", SQLITE_WAYS, ids=lambda w: " ".join(w))
def test_sqlite_behaves_like_the_stdlib(pylon, way):
    result = pylon(*way, "--cap", "sqlite", "-c", "DB = ':memory:'\n" + SQLITE_PROGRAM)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "(1, 'ada', 1.5, b'\\x00\\x01')",
        "2",
        "['name', 'score']",
        "['ada', 'bob', 'cy']",
        "OperationalError no such table: nope",
    ]


@pytest.mark.parametrize("way", SQLITE_WAYS, ids=lambda w: " ".join(w))
def test_a_database_under_a_granted_dir_outlives_pylon(pylon, tmp_path, way):
    result = pylon(
        *way,
        "--cap",
        "sqlite",
        "--dir",
        f"{tmp_path}:/data",
        "-c",
        "DB = '/data/app.db'\n" + SQLITE_PROGRAM,
    )
    assert result.status == 0, result.stderr
    with sqlite3.connect(tmp_path / "app.db") as host:
        names = sorted(row[0] for row in host.execute("select name from t"))
    assert names == ["ada", "bob", "cy"]


@pytest.mark.parametrize("way", SQLITE_WAYS[1:], ids=lambda w: " ".join(w))
def test_the_sqlite_component_cannot_attach_outside_granted_dirs(pylon, tmp_path, way):
    outside = tmp_path / "outside.db"
    sqlite3.connect(outside).close()
    code = (
        "import sqlite3\n"
        "con = sqlite3.connect(':memory:')\n"
        f"con.execute(\"attach database '{outside}' as o\")\n"
    )
    result = pylon(*way, "--cap", "sqlite", "-c", code)
    assert result.status == 1
    # The exact refusal: a syntax error or any other OperationalError is not it.
    error = "sqlite3.OperationalError" if way[0] == "--cp" else "OperationalError"
    assert result.stderr.strip().splitlines()[-1] == (
        f"{error}: unable to open database: {outside}"
    ), result.stderr
    assert "pylon_sqlite" not in result.stderr  # pylon_sqlite3, the provider


DUCKDB_PROGRAM = """
import duckdb
print(duckdb.connect().sql('select 42').fetchall())
a = duckdb.connect()
b = duckdb.connect()
a.execute('create table t(x integer, s varchar)')
a.execute('insert into t values (?, ?), (?, ?)', [1, 'one', 2, 'two'])
b.execute('create table t(x integer)')
print(a.execute('select s from t where x = ?', [2]).fetchone())
print(b.execute('select count(*) from t').fetchone())
cur = a.execute('select x, s from t order by x')
print([d[0] for d in cur.description])
print(cur.fetchall())
try:
    a.execute('select * from nope')
except duckdb.Error as e:
    print(type(e).__name__)
"""


@pytest.mark.parametrize("flag", FLAGS)
def test_duckdb_connect_execute_fetch_in_both_runtimes(pylon, flag):
    result = pylon(flag, "--cap", "duckdb", "-c", DUCKDB_PROGRAM)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "[(42,)]",
        "('two',)",
        "(0,)",
        "['x', 's']",
        "[(1, 'one'), (2, 'two')]",
        "CatalogException",
    ]


@pytest.fixture
def outside_csv(tmp_path: Path) -> Path:
    path = tmp_path / "outside" / "secret.csv"
    path.parent.mkdir()
    path.write_text("a,b\n1,2\n")
    return path


@pytest.mark.parametrize("flag", FLAGS)
@pytest.mark.parametrize(
    "sql",
    [
        "select * from read_csv('{outside}')",
        "copy (select 1) to '{outside_dir}/out.csv'",
        "attach '{outside_dir}/x.duckdb' as x",
        "install httpfs",
        "load '{outside_dir}/evil.duckdb_extension'",
        "select * from read_csv('https://example.com/x.csv')",
    ],
)
def test_duckdb_reaches_nothing_outside_granted_dirs(pylon, tmp_path, outside_csv, flag, sql):
    data = tmp_path / "data"
    data.mkdir()
    query = sql.format(outside=outside_csv, outside_dir=outside_csv.parent)
    code = (
        "import duckdb\n"
        "try:\n"
        f"    duckdb.connect().execute({query!r})\n"
        "except PermissionError as e:\n"
        "    print('PermissionError', e)\n"
    )
    result = pylon(flag, "--cap", "duckdb", "--dir", f"{data}:/data", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.startswith("PermissionError the duckdb cap"), result.stdout
    assert not (outside_csv.parent / "out.csv").exists()
    assert not (outside_csv.parent / "x.duckdb").exists()


@pytest.mark.parametrize("flag", FLAGS)
def test_duckdb_reads_and_writes_inside_a_granted_dir(pylon, tmp_path, flag):
    (tmp_path / "in.csv").write_text("a,b\n1,2\n3,4\n")
    code = (
        "import duckdb\n"
        "con = duckdb.connect('/data/db.duckdb')\n"
        "print(con.sql(\"select sum(a + b) from read_csv('/data/in.csv')\").fetchall())\n"
        "con.execute(\"copy (select 7 as n) to '/data/out.csv'\")\n"
    )
    result = pylon(flag, "--cap", "duckdb", "--dir", f"{tmp_path}:/data", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "[(10,)]\n"
    assert (tmp_path / "out.csv").read_text().split() == ["n", "7"]
    assert (tmp_path / "db.duckdb").exists()


@pytest.mark.parametrize("flag", FLAGS)
def test_a_file_outside_the_granted_dirs_is_an_fs_denial(pylon, tmp_path, flag):
    result = pylon(flag, "--dir", f"{tmp_path}:/data", "-c", "open('/etc/passwd')")
    assert result.status == 1
    assert result.stderr.count("\n") == 1
    assert "fs" in result.stderr and "/etc/passwd" in result.stderr


@pytest.mark.parametrize("flag", FLAGS)
def test_a_read_only_dir_refuses_writes(pylon, tmp_path, flag):
    (tmp_path / "in.txt").write_text("hello")
    code = (
        "print(open('/data/in.txt').read())\n"
        "try:\n"
        "    open('/data/new.txt', 'w')\n"
        "except OSError as e:\n"
        "    print('refused')\n"
    )
    result = pylon(flag, "--dir", f"{tmp_path}:/data:ro", "-c", code)
    assert result.stdout == "hello\nrefused\n", result.stderr
    assert not (tmp_path / "new.txt").exists()


# -- the host API: grants changed while the interpreter runs, and its events --


def session_for(runtime: str, caps: tuple[str, ...], **plan_changes: object) -> Session:
    plan = replace(shipped("default").with_runtime(runtime), capabilities=caps, **plan_changes)
    return Session(plan, Captured())


@pytest.mark.parametrize("runtime_name", ["cpython", "micropython"])
def test_a_revoke_applies_to_the_next_call_without_restart(built, runtime_name):
    session = session_for(runtime_name, ("duckdb",))
    try:
        rt = session.runtime
        assert rt.run_input("import duckdb\ncon = duckdb.connect()") == Ok()
        assert rt.run_input("n = con.execute('select 1').fetchone()[0]") == Ok()
        session.grants.revoke("duckdb")
        outcome = rt.run_input("con.execute('select 2')")
        assert isinstance(outcome, Raised)
        assert outcome.type_name == "PermissionError"
        assert "duckdb cap is not granted" in outcome.traceback
        session.grants.grant("duckdb")
        assert rt.run_input("m = con.execute('select 3').fetchone()[0]") == Ok()
        assert rt is session.runtime  # the same interpreter throughout
    finally:
        session.close()


@pytest.mark.parametrize("runtime_name", ["cpython", "micropython"])
def test_imports_and_cap_calls_reach_the_host_as_events(built, runtime_name):
    session = session_for(runtime_name, ("duckdb",))
    events: list[Event] = []
    session.grants.subscribe(events.append)
    try:
        rt = session.runtime
        code = (
            "import json\nimport duckdb\n"
            "def later():\n    import sqlite3\n"
            "duckdb.connect().execute('select 1')\n"
        )
        assert rt.run_input(code) == Ok()
        rt.run_input("later()")
    finally:
        session.close()
    imports = {e.module: e for e in events if isinstance(e, ImportEvent)}
    # The stand-ins' own imports (json in pylon_wire, on MicroPython) are not the program's.
    assert {e.importer for e in events if isinstance(e, ImportEvent)} <= {"__main__", "<stdin>"}
    # json is a frozen builtin module in MicroPython, a stdlib file in CPython.
    assert imports["json"].cap == ("stdlib" if runtime_name == "cpython" else "builtin")
    assert imports["json"].granted
    assert imports["json"].toplevel
    assert imports["duckdb"].cap == "duckdb" and imports["duckdb"].granted
    assert imports["sqlite3"].cap == "sqlite" and not imports["sqlite3"].granted
    calls = [e for e in events if isinstance(e, CapCallEvent) and e.operation == "execute"]
    assert calls and calls[0].cap == "duckdb" and calls[0].granted
    assert calls[0].target == "select 1"
    assert calls[0].duration > 0


def test_preopens_apply_only_when_fs_is_granted(built, tmp_path):
    (tmp_path / "f.txt").write_text("x")
    session = session_for("cpython", (), preopens=(Preopen(tmp_path, "/data"),))
    try:
        outcome = session.runtime.run_input("open('/data/f.txt')")
    finally:
        session.close()
    assert isinstance(outcome, Raised) and outcome.type_name == "FileNotFoundError"


@pytest.mark.parametrize(
    ("flag", "module", "error"),
    [
        ("--mp", "sqlite3", "NotSupportedError"),
        ("--cp", "duckdb", "NotImplementedError"),
        ("--mp", "duckdb", "NotImplementedError"),
    ],
)
def test_named_parameters_are_refused_not_bound_as_keys(pylon, flag, module, error):
    connect = "sqlite3.connect(':memory:')" if module == "sqlite3" else "duckdb.connect()"
    code = f"import {module}\n{connect}.execute('select 1', {{'x': 5}})"
    result = pylon(flag, "--cap", module.rstrip("3"), "-c", code)
    assert result.status == 1
    assert error in result.stderr and "named parameters" in result.stderr


#: The runtimes' ways to the SQLite component.
SQLITE_COMPONENT = (("--mp",), ("--cp", "--provider", "sqlite=component"))
QUOTA_PROGRAM = """
import sqlite3
db = sqlite3.connect('filled.db')
db.execute('create table t (b blob)')
n = 0
try:
    for i in range(40):
        db.execute('insert into t values (zeroblob(100000))')
        db.commit()
        n += 1
except sqlite3.OperationalError as e:
    print('OperationalError:', e, n)
for q in ('pragma max_page_count = 100000', 'pragma journal_mode = wal',
          "vacuum into '/db/copy.db'", "attach 'other.db' as o"):
    try:
        db.execute(q)
    except sqlite3.DatabaseError as e:
        print('DatabaseError:', e)
"""


@pytest.mark.parametrize("flag", SQLITE_COMPONENT, ids=["micropython", "cpython"])
def test_sqlite_component_db_dir_has_a_quota_the_guest_cannot_lift(pylon, tmp_path, flag):
    env = {"PYLON_DATA_DIR": str(tmp_path), "PYLON_SQLITE_QUOTA_MIB": "1"}
    result = pylon(*flag, "-c", QUOTA_PROGRAM, env=env)
    assert result.status == 0, result.stderr
    quota = "which has a 1 MiB quota"
    assert result.stdout.splitlines() == [
        "OperationalError: database or disk is full 10",
        f"DatabaseError: not authorized: PRAGMA max_page_count = 100000 is refused on a "
        f"database in /db, {quota}",
        f"DatabaseError: not authorized: PRAGMA journal_mode = wal is refused on a database "
        f"in /db, {quota}",
        "DatabaseError: not authorized: ATTACH or VACUUM INTO /db/copy.db in /db would escape "
        "its 1 MiB quota; open the database with sqlite3.connect instead",
        "DatabaseError: not authorized: ATTACH or VACUUM INTO other.db in /db would escape "
        "its 1 MiB quota; open the database with sqlite3.connect instead",
    ]
    files = {p.name: p.stat().st_size for p in (tmp_path / "sqlite").iterdir()}
    assert list(files) == ["filled.db"]
    assert files["filled.db"] <= 1 << 20
    # The next run finds the directory full and cannot grow it either.
    again = pylon(*flag, "-c", QUOTA_PROGRAM.replace("filled.db", "more.db"), env=env)
    assert again.stdout.splitlines()[0] == "OperationalError: database or disk is full 0"
    assert sum(p.stat().st_size for p in (tmp_path / "sqlite").iterdir()) <= 1 << 20


def test_pylon_caps_shows_the_sqlite_quota(pylon, tmp_path):
    env = {"PYLON_DATA_DIR": str(tmp_path), "PYLON_SQLITE_QUOTA_MIB": "3"}
    result = pylon("caps", env=env)
    assert result.status == 0, result.stderr
    assert (
        f"quota: 3 MiB in /db (0.0 MiB used, {tmp_path / 'sqlite'}; PYLON_SQLITE_QUOTA_MIB sets it)"
    ) in result.stdout
