"""The Caps panel: a toggle per cap, with its provider and enforcement. A
switch changes the live grants table, so the next import or call sees it."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Checkbox, Static

from pylon_shell.caps.catalog import CAPS, choose_providers
from pylon_shell.caps.describe import short_digest


class CapToggled(Message):
    def __init__(self, cap: str, granted: bool) -> None:
        super().__init__()
        self.cap = cap
        self.granted = granted


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

    def compose(self) -> ComposeResult:
        chosen = choose_providers(self._runtime, self._providers)
        for cap in CAPS.values():
            provider = cap.provider(chosen[cap.name]) if cap.name in chosen else None
            with Horizontal(classes="cap-row"):
                yield Checkbox(
                    cap.name,
                    cap.name in self._granted,
                    id=f"cap-{cap.name}",
                    disabled=provider is None,
                )
                detail = (
                    f"{provider.kind} · {provider.enforcement}"
                    if provider
                    else f"not on {self._runtime}"
                )
                digest = short_digest(cap, provider) if provider else None
                if digest:
                    detail += f" · {digest}"
                if not cap.live:
                    detail += " · at restart"
                yield Static(f"[dim]{detail}[/dim]", classes="cap-label")

    async def follow(
        self, runtime: str, granted: frozenset[str], providers: dict[str, str]
    ) -> None:
        """Redraw for another runtime or plan (providers differ per runtime)."""
        self._runtime, self._granted, self._providers = runtime, granted, providers
        await self.recompose()

    def action_move(self, step: int) -> None:
        boxes = [box for box in self.query(Checkbox) if not box.disabled]
        if not boxes:
            return
        current = boxes.index(self.app.focused) if self.app.focused in boxes else -1
        boxes[(current + step) % len(boxes)].focus()

    def set_granted(self, cap: str, granted: bool) -> None:
        """Follow a change made elsewhere (a prompt, a command) without re-posting it."""
        box = self.query_one(f"#cap-{cap}", Checkbox)
        if box.value != granted:
            with box.prevent(Checkbox.Changed):
                box.value = granted

    def on_checkbox_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        cap = (event.checkbox.id or "").removeprefix("cap-")
        self.post_message(CapToggled(cap, event.value))
