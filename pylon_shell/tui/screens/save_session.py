"""Ask where to save the session's inputs as a .py file (the palette's
"Save session"; `:save-session FILE` in the input does the same)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class SaveSessionScreen(ModalScreen[str | None]):
    DEFAULT_CSS = """
    SaveSessionScreen { align: center middle; }
    #save-session { width: 70; height: auto; border: round $accent;
                    background: $panel; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="save-session"):
            yield Label("Save this session's inputs as a Python file")
            yield Input(value="session.py", id="save-session-path")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)
