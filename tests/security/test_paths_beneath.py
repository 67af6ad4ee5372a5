"""Paths resolved beneath grants, never followed out (issue 12, item 2).

A host provider opens files by host path, where the OS follows whatever the
guest left in a writable grant. The resolver (`GuestFS.resolve`) must refuse
every link and climb out; the attempts below plant a secret file outside the
grants by its host path and check that it is byte-for-byte unchanged and that
nothing was created outside, on both runtimes. MicroPython has no
`os.symlink`, so for it the test makes the links on the host, as a guest of
the other runtime (or any earlier session) could have.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from pylon_shell.caps import guestfs
from pylon_shell.caps.guestfs import GuestFS, PathRefused
from pylon_shell.options import Preopen

LINK = "is a symbolic link; duckdb follows no link in a granted directory"


# -- the resolver itself ------------------------------------------------------


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    data, ro, outside = tmp_path / "data", tmp_path / "ro", tmp_path / "outside"
    for folder in (data, ro, outside, data / "sub"):
        folder.mkdir()
    (outside / "secret.csv").write_text("a\nsecret\n")
    (data / "sub" / "in.csv").write_text("a\ninside\n")
    (ro / "kept.duckdb").write_bytes(b"")
    os.symlink("../outside", data / "out")
    os.symlink("sub", data / "in")  # a link that stays inside: refused as well
    os.symlink("../outside/secret.csv", data / "file-link.csv")
    os.symlink("../outside/new.duckdb", data / "dangling.duckdb")
    return {"root": tmp_path, "data": data, "ro": ro, "outside": outside}


@pytest.fixture(params=["openat2", "walk"])
def fs(request: pytest.FixtureRequest, tree: dict[str, Path], monkeypatch) -> GuestFS:
    if request.param == "walk":
        monkeypatch.setattr(guestfs, "openat2_available", lambda: False)
    elif not guestfs.openat2_available():
        pytest.skip("this kernel has no openat2")
    return GuestFS([Preopen(tree["data"], "/data"), Preopen(tree["ro"], "/ro", readonly=True)])


def refused(fs: GuestFS, guest: str, **kwargs) -> str:
    with pytest.raises(PathRefused) as caught:
        fs.resolve(guest, cap="duckdb", **kwargs)
    assert caught.value.kind == "PermissionError"
    return caught.value.message


def test_a_plain_path_resolves_to_its_real_host_path(fs, tree):
    found = fs.resolve("/data/sub/in.csv", cap="duckdb")
    assert found.host == Path(os.path.realpath(tree["data"])) / "sub" / "in.csv"
    assert found.exists
    assert fs.resolve("/data/sub/new.duckdb", cap="duckdb", write=True).exists is False


@pytest.mark.parametrize(
    "spelling", ["/data//sub/in.csv", "/data/./sub/./in.csv", "//data/sub//in.csv", "/data/sub/"]
)
def test_double_slashes_and_dots_are_the_same_path(fs, tree, spelling):
    expected = Path(os.path.realpath(tree["data"]), "sub", *(["in.csv"] * spelling.endswith("v")))
    assert fs.resolve(spelling, cap="duckdb").host == expected


def test_dotdot_inside_the_grant_is_walked_not_taken_lexically(fs, tree):
    assert fs.resolve("/data/sub/../sub/in.csv", cap="duckdb").host.name == "in.csv"
    # `out/..` lexically is the grant itself; physically it is the parent of
    # `outside`: the walk meets the link first and refuses it.
    assert (
        refused(fs, "/data/out/../data/sub/in.csv") == f"/data/out {LINK} (it could lead "
        "outside the grant)"
    )


@pytest.mark.parametrize(
    ("guest", "message"),
    [
        ("/data/out/secret.csv", f"/data/out {LINK}"),
        ("/data/in/in.csv", f"/data/in {LINK}"),
        ("/data/file-link.csv", f"/data/file-link.csv {LINK}"),
        ("/data/dangling.duckdb", f"/data/dangling.duckdb {LINK}"),
        ("/data/out", f"/data/out {LINK}"),
        (
            "/data/../outside/secret.csv",
            "/data/../outside/secret.csv leads outside its granted directory /data",
        ),
        (
            "/data/sub/../../outside/x",
            "/data/sub/../../outside/x leads outside its granted directory /data",
        ),
        ("/data/nope/../../x", "/data/nope/../../x leads outside its granted directory /data"),
        ("/data/..", "/data/.. leads outside its granted directory /data"),
        ("/data/x\x00.csv", "a path with a NUL character is refused"),
        (
            "/data/" + "a" * 256,
            "a name of 256 characters in /data/aaaaaaaaaaaaaaaaaaaaaaaaaaaa"
            "aaaaaaaaaaaaaaaaaaaaaaaaaa... is too long",
        ),
        ("/data/" + "a/" * 2100, "a path of 4206 characters is too long (the limit is 4095)"),
        (
            "/elsewhere/x.csv",
            "/elsewhere/x.csv is outside the directories this plan grants "
            "duckdb (the fs cap); grant one with --dir HOST:GUEST",
        ),
        ("data/sub/in.csv", "data/sub/in.csv is not an absolute guest path"),
    ],
)
def test_links_climbs_and_bad_spellings_are_refused(fs, guest, message):
    assert refused(fs, guest).startswith(message)


def test_a_link_planted_where_a_sidecar_will_be_created_is_refused(fs, tree):
    os.symlink("../outside/w", tree["data"] / "db.duckdb.wal")
    message = refused(fs, "/data/db.duckdb", write=True, siblings=(".wal",))
    assert message.startswith(f"/data/db.duckdb.wal {LINK}")
    assert fs.resolve("/data/db.duckdb", cap="duckdb", write=True).exists is False


def test_writing_in_a_read_only_grant_is_refused(fs):
    assert refused(fs, "/ro/kept.duckdb", write=True) == (
        "/ro/kept.duckdb is in /ro, which this plan grants read-only (--dir /ro:ro): "
        "duckdb may not write or create files there"
    )
    assert fs.resolve("/ro/kept.duckdb", cap="duckdb").exists


def test_a_hard_linked_file_is_not_written_through(fs, tree):
    os.link(tree["ro"] / "kept.duckdb", tree["data"] / "hard.duckdb")
    assert refused(fs, "/data/hard.duckdb", write=True) == (
        "/data/hard.duckdb has 2 hard links; duckdb writes no file that is also reachable "
        "under another name"
    )
    assert fs.resolve("/data/hard.duckdb", cap="duckdb").exists  # reading it is fine


def test_a_glob_or_missing_directory_keeps_its_spelling(fs, tree):
    real = Path(os.path.realpath(tree["data"]))
    assert fs.resolve("/data/*.csv", cap="duckdb").host == real / "*.csv"
    assert fs.resolve("/data/s*/in.csv", cap="duckdb").host == real / "s*" / "in.csv"


def test_sql_literals_are_resolved_and_links_refused(fs, tree):
    real = os.path.realpath(tree["data"])
    seen: list[str] = []
    sql = fs.rewrite_sql("select * from read_csv('/data/sub/in.csv')", seen.append)
    assert sql == f"select * from read_csv('{real}/sub/in.csv')"
    assert seen == ["/data/sub/in.csv"]
    with pytest.raises(PathRefused, match="^/data/out is a symbolic link"):
        fs.rewrite_sql("select * from read_csv('/data/out/secret.csv')")
    with pytest.raises(PathRefused, match="^duckdb takes guest paths in SQL, not host paths"):
        fs.rewrite_sql(f"select * from read_csv('{tree['data']}/out/secret.csv')")
    # Strings that are no guest path stay as they are.
    assert fs.rewrite_sql("select '/api/v1', 'x', '/" + "a" * 5000 + "'").startswith(
        "select '/api/v1', 'x'"
    )


def test_error_texts_show_guest_paths(fs, tree):
    text = f'Cannot open "{tree["data"]}/x.duckdb" or "{os.path.realpath(tree["ro"])}/y"'
    assert fs.guest_text(text) == 'Cannot open "/data/x.duckdb" or "/ro/y"'


# -- real guests, both runtimes ------------------------------------------------


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def victim(tmp_path: Path) -> dict[str, Path]:
    """A writable and a read-only grant, and a DuckDB file outside both."""
    import duckdb

    data, ro, outside = tmp_path / "data", tmp_path / "ro", tmp_path / "outside"
    for folder in (data, ro, outside):
        folder.mkdir()
    for path in (outside / "victim.duckdb", ro / "x.duckdb"):
        con = duckdb.connect(str(path))
        con.execute("create table t (a varchar); insert into t values ('pylon-secret-victim')")
        con.close()
    (outside / "secret.csv").write_text("a\npylon-secret-csv\n")
    return {"data": data, "ro": ro, "outside": outside}


def run_guest(pylon, victim, flag: str, code: str):
    args = [flag, "--cap", "duckdb", "--dir", f"{victim['data']}:/data"]
    args += ["--dir", f"{victim['ro']}:/ro:ro", "-c", code]
    return pylon(*args)


#: Each attempt: (links the test plants on the host, relative to the data dir,
#: the guest code after `import duckdb`, the one line the guest sees).
ATTEMPTS = [
    (
        {"v.duckdb": "../outside/victim.duckdb"},
        "duckdb.connect('/data/v.duckdb').execute('select * from t')",
        f"PermissionError: /data/v.duckdb {LINK}",
    ),
    (
        {"v.duckdb": "../outside/victim.duckdb"},
        "duckdb.connect('/data/v.duckdb', read_only=True)",
        f"PermissionError: /data/v.duckdb {LINK}",
    ),
    (
        {"new.duckdb": "../outside/created.duckdb"},
        "duckdb.connect('/data/new.duckdb').execute('create table t (a int)')",
        f"PermissionError: /data/new.duckdb {LINK}",
    ),
    (
        {"dir": "../outside"},
        "duckdb.connect('/data/dir/victim.duckdb')",
        f"PermissionError: /data/dir {LINK}",
    ),
    (
        {"ok.duckdb.wal": "../outside/created.duckdb"},
        "duckdb.connect('/data/ok.duckdb').execute('create table t (a int)')",
        f"PermissionError: /data/ok.duckdb.wal {LINK}",
    ),
    (
        {},
        "duckdb.connect('/data/../outside/victim.duckdb')",
        "PermissionError: /data/../outside/victim.duckdb leads outside its granted directory /data",
    ),
    (
        {},
        "duckdb.connect('/ro/x.duckdb').execute(\"insert into t values ('x')\")",
        "PermissionError: /ro/x.duckdb is in /ro, which this plan grants read-only: "
        "open it with duckdb.connect(..., read_only=True)",
    ),
    (
        {},
        "duckdb.connect('/ro/created.duckdb')",
        "PermissionError: /ro/created.duckdb is in /ro, which this plan grants read-only: "
        "open it with duckdb.connect(..., read_only=True)",
    ),
    (
        {"csv": "../outside"},
        "duckdb.connect().execute(\"select * from read_csv('/data/csv/secret.csv')\")",
        f"PermissionError: /data/csv {LINK}",
    ),
    (
        {"out.csv": "../outside/created.csv"},
        "duckdb.connect().execute(\"copy (select 1) to '/data/out.csv'\")",
        f"PermissionError: /data/out.csv {LINK}",
    ),
]


@pytest.mark.parametrize("flag", ["--cp", "--mp"], ids=["cpython", "micropython"])
@pytest.mark.parametrize(("links", "code", "seen"), ATTEMPTS)
def test_no_link_or_climb_reaches_outside(pylon, victim, flag, links, code, seen):
    for name, target in links.items():
        os.symlink(target, victim["data"] / name)
    before = {p.name: digest(p) for p in victim["outside"].iterdir()}
    ro_before = digest(victim["ro"] / "x.duckdb")
    program = (
        f"import duckdb\ntry:\n    {code}\nexcept Exception as e:\n"
        "    print(type(e).__name__ + ': ' + str(e))\nelse:\n    print('REACHED')\n"
    )
    result = run_guest(pylon, victim, flag, program)
    assert result.status == 0, result.stderr
    assert result.stdout.startswith(seen), result.stdout
    assert "pylon-secret" not in result.stdout
    assert {p.name: digest(p) for p in victim["outside"].iterdir()} == before
    assert digest(victim["ro"] / "x.duckdb") == ro_before
    assert sorted(p.name for p in victim["ro"].iterdir()) == ["x.duckdb"]


def test_the_cpython_guest_plants_the_link_itself(pylon, victim):
    """The found attack, verbatim: os.symlink inside a writable grant, then connect."""
    before = digest(victim["outside"] / "victim.duckdb")
    code = (
        "import os, duckdb\n"
        "os.symlink('../outside/victim.duckdb', '/data/v.duckdb')\n"
        "os.symlink('../outside/made.duckdb', '/data/made.duckdb')\n"
        "for name in ('/data/v.duckdb', '/data/made.duckdb'):\n"
        "    try:\n"
        '        duckdb.connect(name).execute("create table pwned (a int)")\n'
        "    except PermissionError as e:\n"
        "        print('PermissionError:', e)\n"
    )
    result = run_guest(pylon, victim, "--cp", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"PermissionError: /data/v.duckdb {LINK} (it could lead outside the grant)",
        f"PermissionError: /data/made.duckdb {LINK} (it could lead outside the grant)",
    ]
    assert digest(victim["outside"] / "victim.duckdb") == before
    assert not (victim["outside"] / "made.duckdb").exists()


@pytest.mark.parametrize("flag", ["--cp", "--mp"], ids=["cpython", "micropython"])
def test_databases_inside_the_grants_still_work(pylon, victim, flag):
    code = (
        "import duckdb\n"
        "con = duckdb.connect('/data//./db.duckdb')\n"
        "con.execute('create table t (a int)')\n"
        "con.execute('insert into t values (7)')\n"
        "con.close()\n"
        "print(duckdb.connect('/data/db.duckdb', read_only=True).execute("
        "'select a from t').fetchall())\n"
        "print(duckdb.connect('/ro/x.duckdb', read_only=True).execute("
        "'select count(*) from t').fetchall())\n"
    )
    result = run_guest(pylon, victim, flag, code)
    assert result.status == 0, result.stderr
    assert result.stdout.split() == ["[(7,)]", "[(1,)]"]
    assert (victim["data"] / "db.duckdb").is_file()
    assert json.dumps(sorted(p.name for p in victim["ro"].iterdir())) == '["x.duckdb"]'
