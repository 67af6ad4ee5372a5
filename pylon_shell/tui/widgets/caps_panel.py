"""The Caps panel: a switch per cap, with its provider and enforcement. A
switch changes the live grants table, so the next import or call sees it.

A switch shows its state by a mark as well as by colour (✓ granted, a blank
box not), so it reads the same on a monochrome terminal or to a colour-blind
user. Up/Down move a cursor the panel keeps itself: five Down keys typed at
once move five rows, where asking the app which switch has focus would see
the same one five times (focus moves only after the key is handled). A click
toggles and hands the keyboard back to the input (`CapToggled.by_mouse`).
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.widgets import Checkbox, Static

from pylon_shell.caps.catalog import CAPS, choose_providers
from pylon_shell.caps.describe import short_digest


class CapToggled(Message):
    def __init__(self, cap: str, granted: bool, *, by_mouse: bool = False) -> None:
        super().__init__()
        self.cap = cap
        self.granted = granted
        #: Toggled by a click: the keyboard goes back to the input.
        self.by_mouse = by_mouse


class CapSwitch(Checkbox):
    """A cap's switch: ✓ when granted, an empty box when not."""

    def __init__(self, label: str, value: bool, *, id: str, disabled: bool) -> None:
        super().__init__(label, value, id=id, disabled=disabled)
        self.clicked = False

    @property
    def _button(self) -> Content:
        button_style = self.get_visual_style("toggle--button")
        return Content.assemble(
            ("[", button_style), ("✓" if self.value else " ", button_style), ("]", button_style)
        )

    async def _on_click(self, event: events.Click) -> None:
        # Textual runs ToggleButton's own handler (the toggle) after this one.
        self.clicked = True


def describe(cap_name: str, runtime: str, providers: dict[str, str]) -> str:
    """A cap's line under its switch: provider kind, enforcement, digest."""
    cap = CAPS[cap_name]
    chosen = choose_providers(runtime, providers)
    provider = cap.provider(chosen[cap.name]) if cap.name in chosen else None
    if provider is None:
        return f"not on {runtime}"
    detail = f"{provider.kind} · {provider.enforcement}"
    digest = short_digest(cap, provider)
    if digest:
        detail += f" · {digest}"
    if not cap.live:
        detail += " · at restart"
    return detail


class CapsPanel(VerticalScroll):
    BINDINGS = [
        Binding("down", "move(1)", "Next cap", show=False),
        Binding("up", "move(-1)", "Previous cap", show=False),
    ]

    def __init__(
        self,
        runtime: str,
        granted: frozenset[str],
        providers: dict[str, str],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.border_title = "Caps"
        self._runtime = runtime
        self._granted = granted
        self._providers = providers
        #: The row the keyboard is on (an index into the enabled switches).
        self._cursor = 0
        #: The switch the last move asked to focus, until its focus arrives.
        self._moving_to: CapSwitch | None = None

    def compose(self) -> ComposeResult:
        chosen = choose_providers(self._runtime, self._providers)
        for cap in CAPS.values():
            with Vertical(classes="cap-row"):
                yield CapSwitch(
                    cap.name,
                    cap.name in self._granted,
                    id=f"cap-{cap.name}",
                    disabled=cap.name not in chosen,
                )
                yield Static(
                    describe(cap.name, self._runtime, self._providers),
                    classes="cap-label",
                    markup=False,
                )

    async def follow(
        self, runtime: str, granted: frozenset[str], providers: dict[str, str]
    ) -> None:
        """Redraw for another runtime or plan (providers differ per runtime)."""
        self._runtime, self._granted, self._providers = runtime, granted, providers
        await self.recompose()

    def switches(self) -> list[CapSwitch]:
        return [box for box in self.query(CapSwitch) if not box.disabled]

    def focus_first(self) -> None:
        """F2: the keyboard on the row it was on last."""
        boxes = self.switches()
        if boxes:
            self._cursor = min(self._cursor, len(boxes) - 1)
            boxes[self._cursor].focus()

    def action_move(self, step: int) -> None:
        boxes = self.switches()
        if not boxes:
            return
        self._cursor = (self._cursor + step) % len(boxes)
        target = boxes[self._cursor]
        # No focus event comes for the switch that has it already.
        self._moving_to = None if target is self.screen.focused else target
        target.focus()
        target.scroll_visible(animate=False)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # The focus of moves still on their way says nothing new; a click does.
        if self._moving_to is not None:
            if event.widget is self._moving_to:
                self._moving_to = None
            return
        boxes = self.switches()
        if event.widget in boxes:
            self._cursor = boxes.index(event.widget)

    def set_granted(self, cap: str, granted: bool) -> None:
        """Follow a change made elsewhere (a prompt, a command) without re-posting it."""
        box = self.query_one(f"#cap-{cap}", CapSwitch)
        if box.value != granted:
            with box.prevent(Checkbox.Changed):
                box.value = granted

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        box = event.checkbox
        by_mouse = isinstance(box, CapSwitch) and box.clicked
        if isinstance(box, CapSwitch):
            box.clicked = False
        cap = (box.id or "").removeprefix("cap-")
        self.post_message(CapToggled(cap, event.value, by_mouse=by_mouse))
