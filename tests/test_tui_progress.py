"""A build the TUI's session needs on the way shows its progress in the TUI
(issue 15): the SQLite provider component, built on its first use, takes tens
of seconds, and the screen says what it is doing meanwhile."""

from __future__ import annotations

import threading

import pytest
from test_tui import drive, lines, make_app, ready, shown, until
from textual.widgets import Static

from pylon_shell import paths
from pylon_shell.plan import shipped
from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.progress import TuiProgress


def status(app: PylonApp) -> Static:
    return app.query_one("#build-status", Static)


def test_each_reported_step_shows_in_the_status_line_until_the_build_ends(built, tmp_path):
    """The reporter at its boundary: steps sent from another thread, as the builder does."""

    async def steps(pilot, app: PylonApp) -> None:
        assert not status(app).display  # nothing is being built
        reporter = TuiProgress(app)
        thread = threading.Thread(target=reporter.step, args=(1, 2, "building the thing"))
        thread.start()
        thread.join()
        await until(pilot, lambda: status(app).display)
        assert "[1/2] building the thing" in str(status(app).render())
        reporter.step(2, 2, "compiling the thing")
        await until(pilot, lambda: "[2/2] compiling the thing" in str(status(app).render()))
        reporter.finish("built the thing in 3 s")
        await until(pilot, lambda: not status(app).display)
        assert lines(app)[-1] == "built the thing in 3 s"

    drive(make_app(tmp_path), steps)


@pytest.fixture
def cache_without_sqlite_provider(built, tmp_path, monkeypatch):
    """A cache with the built runtimes but no SQLite provider: its first use builds it."""
    shared = paths.cache_dir()
    cache = tmp_path / "cache"
    (cache / "runtimes").mkdir(parents=True)
    for entry in (shared / "runtimes").iterdir():
        if entry.is_dir() and not entry.name.startswith("sqlite-provider-"):
            (cache / "runtimes" / entry.name).symlink_to(entry)
    if (shared / "packages").is_dir():
        (cache / "packages").symlink_to(shared / "packages")
    monkeypatch.setenv("PYLON_CACHE_DIR", str(cache))
    return cache


def test_the_sqlite_component_built_on_first_use_shows_progress(
    cache_without_sqlite_provider, tmp_path
):
    """The real build (tens of seconds), started by the guest's first sqlite3 call."""
    plan = shipped("default").with_provider("sqlite", "component")
    seen: list[str] = []

    async def steps(pilot, app: PylonApp) -> None:
        query = "sqlite3.connect(':memory:').execute('select 7 * 6').fetchall()"
        await pilot.press(*f"import sqlite3; print({query})", "enter")

        def building() -> bool:
            text = str(status(app).render())
            if status(app).display and text not in seen:
                seen.append(text)
            return "[2/2]" in text or "built the SQLite provider" in shown(app)

        await until(pilot, building, timeout=600)
        await until(pilot, lambda: "[(42,)]" in lines(app), timeout=120)
        await ready(pilot, app)
        assert not status(app).display

    drive(PylonApp(plan, prompt=False, history=tmp_path / "history"), steps)
    assert any("[1/2] building the SQLite provider component" in text for text in seen), seen
    assert list((cache_without_sqlite_provider / "runtimes").glob("sqlite-provider-*"))
