"""The line REPL: block continuation rules, and a real terminal session under tmux."""

from __future__ import annotations

import os
import time

from tmux import Terminal

from pylon_shell.editing import backspace_width, next_indent, should_accept
from pylon_shell.plan import shipped, shipped_dir
from pylon_shell.repl import LineRepl


def test_enter_runs_complete_input_and_continues_blocks():
    complete = {"x = 1": True, "def f(x):": False}.__getitem__
    assert should_accept("x = 1", complete)
    assert not should_accept("def f(x):", complete)
    assert should_accept("def f(x):\n    return x\n    ", complete)  # an empty line ends it
    assert should_accept("   ", complete)


def test_indent_follows_blocks():
    assert next_indent("def f(x):") == "    "
    assert next_indent("def f(x):\n    y = 1") == "    "
    assert next_indent("x = 1") == ""


def test_a_statement_that_ends_its_block_dedents_the_next_line():
    for last in ("return", "return x", "pass", "raise", "raise ValueError(1)", "break", "continue"):
        assert next_indent(f"def f(x):\n    while x:\n        {last}") == "    ", last
        assert next_indent(f"        {last}  # done") == "    ", last
    assert next_indent("    return_value = 1") == "    "  # a name, not the statement
    assert next_indent("    passed = True") == "    "
    assert next_indent("pass") == ""  # nothing to dedent at the top level
    assert next_indent("    if x: # why") == "        "


def test_backspace_in_leading_whitespace_removes_one_level():
    assert backspace_width("        ") == 4
    assert backspace_width("      ") == 2  # back to the previous level, column 4
    assert backspace_width("    x") == 1
    assert backspace_width("") == 1


def test_save_in_the_line_repl_never_writes_a_shipped_plan(tmp_path, monkeypatch, capsys):
    """`:save` in the line REPL wrote into the package's plans/default.json."""
    monkeypatch.chdir(tmp_path)
    shipped_file = shipped_dir() / "default.json"
    before = shipped_file.read_bytes()
    repl = LineRepl(shipped("default"))
    try:
        repl.meta(":grant crypto")
        repl.meta(":save")
        repl.meta(f":save {shipped_file}")
    finally:
        repl.session.close()
    out, err = capsys.readouterr()
    assert out == f"granted crypto\nsaved the plan to {tmp_path / 'default.json'}\n"
    assert err == (
        f"pylon: could not write {shipped_file}: {shipped_file} is a plan shipped with pylon "
        "and is never overwritten; save to a file of your own, e.g. ./pylon-plan.json\n"
    )
    assert shipped_file.read_bytes() == before
    assert (tmp_path / "default.json").is_file()


def test_line_repl_in_a_real_terminal(built, tmp_path):
    data = tmp_path / "data"
    term = Terminal(["--no-tui"], env={"PYLON_DATA_DIR": str(data)})
    try:
        term.wait_for(">>>")
        assert "CPython 3.14" in term.screen()
        term.type("x = 41")
        term.send("Enter")
        term.type("x + 1")
        term.send("Enter")
        term.wait_for("42")
        term.type("def f(x):")
        term.send("Enter")
        term.wait_for("...")
        term.type("return x * 2")
        term.send("Enter")
        term.send("Enter")
        term.type("f(50)")
        term.send("Enter")
        term.wait_for("100")
        term.type("imp")
        term.send("Tab")
        term.wait_for(">>> import")
        term.send("C-u")
        term.wait_for_line(">>>")
        term.send("Up")  # history recalls the last input, on the input line itself
        term.wait_for_line(">>> f(50)")
        term.send("C-u")
        term.type("while True: pass")
        term.send("Enter")
        term.send("Enter")  # a compound statement ends with an empty line, as in python
        time.sleep(1)
        term.send("C-c")
        term.wait_for("KeyboardInterrupt", timeout=10)
        # Ctrl+C keeps the session: what was defined before is still there.
        term.type("x * 3")
        term.send("Enter")
        term.wait_for("\n123\n")
        term.type("1/0")
        term.send("Enter")
        term.wait_for("ZeroDivisionError")
        term.type("import pylon.crypto")
        term.send("Enter")
        # The hint names the line REPL's own command, not the CLI's --cap.
        term.wait_for("grant it with :grant")
        term.send("C-d")
        deadline = time.monotonic() + 10
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive()
    finally:
        term.close()
    history = (data / "history").read_text()
    assert "x + 1" in history and "def f(x):\n+    return x * 2" in history
    assert os.path.getsize(data / "history") > 0


def test_micropython_line_repl(built, tmp_path):
    term = Terminal(["--mp", "--no-tui"], env={"PYLON_DATA_DIR": str(tmp_path)})
    try:
        term.wait_for(">>>")
        assert "MicroPython 1." in term.screen()
        term.type("import sys; sys.implementation.name")
        term.send("Enter")
        term.wait_for("'micropython'")
    finally:
        term.close()


def test_micropython_line_repl_keeps_its_session_after_ctrl_c(built, tmp_path):
    term = Terminal(["--mp", "--no-tui"], env={"PYLON_DATA_DIR": str(tmp_path)})
    try:
        term.wait_for(">>>")
        term.type("x = 41")
        term.send("Enter")
        term.type("while True: pass")
        term.send("Enter")
        term.send("Enter")
        time.sleep(0.5)
        term.send("C-c")
        term.wait_for("KeyboardInterrupt", timeout=20)
        term.type("x + 1")
        term.send("Enter")
        term.wait_for("\n42\n")
        # A 30 s sleep: the interrupt comes long before it would have ended.
        term.type("import time; time.sleep(30)")
        term.send("Enter")
        time.sleep(0.5)
        term.send("C-c")
        # Well before the 30 s are up (the bound is 1 s; this one is
        # loose so that a loaded machine does not fail it).
        deadline = time.monotonic() + 20
        while term.screen().count("KeyboardInterrupt") < 2:
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.1)
        assert "discarded" not in term.screen()
        term.type("x * 3")
        term.send("Enter")
        term.wait_for("\n123\n")
    finally:
        term.close()


def test_line_repl_replays_the_session_after_a_trap(built, tmp_path):
    term = Terminal(["--mp", "--no-tui"], env={"PYLON_DATA_DIR": str(tmp_path)})
    try:
        term.wait_for(">>>")
        term.type("x = 41")
        term.send("Enter")
        term.type("sum(range(10**9))")  # a C loop: it never checks for Ctrl+C
        term.send("Enter")
        time.sleep(0.5)
        term.send("C-c")
        term.wait_for(
            "pylon: the interpreter had to be discarded; "
            "replayed 1 earlier input into a fresh session",
            timeout=30,
        )
        term.type("x + 1")
        term.send("Enter")
        term.wait_for("\n42\n")
    finally:
        term.close()


def test_input_in_the_line_repl_reads_the_next_line(built, tmp_path):
    term = Terminal(["--no-tui"], env={"PYLON_DATA_DIR": str(tmp_path / "data")})
    try:
        term.wait_for(">>>")
        term.type("name = input('name? ')")
        term.send("Enter")
        term.wait_for_line("name?")  # the prompt itself, not the echo of the input
        term.type("world")
        term.send("Enter")
        term.type("print('hello', name)")
        term.send("Enter")
        term.wait_for("hello world")
        term.type("input('again? ')")
        term.send("Enter")
        term.wait_for_line("again?")
        term.send("C-c")  # KeyboardInterrupt in the guest; its state is kept
        term.wait_for("KeyboardInterrupt")
        term.type("print(name * 2)")
        term.send("Enter")
        screen = term.wait_for("worldworld")
        assert "fresh CPython" not in screen
    finally:
        term.close()


def test_line_repl_search_indentation_and_suggestions_in_a_real_terminal(built, tmp_path):
    """Issue 15: after Enter on a Ctrl+R search the prompt was stuck in
    `I-search backward:` and what was typed vanished."""
    term = Terminal(["--no-tui"], env={"PYLON_DATA_DIR": str(tmp_path / "data")}, height=40)
    try:
        term.wait_for(">>>")
        term.type("alpha = 1")
        term.send("Enter")
        term.type("beta = 2")
        term.send("Enter")
        term.wait_for(">>> beta = 2\n>>>")  # at the prompt: no key is typed ahead
        term.send("C-r")
        term.type("alp")
        term.wait_for("I-search backward: alp")
        term.send("Enter")  # runs the entry found, and the search is over
        term.wait_for_line(">>>")
        term.type("print(alpha + 41)")
        term.wait_for_line(">>> print(alpha + 41)")  # typed text shows
        assert "I-search" not in term.screen()
        term.send("Enter")
        term.wait_for("\n42\n")
        # Blocks: Backspace takes one indent level; `return` ends its block.
        term.type("def f(x):")
        term.send("Enter")
        term.type("if x:")
        term.send("Enter")
        term.type("q")
        term.wait_for_line("...         q")  # at eight spaces
        term.send("BSpace", "BSpace")  # the q, then one level
        term.type("q")
        term.wait_for_line("...     q")
        term.send("BSpace")
        term.type("    return 1")
        term.send("Enter")
        term.type("return 7")  # `return 1` ended the if block: this is f's own
        term.send("Enter")
        term.type("z")  # and this one ended f: back at column 0
        term.wait_for_line("... z")
        term.send("BSpace")
        term.send("Enter")
        term.type("f(0), f(1)")
        term.send("Enter")
        term.wait_for("(7, 1)")
        # A suggestion from history, greyed; Right takes it.
        term.type("print(alpha +")
        term.wait_for_line(">>> print(alpha + 41)")
        term.send("Right")
        term.send("Enter")
        term.wait_for("(7, 1)\n>>> print(alpha + 41)\n42\n>>>")
        term.type("import js")
        term.send("Tab")
        term.wait_for_line(">>> import json")
    finally:
        term.close()


def test_save_session_in_the_line_repl_writes_the_inputs(built, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    repl = LineRepl(shipped("default"))
    try:
        repl.session.run_input("x = 6 * 7\n")
        repl.session.run_input("print(x)\n")
        repl.meta(":save-session s.py")
        repl.meta(":save-session")
    finally:
        repl.session.close()
    out, err = capsys.readouterr()
    assert out == f"42\nsaved 2 inputs to {tmp_path / 's.py'}\n"
    assert err == "pylon: save the session to which file? e.g. :save-session session.py\n"
    assert "x = 6 * 7\n" in (tmp_path / "s.py").read_text()


def test_completions_from_the_guest_are_bounded_and_printable():
    from pylon_shell.editing import MAX_WORDS, clean_words

    assert clean_words(["a", "a", "b\x1b[2J", "", 3, "c" * 500, "d"]) == ["a", "d"]
    assert len(clean_words([f"w{i}" for i in range(10 * MAX_WORDS)])) == MAX_WORDS
    assert clean_words("not a list") == []
