"""CI shows every skip and fails on one tests/allowed_skips.txt does not explain."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from conftest import _allowed_skip_patterns, unexpected_skips

TESTS = Path(__file__).resolve().parent


def test_only_explained_skips_are_allowed():
    patterns = _allowed_skip_patterns()
    skips = [
        ("a", "needs Landlock ABI 6 (Linux 6.7+)"),
        ("b", "this kernel has no openat2"),
        ("c", "tmux is not installed"),
        ("d", "could not import 'duckdb': No module named 'duckdb'"),
    ]
    assert unexpected_skips(skips, patterns) == skips[2:]


def _run(tmp_path: Path, ci: bool) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_skips.py").write_text(
        "import pytest\n"
        "def test_runs():\n    pass\n"
        "def test_skips_unexplained():\n    pytest.skip('some tool is missing')\n"
        "@pytest.mark.skipif(True, reason='needs Landlock ABI 6 (Linux 6.7+)')\n"
        "def test_skips_explained():\n    pass\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYLON_CI"}
    env["PYTHONPATH"] = str(TESTS)
    if ci:
        env["PYLON_CI"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rs", "-p", "no:cacheprovider", "-p", "conftest",
         str(tmp_path / "test_skips.py")],
        capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120,
    )  # fmt: skip


def test_ci_fails_on_an_unexplained_skip_and_shows_it(tmp_path):
    result = _run(tmp_path, ci=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SKIPPED [1] test_skips.py:5: some tool is missing" in result.stdout
    assert "CI fails on 1 skipped test(s) that tests/allowed_skips.txt does not explain" in (
        result.stderr
    )
    assert "test_skips.py::test_skips_unexplained: some tool is missing" in result.stderr
    assert "test_skips_explained" not in result.stderr


def test_outside_ci_a_skip_is_shown_not_failed(tmp_path):
    result = _run(tmp_path, ci=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 2 skipped" in result.stdout


def test_ci_fails_a_terminal_test_when_tmux_is_missing(tmp_path, monkeypatch):
    import pytest
    from tmux import Terminal

    monkeypatch.setenv("PATH", str(tmp_path))  # no tmux on it
    monkeypatch.setenv("PYLON_CI", "1")
    with pytest.raises(pytest.fail.Exception, match="tmux is not installed, and CI needs it"):
        Terminal(["--no-tui"])
