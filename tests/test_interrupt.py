"""Ctrl+C and --timeout in a REPL raise KeyboardInterrupt inside the guest and keep
its state (runtimes/interrupt.py, runtimes/mpinterrupt.py), on both runtimes; a C
loop that never yields is still trapped.

Timing bounds are generous (no assertion depends on machine load): what is
checked is that the call ends, with KeyboardInterrupt, and that state survived.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest
from conftest import Captured

from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Ok, Raised, Trapped

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="in-place interrupts read /proc/self/maps"
)


RUNTIMES = ["cpython", "micropython"]
#: A C loop that never returns to bytecode (MicroPython's ints overflow range(10**15)).
C_LOOP = {"cpython": "sum(range(10**15))", "micropython": "sum(range(10**9))"}
#: Deep, but inside each runtime's recursion limit (MicroPython's C stack is 40 kB).
DEPTH = {"cpython": 500, "micropython": 40}


@pytest.fixture(params=RUNTIMES)
def repl_runtime(built: None, request: pytest.FixtureRequest) -> Iterator[tuple[object, Captured]]:
    out = Captured()
    options = RuntimeOptions(timeout=None, keep_on_interrupt=True)
    rt = start_runtime(request.param, options, out)
    try:
        yield rt, out
    finally:
        rt.close()


def _interrupt_after(rt: object, seconds: float) -> None:
    timer = threading.Timer(seconds, rt.interrupt)  # type: ignore[attr-defined]
    timer.daemon = True
    timer.start()


BUSY = {
    "busy-loop": "while True: pass",
    "deep-recursion": (
        "def f(n):\n    if n:\n        return f(n - 1)\n    while True: pass\n\nf(DEPTH)"
    ),
    "sleep": "import time\ntime.sleep(30)",
}


@pytest.mark.parametrize("code", list(BUSY.values()), ids=list(BUSY))
def test_ctrl_c_raises_keyboard_interrupt_and_keeps_the_session(repl_runtime, code):
    rt, out = repl_runtime
    assert rt.run_input("x = 41") == Ok()
    _interrupt_after(rt, 0.5)
    started = time.monotonic()
    outcome = rt.run_input(code.replace("DEPTH", str(DEPTH[rt.name])))
    assert time.monotonic() - started < 10
    assert isinstance(outcome, Raised), outcome
    assert outcome.type_name == "KeyboardInterrupt"
    assert outcome.traceback.splitlines()[-1] == "KeyboardInterrupt"
    assert "pylon_" not in outcome.traceback  # the session's own frames are hidden
    assert rt.alive
    out.clear()
    assert rt.run_input("print(x + 1)") == Ok()
    assert out.text() == "42\n"


def test_the_same_session_can_be_interrupted_again_and_again(repl_runtime):
    rt, out = repl_runtime
    assert rt.run_input("n = 0") == Ok()
    for _ in range(3):
        _interrupt_after(rt, 0.3)
        outcome = rt.run_input("n += 1\nwhile True: pass")
        assert isinstance(outcome, Raised) and outcome.type_name == "KeyboardInterrupt"
    out.clear()
    assert rt.run_input("print(n)") == Ok()
    assert out.text() == "3\n"


def test_user_code_can_catch_the_interrupt(repl_runtime):
    rt, out = repl_runtime
    _interrupt_after(rt, 0.5)
    code = "try:\n    while True: pass\nexcept KeyboardInterrupt:\n    print('caught')\n"
    assert rt.run_input(code) == Ok()
    assert out.text() == "caught\n"


def test_an_interrupt_that_came_too_late_does_not_hit_the_next_input(repl_runtime):
    rt, out = repl_runtime
    # Stopped, then the call ends on its own before the guest checks: nothing is left pending.
    assert rt.run_input("x = 1") == Ok()
    for _ in range(20):
        assert rt.run_input("x += 1") == Ok()
    assert rt.run_input("print(x)") == Ok()
    assert out.text() == "21\n"


def test_a_c_loop_that_never_yields_is_still_stopped(repl_runtime):
    rt, _out = repl_runtime
    assert rt.run_input("x = 41") == Ok()
    _interrupt_after(rt, 0.5)
    started = time.monotonic()
    outcome = rt.run_input(C_LOOP[rt.name])
    assert time.monotonic() - started < 20
    assert isinstance(outcome, Trapped) and outcome.reason == "interrupt"
    assert not rt.alive


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_a_timeout_in_a_repl_keeps_the_session(built, runtime):
    out = Captured()
    rt = start_runtime(runtime, RuntimeOptions(timeout=1, keep_on_interrupt=True), out)
    try:
        assert rt.run_input("x = 41") == Ok()
        outcome = rt.run_input("while True: pass")
        assert isinstance(outcome, Raised) and outcome.type_name == "KeyboardInterrupt"
        assert outcome.traceback.splitlines()[-1] == (
            "KeyboardInterrupt: timed out after 1 s (raise it with --timeout)"
        )
        out.clear()
        assert rt.run_input("print(x + 1)") == Ok()
        assert out.text() == "42\n"
    finally:
        rt.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_without_keep_on_interrupt_a_call_is_trapped_as_before(built, runtime):
    out = Captured()
    rt = start_runtime(runtime, RuntimeOptions(timeout=None), out)
    try:
        _interrupt_after(rt, 0.5)
        outcome = rt.run_input("while True: pass")
        assert isinstance(outcome, Trapped) and outcome.reason == "interrupt"
    finally:
        rt.close()


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ctrl_c_on_a_duckdb_query_keeps_the_session(built, runtime):
    from pylon_shell.caps.grants import Grants
    from pylon_shell.caps.layer import CapLayer

    out = Captured()
    caps = CapLayer(runtime, Grants(["duckdb"]), [])
    options = RuntimeOptions(timeout=None, keep_on_interrupt=True)
    rt = start_runtime(runtime, options, out, caps=caps)
    try:
        assert rt.run_input("import duckdb\nx = 41") == Ok()
        _interrupt_after(rt, 1.5)
        started = time.monotonic()
        query = "duckdb.sql('select count(*) from range(100000000000) a').fetchall()"
        outcome = rt.run_input(query)
        assert time.monotonic() - started < 20
        assert isinstance(outcome, Raised), outcome
        assert outcome.type_name == "KeyboardInterrupt", outcome.traceback
        out.clear()
        # The provider process was killed with the query (its connections are
        # gone, as after a provider crash); the interpreter's state is kept.
        assert rt.run_input("print(x + 1, duckdb.connect().sql('select 1').fetchall())") == Ok()
        assert out.text() == "42 [(1,)]\n"
    finally:
        rt.close()


KDF = {
    "cpython": "import hashlib\nhashlib.pbkdf2_hmac('sha256', b'pw', b'salt', 10**9)",
    "micropython": "from pylon import crypto\ncrypto.pbkdf2_hmac('sha256', b'pw', b'salt', 10**9)",
}


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_ctrl_c_on_a_kdf_keeps_the_session(built, runtime):
    """The KDF runs in the provider process, which Ctrl+C kills (caps/process.py)."""
    from pylon_shell.caps.grants import Grants
    from pylon_shell.caps.layer import CapLayer

    out = Captured()
    caps = CapLayer(runtime, Grants(["crypto"]), [])
    options = RuntimeOptions(timeout=None, keep_on_interrupt=True)
    rt = start_runtime(runtime, options, out, caps=caps)
    try:
        assert rt.run_input("x = 41") == Ok()
        _interrupt_after(rt, 1.5)
        outcome = rt.run_input(KDF[runtime])
        assert isinstance(outcome, Raised), outcome
        assert outcome.type_name == "KeyboardInterrupt", outcome.traceback
        assert outcome.traceback.splitlines()[-1] == "KeyboardInterrupt"
        out.clear()
        assert rt.run_input("print(x + 1)") == Ok()
        assert out.text() == "42\n"
    finally:
        rt.close()


def test_micropython_finds_its_interrupt_state_only_in_a_repl(built):
    """The probe at start is answered (and self-tested) only when a REPL asks to keep
    its session; a script's interpreter keeps today's trap."""
    kept = start_runtime("micropython", RuntimeOptions(keep_on_interrupt=True), Captured())
    plain = start_runtime("micropython", RuntimeOptions(), Captured())
    try:
        assert kept._delivery.enabled  # type: ignore[attr-defined]
        assert not plain._delivery.enabled  # type: ignore[attr-defined]
    finally:
        kept.close()
        plain.close()


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_ctrl_c_in_script_mode_still_ends_the_program_with_130(built, flag):
    import os
    import signal
    import subprocess

    code = "print('running', flush=True)\nwhile True: pass"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pylon_shell", flag, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(os.environ),
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"running\n"  # the loop has started
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130
    assert err.decode().strip().splitlines()[-1] == "KeyboardInterrupt"


def test_a_ctrl_c_before_the_guest_call_begins_is_kept_until_it_runs():
    """Ctrl+C just after Enter, while the call is still being set up, finds
    nothing running; it is delivered once the call runs instead of being lost
    (the guest then waited at input() for good)."""
    import os
    import signal
    import threading

    from pylon_shell.session import call_interruptibly

    running = threading.Event()
    stopped = threading.Event()

    class Runtime:
        def interrupt(self) -> bool:
            if not running.is_set():
                return False
            stopped.set()
            return True

    def call() -> str:
        os.kill(os.getpid(), signal.SIGINT)  # before the call "begins"
        time.sleep(0.2)
        running.set()
        return "interrupted" if stopped.wait(10) else "never interrupted"

    assert call_interruptibly(Runtime(), call) == "interrupted"  # type: ignore[arg-type]
