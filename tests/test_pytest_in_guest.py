"""pytest from PyPI inside the CPython guest, with no extra flags: its default
capture (os.dup/dup2 of 0-2 into a temporary file), faulthandler
(sys.__stderr__.fileno()), the logging plugin (/dev/null) and its chdir back
to the start directory all work. Needs PyPI (`--with pytest`)."""

from __future__ import annotations

PROJECT = '''
import os
import sys


def test_passes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("f", "w") as handle:
        handle.write("x")
    assert (tmp_path / "f").read_text() == "x"


def test_fails():
    print("said on stdout")
    os.write(2, b"said on fd 2\\n")
    assert 1 + 1 == 3
'''


def test_pytest_runs_a_project_with_its_own_status_and_summary(pylon, tmp_path):
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_project.py").write_text(PROJECT)
    result = pylon(
        "--with", "pytest", "--dir", f"{tmp_path}:/app", "-m", "pytest", "/app/tests",
        timeout=600,
    )
    assert result.status == 1, result
    lines = result.stdout.splitlines()
    assert any("1 failed, 1 passed" in line for line in lines[-2:]), result.stdout
    # Its capture worked: the failing test's output is reported under its name.
    assert "Captured stdout call" in result.stdout and "said on stdout" in result.stdout
    assert "Captured stderr call" in result.stdout and "said on fd 2" in result.stdout
    assert "Traceback" not in result.stderr, result.stderr


def test_pytest_starts_in_the_preopen_of_the_current_directory(pylon, tmp_path):
    (tmp_path / "test_here.py").write_text(
        "import os\n\ndef test_cwd():\n    assert os.getcwd() == '/app'\n"
    )
    result = pylon(
        "--with", "pytest", "--dir", ".:/app", "-m", "pytest", "-q", "-p", "no:cacheprovider",
        cwd=tmp_path, timeout=600,
    )
    assert result.status == 0, result
    assert "1 passed" in result.stdout.splitlines()[-1]
