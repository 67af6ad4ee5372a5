"""pylon's benchmarks: `python benchmarks/run.py [GROUP ...]` is `pylon bench`.

Each figure is printed next to a baseline measured in the same run, with the
ratio, and written to benchmarks/results.json. Nothing here asserts a time:
the figures are for people (docs/benchmarks.md), not for the test suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pylon_shell.bench import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if "-o" not in args and "--output" not in args:
        args += ["-o", str(Path(__file__).resolve().parent / "results.json")]
    raise SystemExit(main(args))
