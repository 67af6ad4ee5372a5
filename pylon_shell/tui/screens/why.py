"""The "why" view of a denied row in the Imports pane: the cap, the grant
that is missing, how to allow it now (g here grants it for the session) and
the plan change that would allow it for good (tui/why.py says it)."""

from __future__ import annotations

from collections.abc import Callable

from rich.markup import escape
from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from pylon_shell.tui.why import Why

#: The keys, on the view's border where they are always in sight.
KEYS = "g grants it now · Esc closes"


class WhyScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q", "dismiss", "Close"),
        Binding("g", "grant", "Grant now"),
    ]

    def __init__(self, why: Why, pygments: str, grant: Callable[[], str]) -> None:
        super().__init__()
        self.why = why
        self._pygments = pygments
        #: Grants what is missing for the session; returns the line that says so.
        self._grant = grant

    def compose(self) -> ComposeResult:
        why = self.why
        with VerticalScroll(id="why") as view:
            view.border_title = f"Why denied: {escape(why.what)}"
            view.border_subtitle = KEYS
            missing = (
                f"[b]missing:[/b] {escape(why.missing)}"
                if why.missing
                else "[b]granted since:[/b] run it again"
            )
            yield Static(f"[b]cap:[/b] {why.cap}\n{missing}", id="why-missing")
            ways = "\n".join(f"  • {escape(way)}" for way in why.now)
            yield Static(f"[b]allow it now:[/b]\n{ways}", id="why-now")
            yield Static("[b]plan change[/b] (added to the plan file's own):", id="why-plan")
            yield Static(
                Syntax(
                    why.plan_change,
                    "json",
                    theme=self._pygments,
                    background_color="default",
                    word_wrap=True,
                ),
                id="why-fragment",
            )
            yield Label("", id="why-said")

    def action_grant(self) -> None:
        if self.why.missing:
            self.query_one("#why-said", Label).update(self._grant())
