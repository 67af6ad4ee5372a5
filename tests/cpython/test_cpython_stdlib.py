"""CPython 3.14's own tests of the modules pylon stands in for, inside pylon.

Runs tests/cpython/run_stdlib_tests.py (which fetches the test tree into
build/cpython-tests on first use, from Debian's archive): any failure the
expected list (tests/cpython/expected_failures.toml) does not name, and any
listed failure that now passes, fails this test. Select it with
`pytest tests/cpython -k cpython_stdlib`; PYLON_STDLIB_RUNS="test_bz2 test_lzma"
narrows it to some runs. It never skips: without the tree (no apt-get, no
network) it fails and says why.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.mark.runtime
def test_cpython_stdlib_suites_match_the_expected_list() -> None:
    runs = os.environ.get("PYLON_STDLIB_RUNS", "").split()
    proc = subprocess.run(
        [sys.executable, str(HERE / "run_stdlib_tests.py"), *runs],
        capture_output=True,
        text=True,
        timeout=3600,
    )
    print(proc.stdout)
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-3000:]
