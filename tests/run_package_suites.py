"""Run the pure-Python test suites of popular PyPI packages inside pylon
(`pylon --with pytest --with PKG -m pytest`) and, when a host Python is given,
on the host too, and print their pass counts side by side.

    python tests/run_package_suites.py [--host-python PY] [NAME ...]

The tests come from each package's sdist at the pinned version, fetched from
PyPI's simple API into build/package-suites/ (sha256 checked) and only
unpacked: nothing from an sdist is built or run on the host (pip download
would run its build backend to prepare metadata, so it is not used). Only the
test files and the project's pytest configuration are copied into a run
directory, so the guest imports the package from its wheel (`--with`), never
from the sdist's source. The host Python needs pytest and the same packages
at the same versions installed (e.g. a venv); without one only the guest
runs. docs/runtimes.md records the last results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "package-suites"

#: name: (version, {path in the sdist: path in the run dir}, extra --with specs, pytest args)
SUITES = {
    "more-itertools": ("11.2.1", {"tests": "tests"}, [], []),
    "iniconfig": ("2.3.1", {"testing": "testing"}, [], []),
    "toolz": ("1.2.0", {"toolz/tests": "tests"}, [], []),
    "six": ("1.17.0", {"test_six.py": "test_six.py"}, [], []),
    "idna": ("3.20", {"tests": "tests"}, ["hypothesis"], []),
    "packaging": ("26.4", {"tests": "tests"}, ["pretend", "tomli_w", "hypothesis"], []),
}
CONFIG_FILES = ("pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini")
SUMMARY = re.compile(r"(\d+ [a-z ]+?(?:, \d+ [a-z ]+?)*) in [\d.]+s", re.M)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def sdist(name: str, version: str) -> Path:
    """The sdist of name==version, downloaded once and checked against the
    sha256 PyPI's simple API (PEP 691, JSON) gives for it."""
    WORK.mkdir(parents=True, exist_ok=True)
    request = urllib.request.Request(
        f"https://pypi.org/simple/{_normal(name)}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    suffix = f"-{version}.tar.gz"
    (entry,) = [
        file for file in files
        if file["filename"].endswith(suffix)
        and _normal(file["filename"][: -len(suffix)]) == _normal(name)
    ]
    digest = entry["hashes"]["sha256"]
    target = WORK / entry["filename"]
    if not target.exists() or hashlib.sha256(target.read_bytes()).hexdigest() != digest:
        with urllib.request.urlopen(entry["url"], timeout=120) as response:
            data = response.read()
        if hashlib.sha256(data).hexdigest() != digest:
            raise SystemExit(f"{entry['filename']}: sha256 does not match PyPI's")
        target.write_bytes(data)
    return target


def prepare(name: str) -> Path:
    """A run directory holding only the suite's tests and pytest configuration."""
    version, paths, _, _ = SUITES[name]
    archive = sdist(name, version)
    run = WORK / f"{name}-{version}"
    shutil.rmtree(run, ignore_errors=True)
    unpacked = WORK / "unpacked"
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    (top,) = unpacked.iterdir()
    run.mkdir()
    for source, dest in paths.items():
        src = top / source
        if src.is_dir():
            shutil.copytree(src, run / dest)
        else:
            shutil.copy2(src, run / dest)
    for config in CONFIG_FILES:
        if (top / config).exists():
            shutil.copy2(top / config, run / config)
    shutil.rmtree(unpacked)
    return run


def summary(output: str) -> str:
    found = SUMMARY.findall(output)
    return found[-1] if found else "no summary: " + (output.strip().splitlines() or ["?"])[-1]


def run_guest(name: str, run: Path) -> str:
    version, paths, extras, args = SUITES[name]
    pylon = [sys.executable, "-m", "pylon_shell"]
    withs = ["--with", "pytest", "--with", f"{name}=={version}"]
    for extra in extras:
        withs += ["--with", extra]
    command = [*pylon, *withs, "--timeout", "900", "--dir", f"{run}:/app:ro",
               "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, *paths.values()]
    done = subprocess.run(command, cwd=run, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    (run / "guest.log").write_text(done.stdout + done.stderr)
    return summary(done.stdout + done.stderr)


def run_host(python: str, name: str, run: Path) -> str:
    _, paths, _, args = SUITES[name]
    command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, *paths.values()]
    done = subprocess.run(command, cwd=run, capture_output=True, text=True)
    (run / "host.log").write_text(done.stdout + done.stderr)
    return summary(done.stdout + done.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host-python", help="a Python with pytest and the packages installed")
    parser.add_argument("names", nargs="*", default=list(SUITES))
    options = parser.parse_args()
    for name in options.names:
        run = prepare(name)
        guest = run_guest(name, run)
        host = run_host(options.host_python, name, run) if options.host_python else "-"
        print(f"{name} {SUITES[name][0]}: pylon: {guest} | host: {host}", flush=True)


if __name__ == "__main__":
    main()
