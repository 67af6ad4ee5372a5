"""F1: what the keys do and what the panes mean."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# pylon

Python in a wasm sandbox: everything beyond computing is a **cap** the plan grants.

| key | does |
|---|---|
| Enter | run the input when it is complete; a block goes on until an empty line |
| Up / Down | earlier inputs (kept across sessions) |
| Ctrl+R | search them: the newest that contains what is typed; again for older |
| Tab | complete from the interpreter's own names (module names after `import`) |
| Down / Up, Enter, Esc | in the completion list: move, take the entry, close it |
| Right | take the greyed suggestion from the history |
| Backspace | in leading whitespace: one indent level |
| Ctrl+C | interrupt running code (or copy the selection, or clear the input) |
| Ctrl+L / Ctrl+F | clear the scrollback / find a line in it |
| `:save-session FILE` | this session's inputs as a .py file (also in Ctrl+P) |
| Ctrl+D | quit (on an empty input) |
| F2 / F3 / Esc | the Caps panel / the Imports pane / back to the input (from anywhere) |
| Space | in the Caps panel: grant or revoke the cap under the cursor |
| Enter | in the Imports pane, on a denied row: why, and what would allow it |
| Ctrl+T | switch runtime (CPython / MicroPython), same plan |
| F5 | restart the interpreter |
| F4 | show the plan as the toggles have built it (Ctrl+S there saves it) |
| Ctrl+S | save the plan (a plan pylon ships saves to NAME.json here) |
| Ctrl+O | load a plan (a file, or default, minimal, data, net) |
| Ctrl+P | every command |

**Caps panel**: `[✓]` granted, `[ ]` not. A grant or revoke applies to the next
import or call, without a restart (fs and env apply at the next restart). A
click toggles a cap and leaves the keyboard in the input; typing anywhere but a
text field goes to the input. Each line says how the cap is
provided and enforced: *boundary* (the host checks every call) or *policy* (the
guest's import gate).

**Imports pane**: every import the code made, its verdict (**granted**,
**denied**, or **free**: no grant needed) and the cap it hit, how many calls
that cap has made; denied calls and your answers to prompts get rows of their
own. Type in the filter to narrow it (`denied` shows the denials); the
selected row's import chain shows below it. Enter on a denied row opens the
**why** view: the cap, the missing grant, the keys that allow it now (g grants
it there) and the plan change that allows it for good.

**Prompts**: when code hits a cap the plan does not grant, pylon asks: allow once
(for the rest of that input), allow for the session (a grant), or deny.
`--no-prompt` denies instead of asking.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)
