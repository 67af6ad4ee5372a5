"""The inline prompt the guest's input() asks through: a line under the
scrollback with the program's prompt before it, as a terminal would show it.

Enter answers with the line, Ctrl+D with end of input (EOFError in the guest);
Ctrl+C (the app's interrupt) cancels it with KeyboardInterrupt.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label

#: Characters of the guest's prompt shown at most (the guest chose it).
MAX_PROMPT = 200


def shown_prompt(prompt: str) -> str:
    """The guest's prompt as one short line: control characters escaped, cut to MAX_PROMPT."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in prompt[: MAX_PROMPT * 4])
    return text if len(text) <= MAX_PROMPT else text[: MAX_PROMPT - 1] + "…"


class StdinLine(Input):
    """The line being typed; Ctrl+D (which Input uses to delete) ends input."""

    BINDINGS = [Binding("ctrl+d", "eof", "End of input", show=False, priority=True)]

    def action_eof(self) -> None:
        self.post_message(StdinPrompt.Answered("eof"))


class StdinPrompt(Horizontal):
    """The program's prompt and the line the user types for it."""

    class Answered(Message):
        """The user answered the guest's input(): `kind` is "line", "eof" or "interrupt"."""

        def __init__(self, kind: str, text: str = "") -> None:
            super().__init__()
            self.kind = kind
            self.text = text

    def __init__(self, prompt: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.prompt = prompt

    def compose(self) -> ComposeResult:
        yield Label(shown_prompt(self.prompt), id="stdin-label")
        yield StdinLine(id="stdin-line")

    def on_mount(self) -> None:
        self.query_one(StdinLine).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.post_message(self.Answered("line", event.value))

    def cancel(self) -> None:
        self.post_message(self.Answered("interrupt"))
