"""The permission prompt: code hit a cap the plan does not grant; the user
decides, and the call goes on or fails, without a restart.

Only keys pressed after the prompt opened answer it: code typed ahead while
the guest ran (its `s`, `o`, Enter) must never grant a cap the user did not
see being asked for. Those keys go on to the input (`typed_ahead`), as they
would have without the prompt."""

from __future__ import annotations

from collections.abc import Callable

from textual import _time, events
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

    def __init__(
        self,
        cap: str,
        operation: str,
        target: str,
        typed_ahead: Callable[[events.Key], None] | None = None,
    ) -> None:
        super().__init__()
        self._cap, self._operation, self._target = cap, operation, target
        self._typed_ahead = typed_ahead
        #: When the prompt became the app's screen, on the clock Textual stamps
        #: keys with: `opening` sets it, on the UI thread, as it is pushed.
        self.opened = _time.get_time()

    def opening(self) -> None:
        """Called as the prompt is pushed: from now on a key answers it."""
        self.opened = _time.get_time()

    def on_key(self, event: events.Key) -> None:
        if event.time < self.opened:
            # Typed before the question was asked: not an answer to it.
            event.stop()
            event.prevent_default()
            if self._typed_ahead is not None:
                self._typed_ahead(event)

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
