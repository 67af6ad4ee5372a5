"""Limits that hold and leave the launcher alive; nothing lost to kill -9; load."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import Captured
from tmux import Terminal

from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Ok, Raised

PYLON = [sys.executable, "-m", "pylon_shell"]


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_sigint_stops_runaway_code_within_a_second(built, flag):
    proc = subprocess.Popen(
        [*PYLON, flag, "-c", "print('running', flush=True)\nwhile True: pass"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "running\n"
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=5)
        assert time.monotonic() - sent < 1.0
    finally:
        proc.kill()
    assert status == 130
    assert proc.stderr is not None and proc.stderr.read().strip() == "KeyboardInterrupt"


@pytest.mark.parametrize(
    ("flag", "code", "error"),
    [
        ("--cp", "x = bytearray(10**9)", "MemoryError"),
        ("--mp", "x = bytearray(10**9)", "MemoryError"),
        ("--cp", "def f():\n    return f()\nf()", "RecursionError"),
        ("--mp", "def f():\n    return f()\nf()", "RuntimeError: maximum recursion depth exceeded"),
    ],
)
def test_memory_bombs_and_deep_recursion_are_errors_not_crashes(pylon, flag, code, error):
    result = pylon(flag, "--memory", "64", "-c", code)
    assert result.status == 1
    assert result.stderr.strip().splitlines()[-1].startswith(error)


def test_the_repl_session_goes_on_after_a_memory_bomb(built):
    out = Captured()
    runtime = start_runtime("cpython", RuntimeOptions(memory_mib=64, timeout=30), out)
    try:
        assert runtime.run_input("kept = 41\n") == Ok()
        bomb = runtime.run_input("x = bytearray(10**9)\n")
        assert isinstance(bomb, Raised) and bomb.type_name == "MemoryError"
        assert runtime.run_input("print(kept + 1)\n") == Ok()
        assert out.text().endswith("42\n")
    finally:
        runtime.close()


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.parametrize("kind", ["cpython", "micropython"])
def test_ten_thousand_evals_do_not_grow_memory(built, kind):
    runtime = start_runtime(kind, RuntimeOptions(), lambda fd, data: None)
    try:
        for i in range(500):  # warm up: caches, the guest's heap
            runtime.run_input(f"x = {i} * 2\n")
        before = _rss_mib()
        for i in range(10_000):
            assert runtime.run_input(f"x = {i} * 2\n") == Ok()
        growth = _rss_mib() - before
    finally:
        runtime.close()
    assert growth < 32, f"{growth:.1f} MiB more after 10k evals"


def test_eight_concurrent_runs_all_finish(built):
    def one(n: int) -> subprocess.CompletedProcess[str]:
        code = f"print(sum(range({n} * 100000)))"
        return subprocess.run([*PYLON, "-c", code], capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(1, 9)))
    for n, result in enumerate(results, start=1):
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"{sum(range(n * 100000))}\n"


def kill_after_commit(args: list[str]) -> None:
    """Run pylon until its program prints "committed", then kill -9 it."""
    proc = subprocess.Popen([*PYLON, *args], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "committed\n"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()


@pytest.mark.parametrize("provider", ["builtin", "component"])
def test_a_committed_sqlite_row_survives_kill_9(built, tmp_path, provider):
    code = (
        "import sqlite3\n"
        "con = sqlite3.connect('/data/kept.db')\n"
        "con.execute('create table t (a text)')\n"
        "con.execute(\"insert into t values ('kept')\")\n"
        "con.commit()\n"
        "print('committed', flush=True)\n"
        "while True: pass\n"
    )
    kill_after_commit(
        ["--dir", f"{tmp_path}:/data", "--provider", f"sqlite={provider}", "-c", code]
    )
    with sqlite3.connect(tmp_path / "kept.db") as con:
        assert con.execute("select a from t").fetchall() == [("kept",)]


def test_a_committed_duckdb_row_survives_kill_9(built, tmp_path):
    import duckdb

    code = (
        "import duckdb\n"
        "con = duckdb.connect('/data/kept.duckdb')\n"
        "con.execute(\"create table t as select 'kept' as a\")\n"
        "print('committed', flush=True)\n"
        "while True: pass\n"
    )
    kill_after_commit(["--dir", f"{tmp_path}:/data", "-c", code])
    # The provider process holding the database's lock ends when it sees its
    # launcher gone (caps/worker.py), which on a loaded machine takes a moment.
    deadline = time.monotonic() + 10
    while True:
        try:
            con = duckdb.connect(str(tmp_path / "kept.duckdb"))
            break
        except duckdb.IOException as error:
            if "lock" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    with con:
        assert con.execute("select a from t").fetchall() == [("kept",)]


def test_tui_history_is_written_as_you_go_and_survives_kill_9(built, tmp_path):
    term = Terminal([], width=100, height=30, env={"PYLON_DATA_DIR": str(tmp_path)})
    try:
        term.wait_for("in wasmtime", timeout=60)
        term.type("answer = 42")
        term.send("Enter")
        term.wait_for(">>> answer = 42", timeout=30)
        pid = subprocess.run(
            ["tmux", "list-panes", "-t", term.name, "-F", "#{pane_pid}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[0]
        os.kill(int(pid), signal.SIGKILL)
    finally:
        term.close()
    history = next(tmp_path.rglob("history*"))
    assert "+answer = 42" in history.read_text()


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_timeout_stops_a_long_duckdb_query_on_the_host(pylon, flag):
    # About a minute of DuckDB work if nothing stopped it.
    query = "select sum(a.range * b.range) from range(2000000000) a, range(10) b"
    code = (
        f"import duckdb\nc = duckdb.connect()\nprint('querying', flush=True)\n"
        f"c.execute({query!r}).fetchall()"
    )
    result = pylon(flag, "--timeout", "1", "-c", code, timeout=30)
    assert result.status == 124
    assert result.stdout == "querying\n"  # the time went to the query
    assert result.stderr.strip() == "pylon: timed out after 1 s (raise it with --timeout)"


def test_timeout_stops_a_read_that_waits_on_the_host(pylon):
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()))
    thread.start()
    try:
        code = (
            f"import socket\ns = socket.create_connection(('127.0.0.1', {port}))\n"
            "print('connected', flush=True)\ns.recv(10)"
        )
        result = pylon(
            "--cap", "net", "--host", f"127.0.0.1:{port}", "--timeout", "1", "-c", code, timeout=30
        )
    finally:
        thread.join(timeout=5)
        for connection, _ in accepted:
            connection.close()
        server.close()
    assert result.status == 124
    assert result.stdout == "connected\n"  # the time went to the read
    assert result.stderr.strip() == "pylon: timed out after 1 s (raise it with --timeout)"


def test_timeout_stops_a_connect_that_hangs_on_the_host(pylon):
    import socket

    # A listener whose backlog is full: a further connect waits, unanswered.
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    first = socket.create_connection(("127.0.0.1", port))
    try:
        code = (
            "import socket\nprint('connecting', flush=True)\n"
            f"socket.create_connection(('127.0.0.1', {port}))"
        )
        result = pylon(
            "--cap", "net", "--host", f"127.0.0.1:{port}", "--timeout", "1", "-c", code, timeout=30
        )
    finally:
        first.close()
        server.close()
    assert result.status == 124
    assert result.stdout == "connecting\n"  # the time went to the connect
    assert result.stderr.strip() == "pylon: timed out after 1 s (raise it with --timeout)"


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_timeout_stops_the_loop_the_guest_is_running(pylon, flag):
    """The time went to the loop: the guest said it had started it before the
    limit ran out, and nothing after it ran."""
    code = "print('looping', flush=True)\nwhile True: pass\nprint('after')"
    result = pylon(flag, "--timeout", "2", "-c", code, timeout=60)
    assert result.status == 124, result.stderr
    assert result.stdout == "looping\n"
    assert result.stderr.strip() == "pylon: timed out after 2 s (raise it with --timeout)"


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_memory_bounds_what_duckdb_holds_for_the_guest(pylon, flag):
    code = (
        "import duckdb\n"
        "c = duckdb.connect()\n"
        "print(c.execute(\"select current_setting('memory_limit')\").fetchall())\n"
        "try:\n"
        "    c.execute('select a.range % 20000000 as k, list(a.range) from range(40000000) a"
        " group by k').fetchall()\n"
        "except duckdb.Error as error:\n"
        "    print(type(error).__name__)\n"
    )
    result = pylon(flag, "--memory", "32", "-c", code, timeout=120)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == ["[('32.0 MiB',)]", "OutOfMemoryException"]


# Blocking waits run inside wasmtime's host code (WASI poll), where the epoch
# deadline does not reach; the guests wait in slices so that it fires in time.
WAITS = [
    ("--cp", "import time\ntime.sleep(60)"),
    ("--cp", "import select\nselect.select([], [], [], 60)"),
    ("--cp", "import select\nselect.poll().poll()"),
    ("--cp", "import selectors\nselectors.DefaultSelector().select(60)"),
    ("--mp", "import time\ntime.sleep(60)"),
    ("--mp", "from time import sleep_us\nsleep_us(60_000_000)"),
    ("--mp", "import select\nselect.poll().poll(60_000)"),
]


@pytest.mark.parametrize(("flag", "wait"), WAITS)
def test_timeout_stops_a_blocking_wait(pylon, flag, wait):
    started = time.monotonic()
    result = pylon(flag, "--timeout", "1", "-c", f"print('waiting', flush=True)\n{wait}")
    assert result.status == 124
    assert result.stdout == "waiting\n"
    assert result.stderr.strip() == "pylon: timed out after 1 s (raise it with --timeout)"
    assert time.monotonic() - started < 8  # the wait was 60 s


@pytest.mark.parametrize(("flag", "wait"), WAITS)
def test_sigint_stops_a_blocking_wait(built, flag, wait):
    proc = subprocess.Popen(
        [*PYLON, flag, "-c", f"print('waiting', flush=True)\n{wait}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "waiting\n"
        time.sleep(0.2)  # into the wait
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        status = proc.wait(timeout=30)
        assert time.monotonic() - sent < 5
    finally:
        proc.kill()
    assert status == 130
    assert proc.stderr is not None and proc.stderr.read().strip() == "KeyboardInterrupt"


@pytest.mark.parametrize(
    ("flag", "code", "printed"),
    [
        ("--cp", "time.sleep(0.3)", "True"),
        ("--cp", "print(select.select([], [], [], 0.3))", "([], [], [])\nTrue"),
        ("--cp", "print(select.poll().poll(300))", "[]\nTrue"),
        ("--mp", "time.sleep(0.3)", "True"),
        ("--mp", "time.sleep_us(300_000)", "True"),
    ],
)
def test_a_sliced_wait_still_waits_as_long_as_asked(pylon, flag, code, printed):
    clock = "time.monotonic()" if flag == "--cp" else "time.ticks_ms() / 1000"
    result = pylon(
        flag, "-c", f"import time, select\nt = {clock}\n{code}\nprint({clock} - t >= 0.29)"
    )
    assert (result.status, result.stdout.strip()) == (0, printed)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("time.sleep(-1)", "ValueError: sleep length must be non-negative"),
        ("time.sleep('x')", "TypeError: 'str' object cannot be interpreted as an integer or float"),
        ("time.sleep(float('nan'))", "ValueError: Invalid value NaN (not a number)"),
        ("time.sleep(10**10)", "OverflowError: timestamp too large to convert to C PyTime_t"),
        ("select.select([], [], [], -1)", "ValueError: timeout must be non-negative"),
        ("select.poll().poll('x')", "TypeError: timeout must be an integer or None"),
    ],
)
def test_sliced_waits_refuse_what_cpython_refuses(pylon, code, error):
    result = pylon("-c", f"import time, select\n{code}")
    assert result.status == 1
    assert result.stderr.strip().splitlines()[-1] == error
