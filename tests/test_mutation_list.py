"""The mutation run's list follows the code: every mutant's code is still there,
once, and its tests exist (tests/mutation/run.py --check, in the normal suite)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "mutation"))

import run  # noqa: E402


def test_every_mutant_applies_to_the_code():
    mutants = run.load()
    assert len(mutants) >= 50
    assert run.problems(mutants) == []


def test_the_verdict_counts_only_failed_tests_as_a_kill():
    assert run._verdict(0, "3 passed in 1s") == "passed"
    assert run._verdict(1, "1 failed, 2 passed in 1s") == "failed"
    assert run._verdict(1, "1 error in 1s") == "error"
    assert run._verdict(4, "no tests ran") == "error"
