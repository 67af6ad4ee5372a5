"""F4: the plan as it stands, the JSON the toggles have built, as `plan show`
prints it; Ctrl+S in it saves that plan, as its title says, and the title
then says where it went (a shipped plan is never written: see plan.save_target)."""

from __future__ import annotations

from collections.abc import Callable

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class PlanScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,q,f4", "dismiss", "Close"),
        Binding("ctrl+s", "save", "Save", priority=True),
    ]

    def __init__(
        self, text: str, where: str, pygments: str, save: Callable[[], str] | None = None
    ) -> None:
        super().__init__()
        #: The JSON shown.
        self.text = text
        self._where, self._pygments = where, pygments
        #: Saves the plan; returns the one line that says what happened.
        self._save = save

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="plan-view"):
            saves = " · Ctrl+S saves it" if self._save else ""
            yield Label(f"The plan ({self._where}){saves} · Esc closes", id="plan-title")
            yield Static(
                Syntax(self.text, "json", theme=self._pygments, background_color="default")
            )

    def action_save(self) -> None:
        if self._save is not None:
            self.query_one("#plan-title", Label).update(f"{self._save()} · Esc closes")
