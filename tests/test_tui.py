"""The TUI with Textual's pilot, on the real runtimes, and once in a real terminal."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from conftest import run_pylon
from textual.widgets import Checkbox, Input, Label, Static
from tmux import Terminal

from pylon_shell.plan import shipped
from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.screens.help import HelpScreen
from pylon_shell.tui.screens.permission import PermissionScreen
from pylon_shell.tui.screens.plan import PlanScreen
from pylon_shell.tui.widgets.code_input import CodeInput
from pylon_shell.tui.widgets.imports_pane import ImportsPane
from pylon_shell.tui.widgets.scrollback import Scrollback

SIZE = (120, 36)


def lines(app: PylonApp) -> list[str]:
    return [line.text.rstrip() for line in app.query_one(Scrollback).lines]


def shown(app: PylonApp) -> str:
    """The scrollback as one line of text (long lines wrap on screen)."""
    return " ".join(lines(app))


def imports(app: PylonApp) -> list[tuple[str, ...]]:
    return app.query_one(ImportsPane).rows()


async def until(pilot: object, check: Callable[[], bool], timeout: float = 30) -> None:
    """Wait for the guest (on its worker thread) to get there."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError("the TUI never got there")
        await pilot.pause(0.05)  # type: ignore[attr-defined]


async def ready(pilot: object, app: PylonApp) -> None:
    await until(pilot, lambda: app.query_one(CodeInput).is_complete is not None)


async def run(pilot: object, app: PylonApp, code: str) -> None:
    """Type `code` and Enter, and wait until it has run."""
    before = lines(app)
    await pilot.press(*code, "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: lines(app) != before)  # the echo (the count may be at its cap)
    await ready(pilot, app)


def make_app(tmp_path: Path, runtime: str = "cpython", prompt: bool = False) -> PylonApp:
    plan = shipped("default").with_runtime(runtime)
    return PylonApp(plan, prompt=prompt, history=tmp_path / "history")


def drive(
    app: PylonApp, steps: Callable[[Any, PylonApp], Awaitable[None]], size: tuple[int, int] = SIZE
) -> PylonApp:
    """Run the app headless until it is ready, then the test's steps."""

    async def scenario() -> None:
        async with app.run_test(size=size) as pilot:
            await ready(pilot, app)
            await steps(pilot, app)

    asyncio.run(scenario())
    return app


def test_typed_code_runs_and_its_output_shows(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        assert "CPython 3.14" in app.title
        await run(pilot, app, "print(6 * 7)")
        await run(pilot, app, "1 / 0")
        shown = lines(app)
        assert ">>> print(6 * 7)" in shown and "42" in shown
        assert "ZeroDivisionError: division by zero" in shown

    drive(make_app(tmp_path), steps)


def test_blocks_continue_history_recalls_and_tab_completes(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        code_input = app.query_one(CodeInput)
        await pilot.press(*"def f(x):", "enter")
        assert code_input.text == "def f(x):\n    "  # the block goes on
        await pilot.press(*"return x * 2", "enter", "enter")
        await ready(pilot, app)
        await run(pilot, app, "f(21)")
        assert "42" in lines(app)
        await pilot.press("up")
        assert code_input.text == "f(21)"
        await pilot.press("up")
        assert code_input.text == "def f(x):\n    return x * 2"
        code_input.clear()
        await pilot.press(*"imp", "tab")
        assert code_input.text == "import "  # as the python REPL completes keywords

    drive(make_app(tmp_path), steps)
    # History outlives the session, in the line REPL's format.
    assert "+f(21)" in (tmp_path / "history").read_text()


def test_a_cap_switched_off_denies_the_next_import_and_the_pane_shows_it(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import duckdb")
        await pilot.click("#cap-sqlite")
        assert not app.session.grants.is_granted("sqlite")
        assert "unsaved changes" in app.sub_title
        await pilot.press("escape")  # back to the input
        await run(pilot, app, "import sqlite3")
        assert (
            "import of sqlite3 needs the sqlite cap, which this plan does not grant; "
            "grant it with the sqlite switch in the Caps panel (F2)"  # not the CLI's --cap
        ) in shown(app)
        rows = imports(app)
        assert rows[0][:3] == ("granted", "duckdb", "duckdb")
        assert ("denied", "sqlite", "sqlite3") in [row[:3] for row in rows]

    drive(make_app(tmp_path), steps)


def test_the_prompt_lets_a_denied_call_go_on_without_a_restart(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import duckdb")
        app.session.grants.revoke("duckdb")
        await pilot.press(*"duckdb.connect().sql('select 41 + 1').fetchall()", "enter")
        await until(pilot, lambda: isinstance(app.screen, PermissionScreen))
        await pilot.press("o")  # allow once
        await ready(pilot, app)
        assert "[(42,)]" in lines(app)
        assert not app.session.grants.is_granted("duckdb")  # once is not a grant
        assert ("granted once", "duckdb", "connect :memory:") in [row[:3] for row in imports(app)]
        await pilot.press(*"duckdb.connect()", "enter")
        await until(pilot, lambda: isinstance(app.screen, PermissionScreen))
        await pilot.press("d")
        await ready(pilot, app)
        assert "the duckdb cap is not granted" in shown(app)

    drive(make_app(tmp_path, prompt=True), steps)


def test_ctrl_c_interrupts_and_the_runtime_switch_restarts_on_micropython(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press(*"while True: pass", "enter", "enter")
        await pilot.pause(0.5)
        await pilot.press("ctrl+c")
        await ready(pilot, app)
        assert "KeyboardInterrupt" in lines(app)
        await pilot.press("ctrl+t")
        await until(pilot, lambda: "MicroPython" in app.title)
        await ready(pilot, app)
        await run(pilot, app, "import sys; print(sys.implementation.name)")
        assert "micropython" in lines(app)
        assert "switched to MicroPython with the same plan" in shown(app)

    drive(make_app(tmp_path), steps)


def test_ctrl_c_keeps_the_micropython_session_and_a_trap_replays_it(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        assert "MicroPython" in app.title
        await run(pilot, app, "x = 41")
        await pilot.press(*"while True: pass", "enter", "enter")
        await pilot.pause(0.5)
        await pilot.press("ctrl+c")
        await until(pilot, lambda: "KeyboardInterrupt" in lines(app))
        await ready(pilot, app)
        await run(pilot, app, "print(x + 1)")
        assert "42" in lines(app)
        assert "discarded" not in shown(app)
        # A C loop never checks for Ctrl+C: the interpreter is trapped, and the
        # inputs that had no effect outside it are replayed into a fresh one, up
        # to the interrupted loop (where it stopped cannot be reproduced).
        await pilot.press(*"sum(range(10**9))", "enter")
        await pilot.pause(0.5)
        await pilot.press("ctrl+c")
        note = (
            "replayed 1 earlier input into a fresh session "
            "(not input 2 or later: it was interrupted)"
        )
        await until(pilot, lambda: note in shown(app))
        await ready(pilot, app)
        await run(pilot, app, "print(x * 3)")
        assert "123" in lines(app)

    drive(make_app(tmp_path, runtime="micropython"), steps)


def test_saving_writes_the_plan_as_toggled(built, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    # As if loaded from the user's own mine.json (not a plan pylon ships).
    plan = replace(shipped("default"), source=str(tmp_path / "mine.json"), shipped=False)

    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#cap-crypto")
        await pilot.press("ctrl+s")
        assert "unsaved" not in app.sub_title

    drive(PylonApp(plan, prompt=False, history=tmp_path / "history"), steps)
    saved = (tmp_path / "mine.json").read_text()
    assert '"crypto"' in saved


def test_ctrl_s_on_a_shipped_plan_writes_here_and_says_where(built, tmp_path, monkeypatch):
    """Ctrl+S once wrote the toggles into the package's plans/default.json."""
    from pylon_shell.plan import load, shipped_dir

    monkeypatch.chdir(tmp_path)
    shipped_file = shipped_dir() / "default.json"
    before = shipped_file.read_bytes()

    target = tmp_path / "default.json"

    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#cap-crypto")
        await pilot.press("ctrl+s")
        assert "unsaved" not in app.sub_title
        # The note as written (on screen a path this long wraps where the width says).
        assert f"saved the plan to {target}" in app.query_one(Scrollback).plain()

    for plan in (shipped("default"), load(shipped_file)):
        target.unlink(missing_ok=True)
        drive(PylonApp(plan, prompt=False, history=tmp_path / "history"), steps)
        assert shipped_file.read_bytes() == before
        assert '"crypto"' in target.read_text()


def test_pylon_opens_the_tui_in_a_real_terminal(built, tmp_path):
    term = Terminal([], width=120, height=36, env={"PYLON_DATA_DIR": str(tmp_path)})
    try:
        term.wait_for("in wasmtime", timeout=60)
        term.type("import sqlite3")
        term.send("Enter")
        screen = term.wait_for("sqlite3.dbapi2", timeout=30)
        assert ">>> import sqlite3" in screen
        row = next(line for line in screen.splitlines() if " sqlite3 " in line and "│ " in line)
        assert row.split("││")[-1].split()[:3] == ["granted", "sqlite", "sqlite3"]
        term.send("C-d")
        deadline = time.monotonic() + 10
        while term.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not term.alive()  # Ctrl+D quits
    finally:
        term.close()


@pytest.fixture(autouse=True)
def _no_stray_history(monkeypatch, tmp_path):
    monkeypatch.setenv("PYLON_DATA_DIR", str(tmp_path / "data"))


def test_f4_shows_the_plan_as_toggled_and_f1_the_help(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.click("#cap-compression")
        await pilot.press("f4")
        assert isinstance(app.screen, PlanScreen)
        assert '"compression"' in app.screen.text
        await pilot.press("escape")
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)

    drive(make_app(tmp_path), steps)


def test_the_imports_filter_narrows_the_rows_and_a_row_shows_its_chain(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import sqlite3, duckdb")
        pane = app.query_one(ImportsPane)
        assert {row[2] for row in pane.rows()} >= {"sqlite3", "_sqlite3", "duckdb"}
        await pilot.click("#imports-filter")
        await pilot.press(*"duck")
        assert [row[2] for row in pane.rows()] == ["duckdb"]
        pane.query_one("#imports-filter", Input).value = "_sqlite3"
        pane.query_one("#imports-table").focus()
        await pilot.pause(0.1)
        detail = str(pane.query_one("#import-detail", Static).render())
        assert detail.startswith("_sqlite3 ← sqlite3.dbapi2 ← sqlite3 ← __main__")

    drive(make_app(tmp_path), steps)


def test_loading_a_plan_starts_over_with_its_grants(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "x = 1")
        await pilot.press("ctrl+o")
        await pilot.press(*"minimal", "enter")
        await until(pilot, lambda: "plan minimal" in app.sub_title)
        await ready(pilot, app)
        assert app.session.grants.granted == frozenset()
        assert not app.query_one("#cap-sqlite", Checkbox).value
        await run(pilot, app, "import sqlite3")
        assert "needs the sqlite cap" in shown(app)
        await pilot.press("ctrl+o")
        await pilot.press(*"no-such-plan.json", "enter")
        await until(pilot, lambda: "no-such-plan.json" in shown(app))
        assert "plan minimal" in app.sub_title  # a bad file changes nothing

    drive(make_app(tmp_path), steps)


def test_ctrl_o_and_plan_find_a_shipped_plan_by_one_rule(built, tmp_path, monkeypatch):
    """A ./data directory hid the shipped `data` plan from Ctrl+O while --plan
    data found it; a directory never hides it now, in either."""
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)

    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press("ctrl+o")
        await pilot.press(*"data", "enter")
        await until(pilot, lambda: "plan data" in app.sub_title)
        await ready(pilot, app)
        assert "duckdb" in app.session.grants.granted

    drive(make_app(tmp_path), steps)
    result = run_pylon("--plan", "data", "-c", "print('ran')", cwd=tmp_path)
    assert result.stdout == "ran\n", result.stderr


def test_a_long_permission_request_and_the_load_title_wrap_instead_of_being_cut(built, tmp_path):
    target = "https://" + "very-long-host-name." * 8 + "example:443 which this plan does not grant"

    async def steps(pilot, app: PylonApp) -> None:
        app.push_screen(PermissionScreen("tls", "connect", target))
        await pilot.pause(0.2)
        label = app.screen.query_one("#permission-target", Label)
        dialog = app.screen.query_one("#permission")
        assert label.region.width <= dialog.region.width  # inside the dialog
        assert label.region.height >= 2  # wrapped, all of it shown
        assert str(label.render()).replace("\n", "").replace(" ", "") == (
            f"connect {target}".replace(" ", "")
        )
        await pilot.press("d")
        await pilot.press("ctrl+o")
        await pilot.pause(0.2)
        title = app.screen.query(Label).first()
        assert title.region.width <= app.screen.query_one("#load-plan").region.width
        assert title.region.height >= 2  # its 73 characters wrap in the 70-column dialog

    drive(make_app(tmp_path), steps, size=(80, 24))


def test_ctrl_r_searches_history_newest_first(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        for code in ("alpha = 1", "beta = 2", "alpha_two = 3"):
            await run(pilot, app, code)
        code_input = app.query_one(CodeInput)
        await pilot.press(*"alpha", "ctrl+r")
        assert code_input.text == "alpha_two = 3"
        await pilot.press("ctrl+r")
        assert code_input.text == "alpha = 1"
        await pilot.press("enter")
        await ready(pilot, app)
        assert shown(app).endswith(">>> alpha = 1")

    drive(make_app(tmp_path), steps)


def test_the_layout_fits_80_by_24(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "print('fits')")
        for selector in ("#scrollback", "#input", "#caps", "#imports"):
            region = app.query_one(selector).region
            assert region.width > 10 and region.height >= 3, selector
            assert region.right <= 80 and region.bottom <= 24, selector
        assert "fits" in lines(app)

    drive(make_app(tmp_path), steps, size=(80, 24))


def test_exit_quits_with_its_status(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press(*"exit(3)", "enter")
        await until(pilot, lambda: app.return_value is not None)

    app = drive(make_app(tmp_path), steps)
    assert app.return_value == 3


def test_a_flood_of_output_keeps_the_tui_alive_and_bounded(built, tmp_path):
    from pylon_shell.tui.widgets.scrollback import MAX_LINES

    async def steps(pilot, app: PylonApp) -> None:
        await pilot.press(*"for i in range(100_000): print(i)", "enter", "enter")
        await pilot.pause(0.1)
        await ready(pilot, app)
        await run(pilot, app, "print('after')")
        shown_lines = lines(app)
        assert len(shown_lines) <= MAX_LINES
        assert shown_lines[-1] == "after"
        assert "99999" in shown_lines

    drive(make_app(tmp_path), steps)


# -- input() as an inline prompt (issue 14) -----------------------------------


async def _prompted(pilot: object, app: PylonApp, code: str) -> None:
    """Type `code` and Enter; wait until the guest waits at its inline prompt."""
    from pylon_shell.tui.widgets.stdin_prompt import StdinLine

    await pilot.press(*code, "enter")  # type: ignore[attr-defined]
    await until(pilot, lambda: bool(app.query(StdinLine)) and app.query_one(StdinLine).has_focus)


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_input_asks_inline_and_the_answer_reaches_the_guest(built, tmp_path, runtime):
    async def steps(pilot, app: PylonApp) -> None:
        from pylon_shell.tui.widgets.stdin_prompt import StdinPrompt

        await _prompted(pilot, app, "name = input('name? ')")
        assert app.query_one("#stdin-label", Static).render().plain == "name? "
        await pilot.press(*"world", "enter")
        await ready(pilot, app)
        assert not app.query(StdinPrompt)
        await run(pilot, app, "print('hello', name)")
        assert lines(app)[-3:] == ["name? world", ">>> print('hello', name)", "hello world"]

    drive(make_app(tmp_path, runtime), steps)


@pytest.mark.parametrize("runtime", ["cpython", "micropython"])
def test_ctrl_c_and_ctrl_d_at_the_prompt_raise_in_the_guest_and_keep_its_state(
    built, tmp_path, runtime
):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "x = 41")
        await _prompted(pilot, app, "input('a? ')")
        await pilot.press("ctrl+c")
        await ready(pilot, app)
        assert "KeyboardInterrupt" in shown(app)
        await _prompted(pilot, app, "input('b? ')")
        await pilot.press("ctrl+d")
        await ready(pilot, app)
        assert "EOFError" in shown(app)
        await run(pilot, app, "print(x + 1)")  # the same interpreter: nothing was discarded
        assert lines(app)[-1] == "42"
        assert "discarded" not in shown(app)

    drive(make_app(tmp_path, runtime), steps)


def test_sys_stdin_readline_asks_inline_too(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await _prompted(pilot, app, "import sys; line = sys.stdin.readline()")
        await pilot.press(*"abc", "enter")
        await ready(pilot, app)
        await run(pilot, app, "line")
        assert lines(app)[-1] == "'abc\\n'"

    drive(make_app(tmp_path), steps)
