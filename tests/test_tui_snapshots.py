"""Snapshots of the TUI's main screens (pytest-textual-snapshot): the start
screen, after an eval, the Imports pane with a denial, the why view, the F4
plan view and the help, at 80x24 and 140x45, in the dark and the light theme.

They run the real runtime. What would differ between two runs or machines is
fixed here, not on screen: the digests in the Caps panel and the plan (they
change with every build of the guest), the Imports pane's clock, and the
path a plan saves to. `pytest --snapshot-update` rewrites them after a
deliberate change of the screen; look at the report it writes first.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from test_tui import ready, run, until

from pylon_shell.plan import shipped
from pylon_shell.tui import app as app_module
from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.screens.plan import PlanScreen
from pylon_shell.tui.widgets import caps_panel, imports_pane
from pylon_shell.tui.widgets.code_input import CodeInput

SIZES = {"80x24": (80, 24), "140x45": (140, 45)}
THEMES = ("dark", "light")


class _MaskedPlanScreen(PlanScreen):
    """The plan view with its digests (32 numbers each) fixed."""

    def __init__(self, text: str, *args: object, **kwargs: object) -> None:
        masked = re.sub(r'"digest": \[[0-9 ,]+\]', '"digest": [0 0 0 0 0 0 0 0]', text)
        super().__init__(masked, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def _deterministic(monkeypatch):
    real_digest = caps_panel.short_digest
    monkeypatch.setattr(
        caps_panel, "short_digest", lambda cap, p: "0123abcd" if real_digest(cap, p) else None
    )
    monkeypatch.setattr(imports_pane, "clock", lambda at: "12:00:00")
    monkeypatch.setattr(PylonApp, "_plan_target", lambda self: Path("/home/you/default.json"))
    monkeypatch.setattr(app_module, "PlanScreen", _MaskedPlanScreen)


async def _start(pilot) -> None:
    await ready(pilot, pilot.app)
    # A steady cursor, drawn: a blinking one is caught on or off by chance.
    code_input = pilot.app.query_one(CodeInput)
    code_input.cursor_blink = False
    code_input.focus()
    await until(pilot, lambda: code_input.has_focus)
    code_input.refresh()


async def _eval(pilot) -> None:
    app = pilot.app
    await run(pilot, app, "squares = [n * n for n in range(8)]")
    await run(pilot, app, "squares")
    await run(pilot, app, "print('sum:', sum(squares))")
    await run(pilot, app, "1 / 0")


async def _imports(pilot) -> None:
    app = pilot.app
    await run(pilot, app, "import sqlite3, json")
    await run(pilot, app, "import lzma")  # compression is not granted: denied
    await pilot.press("f3")  # the table, its cursor on the newest (denied) row
    await pilot.pause(0.2)


async def _why(pilot) -> None:
    await _imports(pilot)
    await pilot.press("enter")


async def _plan(pilot) -> None:
    pilot.app.session.grants.grant("compression")
    await pilot.pause()
    await pilot.press("f4")


async def _help(pilot) -> None:
    await pilot.press("f1")


SCREENS = {
    "start": None,
    "eval": _eval,
    "imports": _imports,
    "why": _why,
    "plan": _plan,
    "help": _help,
}


@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", list(SIZES))
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen(built, tmp_path, snap_compare, screen: str, size: str, theme: str):
    app = PylonApp(shipped("default"), prompt=False, history=tmp_path / "history", theme=theme)
    steps = SCREENS[screen]

    async def run_before(pilot) -> None:
        await _start(pilot)
        if steps is not None:
            await steps(pilot)
        await pilot.pause(0.2)
        # TextArea caches a line without its cursor when it does not blink (the
        # cursor is not in the cache key): drawn again now, the cursor is there
        # or not by the input's focus alone, not by when a line was first drawn.
        code_input = app.query_one(CodeInput)
        code_input._line_cache.clear()
        code_input.refresh()
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
