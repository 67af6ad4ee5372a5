"""What the screen looks like at 80x24 and 140 columns, in both themes, and
the F4 view's Ctrl+S (issue 15): old lines rewrap instead of being cut, the
newest line stays in view, a long input is echoed whole, the Caps details
and the footer's F2-F4 fit, a theme switch recolours what is already shown."""

from __future__ import annotations

import re

from rich.segment import Segment
from test_tui import drive, lines, make_app, run, shown
from textual.widgets import Label

from pylon_shell.tui.app import PylonApp
from pylon_shell.tui.screens.permission import PermissionScreen
from pylon_shell.tui.screens.plan import PlanScreen
from pylon_shell.tui.widgets.caps_panel import describe
from pylon_shell.tui.widgets.scrollback import Scrollback

LONG = "print('" + "a long line of words, " * 8 + "end')"


def squeezed(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_at_80x24_the_newest_line_shows_and_old_lines_rewrap_on_resize(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        scrollback = app.query_one(Scrollback)
        await run(pilot, app, LONG)
        for batch in range(3):
            await pilot.press(*f"for i in range(12): print('batch {batch}', i)", "enter")
            await run(pilot, app, "")  # the empty line that ends the block
        await pilot.pause(0.2)
        assert scrollback.scroll_y == scrollback.max_scroll_y  # at the end, not old text
        assert lines(app)[-1] == "batch 2 11"
        width = scrollback.scrollable_content_region.width
        assert all(len(line) <= width for line in lines(app))
        whole = squeezed(" ".join(lines(app)))
        assert squeezed(LONG) in whole  # the echo wraps; nothing is cut with "…"
        await pilot.resize_terminal(120, 30)
        await pilot.pause(0.3)
        wider = scrollback.scrollable_content_region.width
        assert wider > width
        # Drawn again at the new width: the long output takes fewer, longer lines.
        out = [line for line in lines(app) if "a long line of words" in line]
        assert max(len(line) for line in out) > width
        assert squeezed(LONG) in squeezed(" ".join(lines(app)))
        assert scrollback.scroll_y == scrollback.max_scroll_y
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert all(len(line) <= width for line in lines(app))  # rewrapped, not cut

    drive(make_app(tmp_path), steps, size=(80, 24))


def test_at_80x24_the_caps_details_are_whole_and_the_footer_keeps_f2_to_f4(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        caps = app.query_one("#caps")
        for label in app.query(".cap-label"):
            switch = label.parent.query_one("Checkbox")
            cap = switch.id.removeprefix("cap-")
            text = str(label.render())
            assert text == describe(cap, "cpython", {}), cap  # not cut to "wasi ·"
            assert label.region.right <= caps.region.right
            # Every character has a cell: the height is what wrapping needs.
            assert label.size.width * label.size.height >= len(text), cap
        keys = {key.key: key for key in app.query("FooterKey")}
        for key in ("f2", "f3", "f4"):
            assert key in keys, key
            region = keys[key].region
            assert region.width > 0 and region.right <= 80, key

    drive(make_app(tmp_path), steps, size=(80, 24))


def test_at_140_columns_a_long_input_is_echoed_whole_and_the_prompt_wraps(built, tmp_path):
    code = "x = ['" + "-".join(f"item{i}" for i in range(40)) + "']"

    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, code)
        assert "…" not in shown(app)
        assert squeezed(code) in squeezed(shown(app))
        for label in app.query(".cap-label"):
            text = str(label.render())
            assert label.size.width * label.size.height >= len(text)
        target = "https://" + "very-long-host-name." * 8 + "example:443"
        app.push_screen(PermissionScreen("tls", "connect", target))
        await pilot.pause(0.2)
        for selector in ("#permission-title", "#permission-target"):
            label = app.screen.query_one(selector, Label)
            dialog = app.screen.query_one("#permission")
            assert label.region.right <= dialog.region.right, selector
            text = str(label.render())
            assert label.size.width * label.size.height >= len(text), selector
        assert "which this plan does not grant." in str(
            app.screen.query_one("#permission-title", Label).render()
        )

    drive(make_app(tmp_path), steps, size=(140, 45))


def _colours(strip_segments: list[Segment]) -> list[tuple[int, int, int]]:
    found = []
    for segment in strip_segments:
        colour = segment.style.color if segment.style else None
        if colour is not None and segment.text.strip():
            found.append(colour.get_truecolor())
    return found


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = rgb
    return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255


def test_a_theme_switch_recolours_the_scrollback_already_shown(built, tmp_path):
    async def steps(pilot, app: PylonApp) -> None:
        await run(pilot, app, "name = 'a string' + str(42)")
        scrollback = app.query_one(Scrollback)

        def echo_colours() -> list[tuple[int, int, int]]:
            echo = next(s for s in scrollback.lines if "name" in s.text)
            return _colours(list(echo))

        dark = echo_colours()
        assert max(_luminance(c) for c in dark) > 0.8  # monokai: light code on dark
        app.theme = "pylon-light"  # what the palette's theme command sets
        await pilot.pause(0.3)
        light = echo_colours()
        assert light != dark
        # No white on near-white: every coloured character is dark enough to read.
        assert max(_luminance(c) for c in light) < 0.75, light
        app.theme = "pylon-dark"
        await pilot.pause(0.3)
        assert echo_colours() == dark

    drive(make_app(tmp_path), steps)


def test_ctrl_s_in_the_plan_view_saves_here_and_says_where(built, tmp_path, monkeypatch):
    from pylon_shell.plan import shipped_dir

    monkeypatch.chdir(tmp_path)
    before = (shipped_dir() / "default.json").read_bytes()
    target = tmp_path / "default.json"

    async def steps(pilot, app: PylonApp) -> None:
        app.session.grants.grant("crypto")  # (its switch is scrolled out of sight at 80x24)
        await pilot.pause()
        await pilot.press("f4")
        assert isinstance(app.screen, PlanScreen)
        title = app.screen.query_one("#plan-title", Label)
        assert "Ctrl+S saves it" in str(title.render())
        assert str(target) in str(title.render())
        # All of it on screen: it wraps in the view rather than being cut.
        assert title.size.width * title.size.height >= len(str(title.render()))
        assert title.region.right <= app.screen.query_one("#plan-view").region.right
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, PlanScreen)  # still open, and it says where
        assert f"saved the plan to {target}" in str(title.render())
        assert "unsaved" not in app.sub_title
        await pilot.press("escape")
        assert squeezed(f"saved the plan to {target}") in squeezed(shown(app))

    drive(make_app(tmp_path), steps, size=(80, 24))
    assert '"crypto"' in target.read_text()
    assert (shipped_dir() / "default.json").read_bytes() == before  # the package is untouched
