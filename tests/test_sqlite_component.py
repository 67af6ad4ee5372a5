"""The sqlite cap's component provider as a user meets it: CPython's own sqlite3
package over the _sqlite3 stand-in (adapters, converters, Row, Blob,
iterdump, the callbacks it refuses), MicroPython's batched rows, and a revoke
that stops a cursor mid-iteration. All on the real runtimes."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import Captured

from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session

COMPONENT = ("--cp", "--cap", "sqlite", "--provider", "sqlite=component")


def test_the_stdlib_sqlite3_package_runs_over_the_component(pylon):
    code = (
        "import sqlite3, _sqlite3\n"
        "print(sqlite3.__file__, sqlite3.Row is _sqlite3.Row)\n"
        "print(sqlite3.SQLITE_LIMIT_SQL_LENGTH, sqlite3.sqlite_version_info >= (3, 0, 0))\n"
        "print(sqlite3.complete_statement('select 1;'), sqlite3.complete_statement('select'))\n"
    )
    result = pylon(*COMPONENT, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "/python/sqlite3/__init__.py True\n1 True\nTrue False\n"


def test_adapters_converters_and_rows_through_the_component(pylon):
    code = (
        "import sqlite3\n"
        "class Point:\n"
        "    def __init__(self, x, y): self.x, self.y = x, y\n"
        "sqlite3.register_adapter(Point, lambda p: f'{p.x};{p.y}')\n"
        "sqlite3.register_converter('point', lambda b: tuple(map(float, b.split(b';'))))\n"
        "both = sqlite3.PARSE_DECLTYPES | sqlite3.PARSE_COLNAMES\n"
        "con = sqlite3.connect(':memory:', detect_types=both)\n"
        "con.execute('create table t(p point, n integer, s text)')\n"
        "con.execute('insert into t values (?, ?, ?)', (Point(1, 2), 7, 'x'))\n"
        "print(con.execute('select p, n, s from t').fetchone())\n"
        "cur = con.execute('select p as \"q [point]\" from t')\n"
        "print(cur.description[0][0], cur.fetchone()[0])\n"
        "con.row_factory = sqlite3.Row\n"
        "row = con.execute('select n as Num, s from t').fetchone()\n"
        "print(row.keys(), row['num'], row[1], tuple(row))\n"
        "con.text_factory = bytes\n"
        "print(con.execute('select s from t').fetchone()[0])\n"
        "try:\n"
        "    con.execute('select ?', (object(),))\n"
        "except sqlite3.ProgrammingError as e:\n"
        "    print(e)\n"
    )
    result = pylon(*COMPONENT, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "((1.0, 2.0), 7, 'x')",
        "q (1.0, 2.0)",
        "['Num', 's'] 7 x (7, 'x')",
        "b'x'",
        "Error binding parameter 1: type 'object' is not supported",
    ]


def test_blobs_iterdump_and_error_codes_through_the_component(pylon):
    code = (
        "import sqlite3\n"
        "con = sqlite3.connect(':memory:')\n"
        "con.execute('create table t(id integer primary key, b blob)')\n"
        "con.execute('insert into t values (1, zeroblob(8))')\n"
        "with con.blobopen('t', 'b', 1) as blob:\n"
        "    blob.write(b'abc'); blob.seek(0)\n"
        "    print(len(blob), blob.read(4), blob[1], blob[0:2])\n"
        "print([line for line in con.iterdump()][1])\n"
        "try:\n"
        "    con.execute('insert into t values (1, null)')\n"
        "except sqlite3.IntegrityError as e:\n"
        "    print(e.sqlite_errorname, e)\n"
        "print(con.executescript('select 1').__class__.__name__)\n"
    )
    result = pylon(*COMPONENT, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "8 b'abc\\x00' 98 b'ab'",
        "CREATE TABLE t(id integer primary key, b blob);",
        "SQLITE_CONSTRAINT_PRIMARYKEY UNIQUE constraint failed: t.id",
        "Cursor",
    ]


def test_python_callbacks_run_in_the_guest_mid_statement(pylon):
    # SQLite in the provider calls the program's functions, aggregates,
    # collations, authorizer and trace callback; a function may itself query.
    code = (
        "import sqlite3\n"
        "con = sqlite3.connect(':memory:')\n"
        "con.execute('create table t(a)')\n"
        "con.executemany('insert into t values (?)', [(i,) for i in range(5)])\n"
        "con.create_function('twice', 1, lambda x: x * 2)\n"
        "def count_t():\n"
        "    return con.execute('select count(*) from t').fetchone()[0]\n"
        "con.create_function('count_t', 0, count_t)\n"
        "class Product:\n"
        "    def __init__(self): self.p = 1\n"
        "    def step(self, v): self.p *= v + 1\n"
        "    def finalize(self): return self.p\n"
        "con.create_aggregate('product', 1, Product)\n"
        "con.create_collation('rev', lambda a, b: (a < b) - (a > b))\n"
        "print(con.execute('select twice(21), count_t(), product(a) from t').fetchone())\n"
        "pair = \"select x from (select 'a' x union select 'b') order by x collate rev\"\n"
        "print(con.execute(pair).fetchall())\n"
        "seen = []\n"
        "con.set_trace_callback(seen.append)\n"
        "con.execute('select 1')\n"
        "con.set_trace_callback(None)\n"
        "def auth(action, table, *rest):\n"
        "    return sqlite3.SQLITE_DENY if table == 't' else sqlite3.SQLITE_OK\n"
        "con.set_authorizer(auth)\n"
        "try:\n"
        "    con.execute('select a from t')\n"
        "except sqlite3.DatabaseError as e:\n"
        "    print(seen, e)\n"
        "con.set_authorizer(None)\n"
        "con.create_function('boom', 0, lambda: 1 / 0)\n"
        "try:\n"
        "    con.execute('select boom()')\n"
        "except sqlite3.OperationalError as e:\n"
        "    print(e)\n"
    )
    result = pylon(*COMPONENT, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "(42, 5, 120)",
        "[('b',), ('a',)]",
        "['select 1'] access to t.a is prohibited",
        "user-defined function raised exception",
    ]


def test_micropython_batches_executemany_and_fetches(pylon):
    # More rows than one executemany batch and one fetch each: every row arrives.
    code = (
        "import sqlite3\n"
        "db = sqlite3.connect(':memory:')\n"
        "db.execute('create table t(a integer, b blob)')\n"
        "rows = [(i, bytes([i % 256])) for i in range(25000)]\n"
        "db.executemany('insert into t values (?, ?)', rows)\n"
        "n = 0\n"
        "total = 0\n"
        "for a, b in db.execute('select a, b from t order by a'):\n"
        "    n += 1; total += a + b[0]\n"
        "print(n, total, len(db.execute('select a from t').fetchall()))\n"
    )
    result = pylon("--mp", "--cap", "sqlite", "-c", code)
    assert result.status == 0, result.stderr
    expected = sum(range(25000)) + sum(i % 256 for i in range(25000))
    assert result.stdout == f"25000 {expected} 25000\n"


@pytest.mark.parametrize("runtime_name", ["cpython", "micropython"])
def test_a_revoke_stops_a_cursor_mid_iteration(built, runtime_name):
    plan = replace(
        shipped("default").with_runtime(runtime_name),
        capabilities=("sqlite",),
        providers=(("sqlite", "component"),),
    )
    session = Session(plan, Captured())
    try:
        rt = session.runtime
        setup = (
            "import sqlite3\n"
            "con = sqlite3.connect(':memory:')\n"
            "con.execute('create table t(a)')\n"
            "con.executemany('insert into t values (?)', [(i,) for i in range(2000)])\n"
            "cur = con.execute('select a from t')\n"
            "first = [next(cur) for _ in range(10)]\n"
        )
        assert rt.run_input(setup) == Ok()
        session.grants.revoke("sqlite")
        # The rows already fetched are the guest's; the next batch needs the grant.
        outcome = rt.run_input("rest = [row for row in cur]")
        assert isinstance(outcome, Raised)
        assert outcome.type_name == "PermissionError"
        assert "sqlite cap is not granted" in outcome.traceback
        session.grants.grant("sqlite")
        assert rt.run_input("assert len(first) == 10") == Ok()
    finally:
        session.close()


def test_callbacks_nested_without_end_fail_the_statement_not_the_session(pylon):
    # Each level holds guest and provider frames: the host stops the nesting.
    code = (
        "import sqlite3\n"
        "con = sqlite3.connect(':memory:')\n"
        "def rec(x):\n"
        "    return con.execute('select rec(?)', (x + 1,)).fetchone()[0]\n"
        "con.create_function('rec', 1, rec)\n"
        "try:\n"
        "    con.execute('select rec(1)')\n"
        "except sqlite3.OperationalError as e:\n"
        "    print(e)\n"
        "print(con.execute('select 5').fetchone())\n"
    )
    result = pylon(*COMPONENT, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout == "user-defined function raised exception\n(5,)\n"
