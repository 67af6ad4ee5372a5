"""A cap denial in a script names the user's file and line (issue 15), on both
runtimes, in one line."""

from __future__ import annotations

import pytest

from pylon_shell.frames import location

DENIED = (
    "import of sqlite3 needs the sqlite cap, which this plan does not grant; "
    "grant it with --cap sqlite\n"
)


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_a_denial_in_a_script_names_its_file_and_line(pylon, tmp_path, flag):
    script = tmp_path / "job.py"
    script.write_text("x = 1\n\nimport sqlite3\n")
    result = pylon(flag, "--no-caps", str(script))
    assert result.status == 1
    assert result.stderr == f"pylon: {script}:3: {DENIED}"


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_the_line_is_in_the_users_module_that_made_the_call(pylon, tmp_path, flag):
    (tmp_path / "store.py").write_text("def open_db():\n    import sqlite3\n")
    (tmp_path / "job.py").write_text(
        "import sys\nsys.path.insert(0, '/w')\nimport store\nstore.open_db()\n"
    )
    result = pylon(flag, "--no-caps", "--dir", f"{tmp_path}:/w:ro", str(tmp_path / "job.py"))
    assert result.status == 1
    assert result.stderr == f"pylon: /w/store.py:2: {DENIED}"


def test_a_call_refused_deep_in_the_stdlib_names_the_users_line(pylon, tmp_path):
    script = tmp_path / "fetch.py"
    script.write_text(
        "import urllib.request\n"
        "def get():\n"
        "    return urllib.request.urlopen('https://example.com/')\n"
        "get()\n"
    )
    result = pylon("--no-caps", str(script))
    assert result.status == 1
    assert result.stderr.startswith(
        f"pylon: {script}:3: PermissionError: the tls cap is not granted (connect example.com:443)"
    )
    assert result.stderr.count("\n") == 1


def test_the_location_comes_from_the_last_traceback_and_is_made_printable():
    chained = (
        "Traceback (most recent call last):\n"
        '  File "/w/old.py", line 9, in <module>\n'
        "During handling of the above exception, another exception occurred:\n\n"
        "Traceback (most recent call last):\n"
        '  File "/w/job.py", line 4, in <module>\n'
        '  File "/python/urllib/request.py", line 187, in urlopen\n'
        "PermissionError: the tls cap is not granted\n"
    )
    assert location(chained) == "/w/job.py:4"
    assert location('  File "/w/a\x1b[2Jb.py", line 1, in f\n') == "/w/a\\x1b[2Jb.py:1"
    long = location(f'  File "/{"x" * 5000}.py", line 2, in f\n')
    assert long.startswith("…") and len(long) < 220
    assert location("no frames at all") == ""
    only_library = '  File "/python/socket.py", line 859, in create_connection\n'
    assert location(only_library) == ""
