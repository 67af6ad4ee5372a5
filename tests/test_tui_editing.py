"""The TUI's input as an editor (issue 15): the completion list, indentation,
history suggestions, bracket matching; on the real runtimes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_tui import drive, lines, make_app, ready, run, shown, until

import pylon_shell
from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.widgets.code_input import CodeInput
from pylon_shell.tui.widgets.completions import CompletionList
from pylon_shell.tui.widgets.scrollback import Scrollback


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_the_completion_list_narrows_moves_and_closes(built, tmp_path, runtime):
    async def steps(pilot, app: PylonApp) -> None:
        code_input = app.query_one(CodeInput)
        listing = app.query_one(CompletionList)
        await run(pilot, app, "K = type('K', (), {})")
        await run(pilot, app, "k = K(); k.alpha = 1; k.alps = 2; k.amber = 3")
        await pilot.press(*"k.a", "tab")
        assert listing.is_open and listing.display
        assert listing.words == ["k.alpha", "k.alps", "k.amber"]
        await pilot.press("down", "down")
        assert listing.chosen() == "k.alps"
        await pilot.press("up")
        assert listing.chosen() == "k.alpha"
        assert code_input.text == "k.a"  # Up moved in the list, not the history
        await pilot.press("l")  # typing narrows it
        await pilot.pause()
        assert listing.words == ["k.alpha", "k.alps"]
        await pilot.press("escape")  # closes it; the keyboard stays in the input
        assert not listing.is_open and not listing.display
        assert code_input.has_focus and code_input.text == "k.al"
        await pilot.press("tab")  # the common part goes in, the rest is listed
        assert code_input.text == "k.alp"
        assert listing.words == ["k.alpha", "k.alps"]
        await pilot.press("down", "enter")  # Enter takes the highlighted one
        assert code_input.text == "k.alpha"
        assert not listing.is_open
        await pilot.press("enter")  # and Enter again runs it
        await until(pilot, lambda: lines(app)[-1:] == ["1"])
        await ready(pilot, app)
        await pilot.press(*"k.a", "tab")
        assert listing.is_open
        await pilot.press(*"mb")
        await pilot.pause()
        assert not listing.is_open or listing.words == ["k.amber"]
        await pilot.press("enter")  # nothing highlighted: Enter runs what is typed
        await until(pilot, lambda: "AttributeError" in shown(app))
        assert not listing.is_open

    drive(make_app(tmp_path, runtime), steps)


def test_backspace_and_block_ends_go_back_one_indent_level(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        code_input = app.query_one(CodeInput)
        await pilot.press(*"def f(x):", "enter", *"if x:", "enter")
        assert code_input.text == "def f(x):\n    if x:\n        "
        await pilot.press("backspace")  # one level, not one space
        assert code_input.text == "def f(x):\n    if x:\n    "
        await pilot.press("tab", *"return 1", "enter")
        # After return the block is over: the next line is one level back.
        assert code_input.text.endswith("        return 1\n    ")
        await pilot.press(*"raise ValueError(x)", "enter")
        assert code_input.text.endswith("    raise ValueError(x)\n")
        await pilot.press("enter")
        await ready(pilot, app)
        await run(pilot, app, "f(1)")
        assert lines(app)[-1] == "1"

    drive(make_app(tmp_path), steps)


def test_history_suggests_greyed_and_right_takes_it_and_brackets_match(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        code_input = app.query_one(CodeInput)
        await run(pilot, app, "print('suggested', (1 + 2))")
        await pilot.press(*"print('s")
        assert code_input.suggestion == "uggested', (1 + 2))"
        await pilot.press("right")
        assert code_input.text == "print('suggested', (1 + 2))"
        assert code_input.suggestion == ""
        # The cursor on a bracket: its partner is highlighted.
        code_input.move_cursor((0, 19))
        await pilot.pause()
        assert code_input.document.get_line(0)[19] == "("
        assert code_input.matching_bracket_location == (0, 25)

    drive(make_app(tmp_path), steps)


def test_ctrl_l_clears_and_ctrl_f_finds_a_line_in_the_scrollback(built, tmp_path):

    from pylon_shell.tui.screens.search import SearchScreen
    from pylon_shell.tui.widgets.scrollback import Scrollback

    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "x = 6 * 7")
        await run(pilot, app, "print(*[f'row {i}' for i in range(80)], sep=chr(10))")
        await ready(pilot, app)
        await run(pilot, app, "print('needle', x)")
        await pilot.press("ctrl+f")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"row 12")
        assert app.screen.query_one("#search-count").render().plain == "1 line"
        await pilot.press("enter")
        assert not isinstance(app.screen, SearchScreen)
        scrollback = app.query_one(Scrollback)
        await pilot.pause()
        assert scrollback.lines[int(scrollback.scroll_y)].text.startswith("row 12")
        assert app.query_one(CodeInput).has_focus  # back to typing
        await pilot.press("ctrl+f", *"nothing like this", "enter")
        assert not isinstance(app.screen, SearchScreen)
        await pilot.press("ctrl+l")  # cleared; the session goes on
        await pilot.pause()
        assert lines(app) == []
        await run(pilot, app, "print(x)")
        assert lines(app) == [">>> print(x)", "42"]

    drive(make_app(tmp_path), steps)


def test_copy_of_the_last_output_and_of_a_selection(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "print('one'); print('two')")
        app.action_copy_last_output()
        assert app.clipboard == "one\ntwo\n"
        await run(pilot, app, "1 / 0")
        app.action_copy_last_output()  # a traceback is output too
        assert "ZeroDivisionError" in app.clipboard
        code_input = app.query_one(CodeInput)
        await pilot.press(*"selected words")
        code_input.select_all()
        await pilot.press("ctrl+c")  # nothing runs: Ctrl+C copies the selection
        assert app.clipboard == "selected words"
        assert code_input.text == "selected words"
        code_input.move_cursor(code_input.document.end)
        await pilot.press("ctrl+c")  # no selection: it clears the input, as before
        assert code_input.text == ""

    drive(make_app(tmp_path), steps)


def test_the_session_saves_as_a_py_file_that_runs(built, tmp_path, monkeypatch):
    import subprocess
    import sys

    from pylon_shell.tui.screens.save_session import SaveSessionScreen

    monkeypatch.chdir(tmp_path)
    package_file = Path(pylon_shell.__file__)
    before = package_file.read_bytes()

    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "x = 40")
        await run(pilot, app, "undefined_name")  # raised: kept as a comment
        await pilot.press(*"def f(y):", "enter", *"return x + y", "enter", "enter")
        await ready(pilot, app)
        await run(pilot, app, "print(f(2))")
        await run(pilot, app, ":save-session out.py")
        # The note as written (on screen a path this long wraps where the width says).
        written = " ".join(app.query_one(Scrollback).plain())
        assert f"saved 4 inputs to {tmp_path / 'out.py'}" in written
        await run(pilot, app, f":save-session {package_file}")
        assert "is inside the installed pylon package and is never written" in shown(app)
        await run(pilot, app, ":save-session")
        assert "pylon: save the session to which file?" in shown(app)
        # The palette's command asks for the file.
        app.action_save_session()
        await pilot.pause()
        assert isinstance(app.screen, SaveSessionScreen)
        await pilot.press(*["backspace"] * 12, *"again.py", "enter")
        await until(pilot, lambda: "again.py" in shown(app))

    drive(make_app(tmp_path), steps)
    assert package_file.read_bytes() == before
    saved = (tmp_path / "out.py").read_text()
    assert "x = 40\n" in saved and "# undefined_name" in saved
    ran = subprocess.run([sys.executable, str(tmp_path / "out.py")], capture_output=True, text=True)
    assert ran.stdout == "42\n", ran.stderr
    assert (tmp_path / "again.py").read_text() == saved


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_module_names_complete_after_import_and_from(built, tmp_path, runtime):
    async def steps(pilot, app: PylonApp) -> None:
        code_input = app.query_one(CodeInput)
        await pilot.press(*"import duck", "tab")  # a cap's module
        assert code_input.text == "import duckdb"
        code_input.clear()
        await pilot.press(*"import sys, sqli", "tab")
        assert code_input.text == "import sys, sqlite3"
        code_input.clear()
        if runtime == "cpython":  # the stdlib's own, found without importing them
            await pilot.press(*"from xml.d", "tab")
            assert code_input.text == "from xml.dom"
            code_input.clear()
            await pilot.press(*"import js", "tab")
            assert code_input.text == "import json"
            code_input.clear()
            await run(pilot, app, "import sys; print('xml.dom' in sys.modules)")
            assert lines(app)[-1] == "False"
            # A module written now is found at once (the list follows its directory).
            await run(pilot, app, "sys.path.insert(0, '/tmp'); open('/tmp/mine_a.py', 'w').close()")
            await pilot.press(*"import mine_", "tab")
            assert code_input.text == "import mine_a"
            code_input.clear()
            await run(pilot, app, "open('/tmp/mine_b.py', 'w').close()")
            await pilot.press(*"import mine_", "tab")
            assert app.query_one(CompletionList).words == ["mine_a", "mine_b"]

    drive(make_app(tmp_path, runtime), steps)


def test_the_completion_list_in_a_real_terminal(built, tmp_path):
    """Down and Enter typed at once: Enter once ran the code before Down had
    moved in the list (a binding runs only after the key bubbles up)."""
    from tmux import Terminal

    term = Terminal([], width=120, height=36, env={"PYLON_DATA_DIR": str(tmp_path)})

    def listed(word: str) -> bool:  # a row of the list: at the left edge, outside every box
        return any(line.startswith(f" {word} ") for line in term.screen().splitlines())

    def wait_listed(word: str, shown: bool = True) -> None:
        deadline = time.monotonic() + 30
        while listed(word) != shown:
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.1)

    try:
        term.wait_for("in wasmtime", timeout=60)
        # Completion asks the guest, which answers once the input has run: wait
        # for its output, not its echo (on a loaded machine Tab came too soon).
        term.type("k = type('K', (), {})(); k.alpha = 1; k.alps = 2; print('ready')")
        term.send("Enter")
        term.wait_for("│ready")
        term.type("k.a")
        term.send("Tab")
        wait_listed("k.alps")  # the list, above the input
        term.send("Down", "Enter")
        term.wait_for("│ k.alpha ")
        assert not listed("k.alps")  # the list is gone
        term.send("Enter")
        term.wait_for("│1 ")  # k.alpha ran
        term.type("k.a")
        term.send("Tab")
        wait_listed("k.alps")
        term.send("Escape")
        wait_listed("k.alps", shown=False)
        term.type("s")  # Esc closed it (Tab put in "k.alp"); keys still reach the input
        term.wait_for("│ k.alps ")
    finally:
        term.close()


def test_completions_and_search_matches_show_guest_text_as_it_is(built, tmp_path):
    from pylon_shell.tui.screens.search import SearchScreen

    async def steps(pilot, app: PylonApp) -> None:
        listing = app.query_one(CompletionList)
        await run(pilot, app, "k = type('K', (), {})()")
        await run(pilot, app, "setattr(k, '[bold]x', 1); setattr(k, 'y[/oops]', 2)")
        await pilot.press(*"k.", "tab")
        await pilot.pause()
        assert listing.words == ["k.[bold]x", "k.y[/oops]"]
        rendered = [str(listing.get_option_at_index(i).prompt) for i in range(len(listing.words))]
        assert rendered == listing.words
        await pilot.press("escape")
        await run(pilot, app, "print('[/unbalanced] [red]x')")
        await pilot.press("ctrl+f", *"unbalanced")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        assert app.screen.query_one("#search-count").render().plain == "2 lines"

    drive(make_app(tmp_path), steps)
