"""Mutation run of pylon's guards: each mutant in guards.toml must be killed.

For every mutant the runner exports the committed tree (`git archive HEAD`:
never the real tree, and never the half-done edits in it), replaces the exact
code the mutant names with its broken version, and runs the tests the mutant
names against that copy, with a cache and data directory of its own: a copy of
runtimes built once for the committed tree, so only a mutant of guest/cpython
or wit/ pays for a rebuild. A mutant is killed when one of those tests fails
(an error while setting up, or no test run, is not a kill). The exit status is
1 when any mutant survived or could not be applied (the list must follow the
code), 0 when every one was killed.

    .venv/bin/python tests/mutation/run.py            # every mutant
    .venv/bin/python tests/mutation/run.py ID ...     # some of them
    .venv/bin/python tests/mutation/run.py --list     # the guards and their mutants
    .venv/bin/python tests/mutation/run.py --check    # the list matches the code (no runs)

Before the mutants, the union of their tests runs once on the unmutated copy
and must pass (a test that fails anyway would "kill" every mutant).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUARDS = Path(__file__).with_name("guards.toml")
#: Changing these changes the CPython component's cache key: a rebuild (~20-60 s).
REBUILDS = ("pylon_shell/guest/cpython/", "pylon_shell/wit/")
#: ... and so does changing a cap package's stand-ins (pylon_shell/caps/<name>/guest/cpython/).
CAP_STAND_INS = "/guest/cpython/"


@dataclass(frozen=True)
class Mutant:
    id: str
    guard: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    why: str

    @property
    def rebuilds(self) -> bool:
        cap_stand_in = self.file.startswith("pylon_shell/caps/") and CAP_STAND_INS in self.file
        return self.file.startswith(REBUILDS) or cap_stand_in


def load(path: Path = GUARDS) -> list[Mutant]:
    data = tomllib.loads(path.read_text())
    mutants = []
    for item in data["mutant"]:
        mutants.append(
            Mutant(
                id=item["id"],
                guard=item["guard"],
                file=item["file"],
                find=item["find"],
                replace=item["replace"],
                tests=tuple(item["tests"]),
                why=item.get("why", ""),
            )
        )
    ids = [m.id for m in mutants]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise SystemExit(f"guards.toml: duplicate mutant ids {sorted(duplicates)}")
    return mutants


def problems(mutants: list[Mutant], root: Path = REPO) -> list[str]:
    """Why a mutant cannot be applied: its file is gone, or its code is not there
    exactly once (the guard moved: update the list with it)."""
    out = []
    for m in mutants:
        path = root / m.file
        if not path.is_file():
            out.append(f"{m.id}: no file {m.file}")
            continue
        count = path.read_text().count(m.find)
        if count != 1:
            out.append(f"{m.id}: the code to mutate is found {count} times in {m.file}")
        if m.find == m.replace:
            out.append(f"{m.id}: the mutant is the code itself")
        for test in m.tests:
            if not (root / test.split("::")[0]).is_file():
                out.append(f"{m.id}: no test file {test}")
    return out


def _copy_cache(source: Path, target: Path) -> None:
    runtimes = source / "runtimes"
    if runtimes.is_dir():
        shutil.copytree(runtimes, target / "runtimes", ignore=shutil.ignore_patterns(".lock"))


def _verdict(returncode: int, report: str) -> str:
    """'passed', 'failed' (a test failed) or 'error' (nothing failed for the
    mutant's sake: a collection or setup error, or no test ran)."""
    summary = report.strip().splitlines()[-1] if report.strip() else ""
    if returncode == 0:
        return "passed"
    if returncode == 1 and re.search(r"\b\d+ failed\b", summary):
        return "failed"
    return "error"


def run_tests(
    tree: Path, tests: tuple[str, ...], cache_from: Path, work: Path, timeout: float
) -> tuple[str, float, str]:
    """('passed' | 'failed' | 'timeout' | 'error', seconds, the report's tail)."""
    cache, data = work / "cache", work / "data"
    data.mkdir(parents=True, exist_ok=True)
    if not cache.exists():
        _copy_cache(cache_from, cache)
    env = {
        **os.environ,
        "PYTHONPATH": str(tree),
        "PYLON_CACHE_DIR": str(cache),
        "PYLON_DATA_DIR": str(data),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    command = [
        sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
        "-o", "addopts=", *tests,
    ]  # fmt: skip
    started = time.monotonic()
    try:
        proc = subprocess.run(
            command, cwd=tree, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as error:
        out = error.stdout or b""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        return "timeout", time.monotonic() - started, text[-2000:]
    took = time.monotonic() - started
    return _verdict(proc.returncode, proc.stdout), took, (proc.stdout + proc.stderr)[-3000:]


def _export(target: Path, ref: str) -> None:
    """The committed tree at `ref`, as files (no .git, no uncommitted edits)."""
    target.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", ref],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)


def _tree(work: Path, pristine: Path) -> Path:
    tree = work / "repo"
    shutil.copytree(pristine, tree, symlinks=True)
    return tree


def _which_package(tree: Path, cache: Path) -> None:
    """The copy's pylon_shell is the one its tests import, not the real tree's."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYLON_CACHE_DIR": str(cache)}
    found = subprocess.run(
        [sys.executable, "-c", "import pylon_shell; print(pylon_shell.__file__)"],
        cwd=tree, env=env, capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    if not found.startswith(str(tree)):
        raise SystemExit(f"the copy's tests would import {found}, not the copy")


PREPARE = """
from pylon_shell import artifacts, build
from pylon_shell.wasmhost.engine import load_module
build.cpython_artifacts()
build.sqlite_provider_artifacts()
mp = build.micropython_artifacts()
load_module(mp.wasm, mp.wasm_sha256, mp.native)
"""


def _prepare(tree: Path, cache: Path) -> None:
    """Every runtime artifact of `tree` built into `cache` (nothing to do when
    the copied cache already holds them: their keys match)."""
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(tree), "PYLON_CACHE_DIR": str(cache)}
    subprocess.run([sys.executable, "-c", PREPARE], cwd=tree, env=env, check=True)
    print(f"runtimes ready in {time.monotonic() - started:.0f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="mutant ids (default: all)")
    parser.add_argument("--list", action="store_true", help="list guards and mutants")
    parser.add_argument("--check", action="store_true", help="check the list against the code")
    parser.add_argument("--no-baseline", action="store_true", help="skip the unmutated run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds a mutant may take")
    parser.add_argument("--cache-from", type=Path, default=None, help="built runtimes to copy")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies")
    parser.add_argument("--ref", default="HEAD", help="the commit to mutate (default HEAD)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show why each was killed")
    args = parser.parse_args(argv)

    mutants = load()
    if args.ids:
        unknown = set(args.ids) - {m.id for m in mutants}
        if unknown:
            parser.error(f"unknown mutant ids: {', '.join(sorted(unknown))}")
        mutants = [m for m in mutants if m.id in args.ids]
    if args.list:
        guards: dict[str, list[Mutant]] = {}
        for m in mutants:
            guards.setdefault(m.guard, []).append(m)
        for guard, items in guards.items():
            print(f"{guard}:")
            for m in items:
                print(f"  {m.id:34} {m.file}  ({len(m.tests)} test ids)")
        print(f"{len(mutants)} mutants, {len(guards)} guards")
        return 0
    found = problems(mutants)
    if found:
        for line in found:
            print(f"mutation: {line}", file=sys.stderr)
        return 1
    if args.check:
        print(f"mutation: {len(mutants)} mutants apply to the code")
        return 0

    sys.path.insert(0, str(REPO))
    from pylon_shell import paths

    cache_from = args.cache_from or paths.cache_dir()
    started = time.monotonic()
    # Rebuilding mutants last, so the cheap answers come first.
    mutants.sort(key=lambda m: m.rebuilds)
    base = Path(tempfile.mkdtemp(prefix="pylon-mutation-"))
    survivors: list[str] = []
    try:
        pristine = base / "pristine"
        _export(pristine, args.ref)
        found = problems(mutants, pristine)
        if found:
            for line in found:
                print(f"mutation: {line} (at {args.ref})", file=sys.stderr)
            return 1
        # The runtimes of the committed tree, built once (reused from cache_from
        # when its keys match), then copied for each mutant.
        shared = base / "shared"
        shared.mkdir()
        _copy_cache(cache_from, shared / "cache")
        _which_package(pristine, shared / "cache")
        _prepare(pristine, shared / "cache")
        if not args.no_baseline:
            union = tuple(dict.fromkeys(t for m in mutants for t in m.tests))
            outcome, took, tail = run_tests(
                pristine, union, shared / "cache", shared, args.timeout * 3
            )
            print(f"baseline: {len(union)} test ids {outcome} in {took:.0f} s", flush=True)
            if outcome != "passed":
                print(tail, file=sys.stderr)
                print("mutation: the tests fail without any mutant", file=sys.stderr)
                return 1
        for index, m in enumerate(mutants, 1):
            work = base / m.id
            tree = _tree(work, pristine)
            path = tree / m.file
            path.write_text(path.read_text().replace(m.find, m.replace, 1))
            outcome, took, tail = run_tests(tree, m.tests, shared / "cache", work, args.timeout)
            verdict = {"failed": "killed", "timeout": "killed (timeout)"}.get(outcome, outcome)
            if outcome == "passed":
                verdict = "SURVIVED"
                survivors.append(m.id)
            elif outcome == "error":
                verdict = "ERROR (no test failed: setup or collection error)"
                survivors.append(m.id)
            print(
                f"[{index}/{len(mutants)}] {m.guard}: {m.id}: {verdict} ({took:.0f} s)", flush=True
            )
            if outcome in ("passed", "error") or args.verbose:
                lines = [line for line in tail.strip().splitlines() if line.strip()]
                print("    " + "\n    ".join(lines[-6:]), flush=True)
            if not args.keep:
                shutil.rmtree(work, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    killed = len(mutants) - len(survivors)
    print(
        f"mutation: {killed} of {len(mutants)} mutants killed, {len(survivors)} survived"
        f"{': ' + ', '.join(survivors) if survivors else ''} "
        f"({time.monotonic() - started:.0f} s)"
    )
    return 1 if survivors else 0


if __name__ == "__main__":
    sys.exit(main())
