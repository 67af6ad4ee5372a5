"""Shared fixtures. Runtime tests use the real wasm runtimes: nothing here fakes wasmtime.

The artifacts are built once per test session into PYLON_CACHE_DIR (CI points
it at an empty directory, so the first-run build itself is under test).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pylon_shell.build import cpython_artifacts, micropython_artifacts
from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Runtime

RUNTIMES = ("cpython", "micropython")


@pytest.fixture(scope="session", autouse=True)
def _private_data_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """History written by tests must not land in the developer's own data dir."""
    os.environ["PYLON_DATA_DIR"] = str(tmp_path_factory.mktemp("pylon-data"))


@pytest.fixture(scope="session")
def built() -> None:
    """Build (or reuse) the runtime artifacts once, before any runtime test."""
    cpython_artifacts()
    micropython_artifacts()


@dataclass
class Result:
    status: int
    stdout: str
    stderr: str


def run_pylon(
    *args: str,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> Result:
    """Run `python -m pylon_shell ARGS` the way a user runs `pylon`."""
    proc = subprocess.run(
        [sys.executable, "-m", "pylon_shell", *args],
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def pylon(built: None) -> object:
    return run_pylon


class Captured:
    """Collects what a runtime writes, per stream."""

    def __init__(self) -> None:
        self.chunks: list[tuple[int, bytes]] = []

    def __call__(self, fd: int, data: bytes) -> None:
        self.chunks.append((fd, data))

    def text(self, fd: int = 1) -> str:
        return b"".join(d for f, d in self.chunks if f == fd).decode()

    def clear(self) -> None:
        self.chunks.clear()


@pytest.fixture(params=RUNTIMES)
def runtime(request: pytest.FixtureRequest, built: None) -> Iterator[tuple[Runtime, Captured]]:
    """A fresh real interpreter of each kind, with its output captured."""
    out = Captured()
    rt = start_runtime(request.param, RuntimeOptions(timeout=20), out)
    try:
        yield rt, out
    finally:
        rt.close()


# -- no silent skips in CI -------------------------------------------------------
# Under PYLON_CI (set by .ci/run) a skipped test fails the run unless its reason
# matches a line of tests/allowed_skips.txt, where each allowed skip says why.

ALLOWED_SKIPS = Path(__file__).with_name("allowed_skips.txt")
_skips: list[tuple[str, str]] = []


def _allowed_skip_patterns() -> list[str]:
    lines = ALLOWED_SKIPS.read_text().splitlines() if ALLOWED_SKIPS.exists() else []
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _skips.append((report.nodeid, reason.removeprefix("Skipped: ")))


def unexpected_skips(skips: list[tuple[str, str]], patterns: list[str]) -> list[tuple[str, str]]:
    import re

    return [(node, why) for node, why in skips if not any(re.search(p, why) for p in patterns)]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("PYLON_CI"):
        return
    unexpected = unexpected_skips(_skips, _allowed_skip_patterns())
    if unexpected:
        lines = "\n".join(f"  {node}: {why}" for node, why in unexpected)
        sys.stderr.write(
            f"\nCI fails on {len(unexpected)} skipped test(s) that tests/allowed_skips.txt "
            f"does not explain:\n{lines}\n"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
