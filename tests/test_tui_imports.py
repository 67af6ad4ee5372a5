"""The Imports pane and its why view (issue 15): the verdict column stays in
view, one vocabulary (granted, denied, free) in the rows, the filter and the
detail, and a denied row explains itself and how to allow it."""

from __future__ import annotations

from test_tui import drive, imports, make_app, run, shown
from textual.widgets import DataTable, Static

from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.screens.why import WhyScreen
from pylon_shell.tui.widgets.imports_pane import ImportsPane

LONG_HOST = "a-very-long-host-name-for-the-verdict-test.example.com"


def detail(app: PylonApp) -> str:
    return str(app.query_one("#import-detail", Static).render())


def visible_rows(app: PylonApp) -> list[str]:
    """The table's rows as the screen shows them (what fits the pane)."""
    table = app.query_one("#imports-table", DataTable)
    return [
        table.render_line(y).text for y in range(1, min(table.row_count + 1, table.size.height))
    ]


async def select(pilot, app: PylonApp, what: str) -> None:
    """The cursor on the row whose "what" is `what`, and Enter."""
    table = app.query_one("#imports-table", DataTable)
    table.focus()
    index = [row[2] for row in imports(app)].index(what)
    table.move_cursor(row=index)
    await pilot.pause()
    await pilot.press("enter")
    await pilot.pause()


def test_a_long_denied_call_keeps_its_verdict_in_view_at_80_columns(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import socket")
        await run(pilot, app, f"socket.socket().connect(('{LONG_HOST}', 443))")
        await pilot.pause(0.2)
        rows = visible_rows(app)
        assert rows and all(
            row.strip().split()[0] in ("granted", "denied", "free") for row in rows
        ), rows
        assert any(row.strip().startswith("denied") for row in rows)
        assert "denied" in [row[0] for row in imports(app)]

    drive(make_app(tmp_path), steps, size=(80, 24))


def test_one_vocabulary_free_imports_and_a_filter_that_matches_it(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import ssl")  # tls is off: importing ssl needs no grant
        await run(pilot, app, "import lzma")  # compression is off: denied
        await run(pilot, app, "import json")  # the stdlib's own: free
        rows = [row[:3] for row in imports(app)]
        assert ("free", "tls", "ssl") in rows
        assert ("denied", "compression", "lzma") in rows
        assert ("free", "stdlib", "json") in rows
        assert not any("refused" in cell or "DENIED" in cell for row in rows for cell in row)
        pane = app.query_one(ImportsPane)
        await pilot.click("#imports-filter")
        await pilot.press(*"denied")
        assert [row[:3] for row in pane.rows()] == [("denied", "compression", "lzma")]
        pane.query_one("#imports-filter").value = "free"
        await pilot.pause()
        assert {row[0] for row in pane.rows()} == {"free"}

    drive(make_app(tmp_path), steps)


def test_sqlite_queries_never_leave_no_calls_yet(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import sqlite3")
        await run(pilot, app, "sqlite3.connect(':memory:').execute('select 1').fetchall()")
        assert "[(1,)]" in shown(app)
        table = app.query_one("#imports-table", DataTable)
        table.focus()
        table.move_cursor(row=[row[2] for row in imports(app)].index("sqlite3"))
        await pilot.pause()
        said = detail(app)
        assert said.startswith("sqlite3 ← __main__")
        assert "no calls yet" not in said
        assert "policy" in said  # the builtin SQLite runs inside the guest

    drive(make_app(tmp_path), steps)


def test_the_why_view_names_the_cap_the_missing_grant_the_keys_and_the_plan_change(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import lzma")
        assert "needs the compression cap" in shown(app)
        await select(pilot, app, "lzma")
        assert "Enter shows why" in detail(app)
        assert isinstance(app.screen, WhyScreen)
        text = app.screen.why.text()
        assert "denied: import of lzma" in text
        assert "missing: the compression cap is not granted" in text
        assert "F2" in text and ":grant compression" in text and "--cap compression" in text
        assert '"name": "compression"' in text and '"level": "required"' in text
        shown_text = " ".join(
            str(widget.render()) for widget in app.screen.query("#why Static, #why Label")
        )
        assert "the compression cap is not granted" in shown_text
        await pilot.press("g")  # grant it now, from the view
        assert app.session.grants.is_granted("compression")
        assert app.query_one("#cap-compression").value  # the Caps panel follows
        await pilot.press("escape")
        assert not isinstance(app.screen, WhyScreen)
        await run(pilot, app, "import lzma; print(len(lzma.compress(b'a')) > 0)")
        assert "True" in shown(app)

    drive(make_app(tmp_path), steps)


def test_the_why_view_of_a_denied_connect_names_the_host_in_the_plan_change(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import socket")
        await run(pilot, app, "socket.socket().connect(('example.com', 443))")
        denied = next(row for row in imports(app) if row[0] == "denied")
        await select(pilot, app, denied[2])
        assert isinstance(app.screen, WhyScreen)
        why = app.screen.why
        assert why.what == "connect example.com:443"
        assert f"the {why.cap} cap is not granted" == why.missing
        assert '"example.com:443"' in why.plan_change
        await pilot.press("g")
        assert app.session.grants.reaches(why.cap, "example.com:443")

    drive(make_app(tmp_path), steps)


def test_the_detail_of_a_boundary_cap_follows_its_calls_as_they_come(built, tmp_path):
    """MicroPython's sqlite3 goes through the component: the detail shown
    before the queries ran counts them afterwards, never "no calls yet"."""

    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "import sqlite3")
        table = app.query_one("#imports-table", DataTable)
        table.focus()
        table.move_cursor(row=[row[2] for row in imports(app)].index("sqlite3"))
        await pilot.pause()
        await run(pilot, app, "db = sqlite3.connect(':memory:')")
        await run(pilot, app, "print(db.execute('select 6 * 7').fetchall())")
        assert "[(42,)]" in shown(app)
        said = detail(app)
        assert said.startswith("sqlite3 ← __main__")
        assert "no calls yet" not in said
        assert " calls; last: " in said

    drive(make_app(tmp_path, runtime="micropython"), steps)
