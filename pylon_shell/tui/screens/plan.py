"""The plan as it stands: the JSON the toggles have built, as `plan show` prints it."""

from __future__ import annotations

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static


class PlanScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f4", "dismiss", "Close")]

    def __init__(self, text: str, where: str, pygments: str) -> None:
        super().__init__()
        #: The JSON shown.
        self.text = text
        self._where, self._pygments = where, pygments

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="plan-view"):
            yield Label(f"The plan ({self._where}) · Ctrl+S saves it · Esc closes", id="plan-title")
            yield Static(
                Syntax(self.text, "json", theme=self._pygments, background_color="default")
            )
