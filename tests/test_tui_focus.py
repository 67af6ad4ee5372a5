"""Where the keyboard goes: after a click on a cap switch or the scrollback,
typed code still reaches the input, and Esc always brings it back there
(issue 15). The Caps panel's cursor keeps up with keys typed at once."""

from __future__ import annotations

from test_tui import drive, make_app, ready, run, shown

from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.screens.help import HelpScreen
from pylon_shell.tui.screens.plan import PlanScreen
from pylon_shell.tui.widgets.caps_panel import CapSwitch
from pylon_shell.tui.widgets.code_input import CodeInput


def test_typed_code_after_clicking_a_cap_reaches_the_input_and_toggles_nothing(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#cap-crypto")
        assert app.session.grants.is_granted("crypto")  # the click toggled it
        await pilot.press(*"x = 1 + 2 ")  # a space, too: never the switch's toggle
        assert app.session.grants.is_granted("crypto")
        assert app.query_one(CodeInput).text == "x = 1 + 2 "
        assert isinstance(app.focused, CodeInput)

    drive(make_app(tmp_path), steps)


def test_typed_code_after_clicking_the_scrollback_reaches_the_input(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#scrollback")
        await pilot.press(*"print('after the click')", "enter")
        await ready(pilot, app)
        assert "after the click" in shown(app)

    drive(make_app(tmp_path), steps)


def test_letters_typed_in_the_caps_panel_go_to_the_input_and_space_still_toggles(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press("f2")
        assert isinstance(app.focused, CapSwitch)
        first = app.focused
        await pilot.press("space")  # F2 then Space: the panel's own toggle
        assert first.value == (first.id.removeprefix("cap-") in app.session.grants.granted)
        await pilot.press(*"abc")
        assert app.query_one(CodeInput).text == "abc"

    drive(make_app(tmp_path), steps)


def test_escape_returns_to_the_input_from_panes_and_screens(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        for key in ("f2", "f3"):
            await pilot.press(key)
            assert not isinstance(app.focused, CodeInput)
            await pilot.press("escape")
            assert isinstance(app.focused, CodeInput), key
        await pilot.press("f2", "f4")  # a screen opened from the Caps panel
        assert isinstance(app.screen, PlanScreen)
        await pilot.press("escape")
        assert isinstance(app.focused, CodeInput)
        await pilot.press("f3", "f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.focused, CodeInput)

    drive(make_app(tmp_path), steps)


def test_five_downs_at_once_move_five_rows_and_the_state_has_a_mark(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press("f2")
        switches = [s for s in app.query(CapSwitch) if not s.disabled]
        assert app.focused is switches[0]
        await pilot.press("down", "down", "down", "down", "down")
        await pilot.pause()
        assert app.focused is switches[5]
        await pilot.press("up", "up")
        await pilot.pause()
        assert app.focused is switches[3]
        # Not colour alone: the switch's text says it.
        for switch in switches:
            mark = switch.render().plain[:3]
            assert mark == ("[✓]" if switch.value else "[ ]"), switch.id

    drive(make_app(tmp_path), steps)


def test_a_run_after_the_focus_moved_still_runs(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#cap-compression")
        await run(pilot, app, "import zlib; print(zlib.crc32(b'a'))")
        assert "3904355907" in shown(app)

    drive(make_app(tmp_path), steps)


def test_keys_typed_before_a_prompt_opened_never_answer_it(built, tmp_path):
    """Code typed ahead while the guest ran ("s" allows for the session) goes
    to the input; only a key pressed once the prompt is up answers it."""
    from textual import events

    from pylon_shell.tui.screens.permission import PermissionScreen

    async def steps(pilot, app: PylonApp) -> None:
        decided: list[object] = []
        typed_before = [events.Key(key, key) for key in "sos"]
        screen = PermissionScreen("crypto", "derive", "pbkdf2", typed_ahead=app._typed_ahead)
        app._ask_on_screen(screen, decided.append)
        await pilot.pause()
        for key in typed_before:
            app.post_message(key)
        await pilot.pause()
        assert isinstance(app.screen, PermissionScreen) and not decided
        assert app.query_one(CodeInput).text == "sos"  # where they were typed
        await pilot.press("d")
        assert decided == ["deny"]

    drive(make_app(tmp_path), steps)
