"""The TUI's input as an editor (issue 15): the completion list, indentation,
history suggestions, bracket matching; on the real runtimes."""

from __future__ import annotations

import pytest
from test_tui import drive, lines, make_app, ready, run, shown, until

from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.widgets.code_input import CodeInput
from pylon_shell.tui.widgets.completions import CompletionList


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
