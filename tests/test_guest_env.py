"""What a program finds around it with no grant (issue 14): zone data, a private
/tmp with a size limit, `-m MODULE`, and input()/sys.stdin from the launcher's stdin.

Real guests only, through `pylon` as a user runs it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_pylon

BOTH = ("--cp", "--mp")


@pytest.fixture
def tmp_base(tmp_path: Path, built: None) -> Path:
    """Where the sessions' /tmp directories go, watched by the test."""
    base = tmp_path / "tmp-base"
    return base


def pylon_in(base: Path, *args: str, stdin: str | None = None) -> object:
    return run_pylon(*args, stdin=stdin, env={"PYLON_TMP_DIR": str(base)})


# -- time zones ----------------------------------------------------------------

PARIS = (
    "from datetime import datetime\n"
    "from zoneinfo import ZoneInfo\n"
    "paris = ZoneInfo('Europe/Paris')\n"
    "print(datetime(2024, 1, 15, 12, tzinfo=paris).isoformat())\n"
    "print(datetime(2024, 7, 15, 12, tzinfo=paris).strftime('%H:%M%z %Z'))\n"
)


def test_zoneinfo_has_the_iana_data_with_no_caps(pylon):
    result = pylon("--no-caps", "-c", PARIS)
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == "2024-01-15T12:00:00+01:00\n12:00+0200 CEST\n"


def test_zone_data_is_no_fs_use_for_trace(pylon, tmp_path):
    script = tmp_path / "zones.py"
    script.write_text(PARIS)
    result = pylon("trace", str(script))
    assert result.status == 0
    assert "smallest plan: caps none" in result.stderr
    assert "fs" not in result.stderr.split("it used:")[1]


def test_local_time_follows_tz(pylon):
    """TZ names the local time zone, as on the host (tests/test_localtime.py)."""
    code = (
        "import os, time\nfrom datetime import datetime\n"
        "print(time.strftime('%z %Z', time.localtime(0)), time.tzname)\n"
        "print(datetime.fromtimestamp(0).astimezone().isoformat())\n"
    )
    result = pylon("--env", "TZ=Europe/Paris", "-c", code)
    assert result.stdout == (
        "+0100 CET ('CET', 'CEST')\n1970-01-01T01:00:00+01:00\n"
    ), result.stderr


# -- the private /tmp ------------------------------------------------------------

TEMPFILES = (
    "import os, tempfile\n"
    "print(os.environ['TMPDIR'], tempfile.gettempdir())\n"
    "with tempfile.TemporaryDirectory() as d:\n"
    "    open(os.path.join(d, 'a.txt'), 'w').write('one')\n"
    "    print(d.startswith('/tmp/'), os.listdir(d))\n"
    "with tempfile.NamedTemporaryFile('w+') as f:\n"
    "    f.write('two'); f.seek(0)\n"
    "    print(f.name.startswith('/tmp/'), f.read())\n"
    "print(os.listdir('/tmp'))\n"
)


def test_tempfile_works_with_no_caps_and_the_directory_goes_with_the_session(tmp_base):
    result = pylon_in(tmp_base, "--no-caps", "-c", TEMPFILES)
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == "/tmp /tmp\nTrue ['a.txt']\nTrue two\n[]\n"
    assert list(tmp_base.iterdir()) == []  # removed when the session ended
    assert os.stat(tmp_base).st_mode & 0o777 == 0o700


@pytest.mark.parametrize("runtime", BOTH)
def test_each_session_has_its_own_empty_tmp(tmp_base, runtime):
    write = "f = open('/tmp/mine.txt', 'w'); f.write('secret'); f.close()"
    assert pylon_in(tmp_base, runtime, "--no-caps", "-c", write).status == 0
    look = "import os; print(os.listdir('/tmp'))"
    result = pylon_in(tmp_base, runtime, "--no-caps", "-c", look)
    assert (result.status, result.stdout, result.stderr) == (0, "[]\n", "")


def test_tmp_is_not_a_grant_of_the_fs_cap(tmp_base, tmp_path):
    script = tmp_path / "scratch.py"
    script.write_text("open('/tmp/x', 'w').write('x')\nprint(open('/tmp/x').read())\n")
    result = run_pylon("trace", str(script), env={"PYLON_TMP_DIR": str(tmp_base)})
    assert result.status == 0 and result.stdout == "x\n"
    assert "smallest plan: caps none" in result.stderr
    # /tmp shows nothing of the host's own /tmp
    listed = pylon_in(tmp_base, "--no-caps", "-c", "import os; print(os.listdir('/tmp'))")
    assert listed.stdout == "[]\n"


def test_leftovers_of_dead_sessions_are_removed_and_live_ones_kept(tmp_base):
    tmp_base.mkdir(mode=0o700)
    dead = tmp_base / "session-999999999-12345-deadbeef"
    dead.mkdir()
    (dead / "junk").write_text("left by a killed pylon")
    start = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()[19]
    live = tmp_base / f"session-{os.getpid()}-{start}-0badf00d"
    live.mkdir()
    reused = tmp_base / f"session-{os.getpid()}-1-0badf00e"  # our pid, another start time
    reused.mkdir()
    other = tmp_base / "not-a-session"
    other.mkdir()
    assert pylon_in(tmp_base, "--no-caps", "-c", "pass").status == 0
    assert sorted(p.name for p in tmp_base.iterdir()) == sorted([live.name, other.name])


@pytest.mark.parametrize("runtime", BOTH)
def test_without_user_namespaces_past_the_tmp_size_the_session_ends_and_nothing_outside(
    tmp_base, tmp_path, runtime
):
    """The fallback (PYLON_NO_USERNS=1 stands for a host without user namespaces):
    host-side accounting ends the session with one line."""
    outside = tmp_path / "granted"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    before = {p.name: p.read_bytes() for p in outside.iterdir()}
    code = (
        "f = open('/tmp/big', 'wb')\n"
        "block = b'x' * (1 << 20)\n"
        "for i in range(200):\n"
        "    f.write(block)\n"
        "f.close()\n"
        "print('all written')\n"
    )
    result = run_pylon(
        runtime, "--tmp-size", "8", "--dir", f"{outside}:/data", "-c", code,
        env={"PYLON_TMP_DIR": str(tmp_base), "PYLON_NO_USERNS": "1"},
    )
    assert result.status == 1
    assert result.stdout == ""
    assert result.stderr == (
        "pylon: the guest's /tmp passed its limit of 8 MiB (raise it with --tmp-size); "
        "its session is gone\n"
    )
    assert {p.name: p.read_bytes() for p in outside.iterdir()} == before
    assert list(tmp_base.iterdir()) == []


def _tmpfs_here() -> bool:
    return "a tmpfs of --tmp-size" in run_pylon("caps").stdout.splitlines()[-1]


#: What a guest sees past the limit on a tmpfs: ENOSPC, from CPython's file
#: writes (the adapter's EIO corrected by pylon_nospace), its os.write and its
#: pwrite; MicroPython gets WASI's own number for ENOSPC, 51.
PAST_LIMIT = {
    "--cp": "write ENOSPC\nos.write ENOSPC [Errno 51] No space left on device\npwrite ENOSPC\n8\n",
    "--mp": "write 51\n8\n",
}


@pytest.mark.parametrize("runtime", BOTH)
def test_past_the_tmp_size_a_write_fails_and_the_session_goes_on(tmp_base, tmp_path, runtime):
    """With a tmpfs (user namespaces), the kernel refuses the write: the guest
    gets an OSError and carries on, and the host's directory stays empty."""
    if not _tmpfs_here():
        pytest.skip("no user namespaces here: pylon keeps the /tmp limit by accounting")
    outside = tmp_path / "granted"
    outside.mkdir()
    (outside / "keep.txt").write_text("untouched")
    name = "errno.errorcode[e.errno]" if runtime == "--cp" else "e.args[0]"
    code = (
        "import errno, os\n"
        "f = open('/tmp/big', 'wb')\n"
        "try:\n"
        "    for i in range(200):\n"
        "        f.write(b'x' * (1 << 20)); f.flush()\n"
        f"except OSError as e: print('write', {name})\n"
        "f.close()\n"
        "if hasattr(os, 'pwrite'):\n"
        "    fd = os.open('/tmp/p', os.O_WRONLY | os.O_CREAT)\n"
        "    try: os.write(fd, b'y' * 4096)\n"
        f"    except OSError as e: print('os.write', {name}, e)\n"
        "    try: os.pwrite(fd, b'y' * 4096, 0)\n"
        f"    except OSError as e: print('pwrite', {name})\n"
        "    os.close(fd)\n"
        "print(os.stat('/tmp/big')[6] >> 20)\n"
        "input()\n"
        "os.remove('/tmp/big'); open('/tmp/after', 'w').write('ok')\n"
        "print(open('/tmp/after').read())\n"
    )
    env = {**os.environ, "PYLON_TMP_DIR": str(tmp_base)}
    args = [sys.executable, "-m", "pylon_shell", runtime, "--tmp-size", "8"]
    args += ["--dir", f"{outside}:/data", "-c", code]
    with subprocess.Popen(
        args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env,
    ) as proc:
        assert proc.stdout is not None and proc.stdin is not None
        lines = PAST_LIMIT[runtime].count("\n")
        seen = "".join(proc.stdout.readline() for _ in range(lines))
        assert seen == PAST_LIMIT[runtime]
        sessions = list(tmp_base.iterdir())
        assert len(sessions) == 1 and list(sessions[0].iterdir()) == []  # the host's view
        out, err = proc.communicate("\n", timeout=60)
    assert (proc.returncode, out, err) == (0, "ok\n", "")
    assert [p.name for p in outside.iterdir()] == ["keep.txt"]
    assert list(tmp_base.iterdir()) == []


def test_an_eio_with_room_in_tmp_stays_eio_and_the_probe_leaves_nothing():
    """The EIO-to-ENOSPC correction asks /tmp first: a real I/O error keeps its
    errno, and the probe file it made to ask is gone."""
    code = (
        "import errno, os\n"
        "open('/tmp/mine', 'w').write('x')\n"
        "try: raise OSError(errno.EIO, 'a real one')\n"
        "except OSError as e: print(e, e.args, sorted(os.listdir('/tmp')))\n"
    )
    result = run_pylon("-c", code)
    assert (result.status, result.stdout, result.stderr) == (
        0, "[Errno 29] a real one (29, 'a real one') ['mine']\n", ""
    )


def test_a_program_gets_the_monitoring_tool_id_pylon_holds():
    """pylon watches raises under a sys.monitoring tool id no standard tool
    claims; a program that asks for that very id gets it, and pylon moves."""
    code = (
        "import sys\n"
        "m = sys.monitoring\n"
        "held = [i for i in range(6) if m.get_tool(i)]\n"
        "m.use_tool_id(held[0], 'mine')\n"
        "print(held, [m.get_tool(i) for i in range(6)])\n"
    )
    result = run_pylon("-c", code)
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == "[4] [None, None, None, 'pylon', 'mine', None]\n"


def test_pylon_caps_says_how_the_tmp_limit_is_kept():
    fallback = run_pylon("caps", env={"PYLON_NO_USERNS": "1"}).stdout.splitlines()[-1]
    assert fallback == (
        "/tmp:     the private /tmp's size is kept by host-side accounting, the session "
        "ends past --tmp-size (PYLON_NO_USERNS=1; a tmpfs needs user namespaces)"
    )
    assert run_pylon("caps").stdout.splitlines()[-1].startswith(
        "/tmp:     the private /tmp's size is kept by "
    )


def test_within_the_tmp_size_all_is_kept(tmp_base):
    code = "open('/tmp/a', 'wb').write(b'x' * (6 << 20)); print(len(open('/tmp/a', 'rb').read()))"
    result = pylon_in(tmp_base, "--tmp-size", "8", "-c", code)
    assert (result.status, result.stdout, result.stderr) == (0, f"{6 << 20}\n", "")


def test_tmp_size_zero_gives_no_tmp(tmp_base):
    result = pylon_in(tmp_base, "--tmp-size", "0", "-c", "import os; print(os.environ)")
    assert result.stdout == "environ({})\n"
    bad = pylon_in(tmp_base, "--tmp-size", "-1", "-c", "pass")
    assert bad.status == 2 and "--tmp-size" in bad.stderr


# -- -m MODULE ---------------------------------------------------------------------


def test_m_runs_a_module_as_python_does(pylon, tmp_path):
    (tmp_path / "f.json").write_text('{"b": [1, 2], "a": null}')
    result = pylon("--dir", f"{tmp_path}:/w:ro", "-m", "json.tool", "--sort-keys", "/w/f.json")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == '{\n    "a": null,\n    "b": [\n        1,\n        2\n    ]\n}\n'
    (tmp_path / "bad.json").write_text('{"a": 1,}')
    bad = pylon("--dir", f"{tmp_path}:/w:ro", "-m", "json.tool", "/w/bad.json")
    assert bad.status == 1
    assert bad.stderr == "Illegal trailing comma before end of object: line 1 column 8 (char 7)\n"


def test_m_sets_argv0_to_the_module_file_and_main(pylon):
    piped = pylon("-m", "json.tool", stdin='[1]')
    assert (piped.status, piped.stdout) == (0, "[\n    1\n]\n")
    code = "import sys, runpy; print(sys.argv)"
    assert pylon("-c", code, "x").stdout == "['-c', 'x']\n"
    result = pylon("-m", "this")
    assert result.status == 0 and result.stdout.startswith("The Zen of Python, by Tim Peters\n")


@pytest.mark.parametrize("runtime", BOTH)
def test_m_of_a_missing_module_is_one_line(pylon, runtime):
    result = pylon(runtime, "-m", "no_such_module", "arg")
    assert (result.status, result.stdout) == (1, "")
    assert result.stderr == "pylon: No module named no_such_module\n"


def test_micropython_runs_a_module_from_its_path(pylon, tmp_path):
    (tmp_path / "hello.py").write_text("import sys\nprint(__name__, sys.argv[1:])\nsys.exit(3)\n")
    result = pylon("--mp", "--dir", f"{tmp_path}:/usr/lib/micropython:ro", "-m", "hello", "a")
    assert (result.status, result.stdout, result.stderr) == (3, "__main__ ['a']\n", "")
    builtin = pylon("--mp", "-m", "json")
    assert builtin.status == 1
    assert builtin.stderr == (
        "pylon: json is built into MicroPython and has no source to run as __main__\n"
    )


def test_m_needs_a_module_name(pylon):
    result = pylon("-m")
    assert result.status == 2
    assert result.stderr == "pylon: -m needs a module name, e.g. -m json.tool\n"


# -- input() and sys.stdin from the launcher's stdin ---------------------------------


@pytest.mark.parametrize("runtime", BOTH)
def test_input_reads_the_launchers_stdin(pylon, runtime):
    result = pylon(runtime, "-c", "print('hello', input('name? '))", stdin="world\n")
    assert (result.status, result.stdout, result.stderr) == (0, "name? hello world\n", "")


@pytest.mark.parametrize("runtime", BOTH)
def test_input_at_end_of_stdin_is_eoferror(pylon, runtime):
    result = pylon(runtime, "-c", "input('x? ')", stdin="")
    assert result.status == 1
    assert result.stdout == "x? "
    assert result.stderr.rstrip("\n").splitlines()[-1] == "EOFError: EOF when reading a line"


def test_input_and_sys_stdin_share_one_stream(pylon):
    code = (
        "import sys\n"
        "print(input())\n"
        "print(repr(sys.stdin.readline()))\n"
        "print([line for line in sys.stdin])\n"
    )
    result = pylon("-c", code, stdin="one\ntwo\nthree\nfour")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == "one\n'two\\n'\n['three\\n', 'four']\n"


def test_a_read_waiting_on_stdin_stops_at_the_timeout(built):
    import subprocess
    import sys
    import time

    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylon_shell", "--timeout", "1", "-c", "input('wait? ')"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.wait(timeout=60)  # its stdin stays open: only the timeout ends the read
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.stdin.close()
    assert time.monotonic() - started < 30
    assert (proc.returncode, out) == (124, "wait? ")
    assert err == "pylon: timed out after 1 s (raise it with --timeout)\n"
