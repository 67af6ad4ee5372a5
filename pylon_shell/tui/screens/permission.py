"""The permission prompt: code hit a cap the plan does not grant; the user
decides, and the call goes on or fails, without a restart."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from pylon_shell.caps.grants import Decision


class PermissionScreen(ModalScreen[Decision]):
    BINDINGS = [
        Binding("o", "decide('once')", "Allow once"),
        Binding("s", "decide('session')", "Allow for session"),
        Binding("d,escape", "decide('deny')", "Deny"),
    ]

    def __init__(self, cap: str, operation: str, target: str) -> None:
        super().__init__()
        self._cap, self._operation, self._target = cap, operation, target

    def compose(self) -> ComposeResult:
        with Vertical(id="permission"):
            yield Label(
                f"The code wants the [b]{self._cap}[/b] cap, which this plan does not grant.",
                id="permission-title",
            )
            yield Label(f"{self._operation} {self._target}".strip(), id="permission-target")
            with Horizontal(id="permission-buttons"):
                yield Button("Allow once (o)", id="once", variant="primary")
                yield Button("Allow for session (s)", id="session")
                yield Button("Deny (d)", id="deny", variant="error")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        decisions: dict[str | None, Decision] = {"once": "once", "session": "session"}
        self.dismiss(decisions.get(event.button.id, "deny"))

    def action_decide(self, decision: Decision) -> None:
        self.dismiss(decision)
