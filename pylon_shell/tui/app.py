"""The pylon TUI: the REPL, the Caps panel and the Imports pane on one screen.

The guest runs on a worker thread, never the UI's: its output, the grants'
events and its outcome come back as messages, so the screen stays responsive
while code runs and Ctrl+C can interrupt it. A permission prompt blocks only
the guest's thread, which waits for the user's answer.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prompt_toolkit.history import FileHistory
from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Checkbox, Footer, Header, Input, Static, TextArea

from pylon_shell import __version__, paths, report
from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import Decision, Event, GrantChanged
from pylon_shell.options import DEFAULT_TMP_MIB
from pylon_shell.plan import Plan
from pylon_shell.runtimes.base import Outcome, Trapped
from pylon_shell.session import Session
from pylon_shell.themes import DEFAULT as DEFAULT_THEME
from pylon_shell.themes import THEMES, by_textual_name
from pylon_shell.tui.messages import CapEvent, GuestOutput, RunFinished, SessionReady, Submitted
from pylon_shell.tui.progress import BuildProgress, TuiProgress
from pylon_shell.tui.screens.help import HelpScreen
from pylon_shell.tui.screens.load_plan import LoadPlanScreen
from pylon_shell.tui.screens.permission import PermissionScreen
from pylon_shell.tui.screens.plan import PlanScreen
from pylon_shell.tui.screens.save_session import SaveSessionScreen
from pylon_shell.tui.screens.search import SearchScreen
from pylon_shell.tui.screens.why import WhyScreen
from pylon_shell.tui.stdin import Answer, TuiInput
from pylon_shell.tui.why import explain, tui_grant
from pylon_shell.tui.widgets.caps_panel import CapsPanel, CapToggled
from pylon_shell.tui.widgets.code_input import CodeInput
from pylon_shell.tui.widgets.imports_pane import ImportsPane
from pylon_shell.tui.widgets.scrollback import Scrollback
from pylon_shell.tui.widgets.stdin_prompt import StdinPrompt

RUNTIME_NAMES = {"cpython": "CPython", "micropython": "MicroPython"}
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
#: Characters of guest output waiting for the UI, at most.
MAX_PENDING_OUTPUT = 1 << 20


class PylonApp(App[int]):
    CSS_PATH = "app.tcss"
    TITLE = "pylon"
    #: Below 120 columns the screen has the class -narrow (app.tcss lays the
    #: Caps panel out in two lines a cap there).
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (120, "-wide")]
    # The footer shows these in this order and drops what does not fit: the
    # panes' keys come first, so an 80-column terminal still shows F2-F4.
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "focus_pane('caps')", "Caps"),
        Binding("f3", "focus_pane('imports')", "Imports"),
        Binding("f4", "show_plan", "Plan"),
        Binding("ctrl+c", "interrupt", "Interrupt", priority=True),
        Binding("ctrl+s", "save_plan", "Save"),
        Binding("ctrl+o", "load_plan", "Load"),
        Binding("ctrl+t", "switch_runtime", "Runtime"),
        Binding("f5", "restart", "Restart"),
        Binding("ctrl+f", "search_scrollback", "Find", show=False),
        Binding("ctrl+l", "clear_scrollback", "Clear", show=False),
        Binding("escape", "focus_pane('input')", "Input", show=False),
        Binding("ctrl+d", "quit", "Quit", show=False),
    ]

    def __init__(
        self,
        plan: Plan,
        *,
        prompt: bool = True,
        history: Path | None = None,
        theme: str = DEFAULT_THEME,
        tmp_mib: int | None = DEFAULT_TMP_MIB,
    ) -> None:
        super().__init__()
        for pylon_theme in THEMES.values():
            self.register_theme(pylon_theme.textual)
        self._theme = THEMES[theme]
        self._plan = plan
        self._prompt = prompt
        self._history_path = history if history is not None else paths.history_file()
        self.session = Session(
            plan,
            self._guest_output,
            prompter=self._ask if prompt else None,
            stdin=TuiInput(self),
            progress=TuiProgress(self),
            tmp_mib=tmp_mib,
            keep_on_interrupt=True,
        )
        #: The inline prompt of the guest's input(), and the answer it waits for.
        self._stdin: tuple[StdinPrompt, Answer] | None = None
        self.session.grants.subscribe(self._grants_event)
        self._busy = threading.Event()
        self._output_lock = threading.Lock()
        self._pending_output: list[tuple[int, str]] = []
        self._pending_size = 0
        self._dropped_output = 0
        #: The step of a build under way, and when it began (monotonic).
        self._build: tuple[str, float] | None = None
        #: Prompts the guest's thread is waiting on: (answer, done).
        self._prompts: list[tuple[list[Decision], threading.Event]] = []
        self._allowed_this_run: set[str] = set()
        self._saved_caps = plan.capabilities

    # -- layout --------------------------------------------------------------

    def compose(self) -> ComposeResult:
        self._history_path.parent.mkdir(parents=True, exist_ok=True)
        yield Header()
        with Horizontal(id="main"):
            with Vertical(id="repl"):
                yield Scrollback(theme=self._theme.pygments, id="scrollback")
                yield Static("", id="build-status", markup=False)
                yield CodeInput(FileHistory(str(self._history_path)), id="input")
            with Vertical(id="side"):
                yield CapsPanel(
                    self._plan.runtime,
                    self.session.grants.granted,
                    dict(self._plan.providers),
                    id="caps",
                )
                yield ImportsPane(id="imports")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(1 / 20, self._drain_output)
        self.set_interval(1 / 4, self._show_build)
        self.theme = self._theme.textual.name
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._show_title()
        self.query_one(CodeInput).focus()
        self._start()

    def _dirty(self) -> bool:
        return self.session.grants.granted != set(self._saved_caps)

    def _theme_changed(self, theme: object) -> None:
        """A theme picked from the palette: code follows with the matching style."""
        chosen = by_textual_name(getattr(theme, "name", ""))
        dark = getattr(theme, "dark", True)
        self._theme = chosen or THEMES["dark" if dark else "light"]
        self.query_one(Scrollback).syntax_theme = self._theme.pygments

    def _show_title(self) -> None:
        runtime = self.session.started
        self.title = f"pylon {__version__} · {runtime.version if runtime else 'starting'}"
        dirty = " · unsaved changes" if self._dirty() else ""
        self.sub_title = f"plan {self.session.plan.name}{dirty}"

    # -- the guest, on worker threads ------------------------------------------

    @work(thread=True, exclusive=True, group="guest")
    def _start(
        self,
        note: str | None = None,
        switch_to: str | None = None,
        load: Plan | None = None,
        restore: bool = False,
    ) -> None:
        self._busy.set()
        try:
            if restore:
                note = f"the interpreter had to be discarded; {self.session.restore()}"
                runtime = self.session.runtime
            elif load is not None:
                runtime = self.session.load(load)
            elif switch_to is not None:
                runtime = self.session.switch(switch_to)
            elif note is not None:
                runtime = self.session.restart()
            else:
                runtime = self.session.runtime
        except Exception as error:  # noqa: BLE001 - shown; the TUI stays up
            self._busy.clear()
            self.post_message(GuestOutput(2, f"pylon: {error} (F5 tries again)\n"))
            return
        # Idle before the UI hears of it: input typed ahead runs at once.
        self._busy.clear()
        self.post_message(SessionReady(runtime.version, note))

    @work(thread=True, exclusive=True, group="guest")
    def _run(self, source: str) -> None:
        self._busy.set()
        try:
            outcome: Outcome = self.session.run_input(source)
        except Exception as error:  # noqa: BLE001 - e.g. the runtime could not start
            outcome = Trapped("crash", f"pylon: {error}")
        self._busy.clear()
        self.post_message(RunFinished(outcome))

    def _guest_output(self, fd: int, data: bytes) -> None:
        """Called on the guest's thread. Output waits in a bounded buffer that
        the UI drains 20 times a second, so a flood neither floods the message
        queue nor grows without bound: past MAX_PENDING_OUTPUT the oldest is
        dropped, and the scrollback says how much."""
        text = data.decode("utf-8", "replace")
        with self._output_lock:
            self._pending_output.append((fd, text))
            self._pending_size += len(text)
            while self._pending_size > MAX_PENDING_OUTPUT and len(self._pending_output) > 1:
                _, dropped = self._pending_output.pop(0)
                self._pending_size -= len(dropped)
                self._dropped_output += len(dropped)

    def _drain_output(self) -> None:
        with self._output_lock:
            if not self._pending_output and not self._dropped_output:
                return
            pending, self._pending_output = self._pending_output, []
            dropped, self._dropped_output = self._dropped_output, 0
            self._pending_size = 0
        scrollback = self.query_one(Scrollback)
        if dropped:
            scrollback.note(f"… {dropped} characters of output skipped (too much, too fast) …")
        # Consecutive writes to one stream as one batch (the guest writes a line at a time).
        batch_fd = pending[0][0] if pending else 1
        batch: list[str] = []
        for fd, text in pending:
            if fd != batch_fd:
                scrollback.output(batch_fd, "".join(batch))
                batch_fd, batch = fd, []
            batch.append(text)
        if batch:
            scrollback.output(batch_fd, "".join(batch))

    def _grants_event(self, event: Event) -> None:
        self.post_message(CapEvent(event))

    def _ask(self, cap: str, operation: str, target: str) -> Decision:
        """The prompter, called on the guest's thread: ask on the UI thread and
        wait for the answer (a quitting app answers deny). "Allow once" holds
        for the rest of the input being run, not just one call of it."""
        if cap in self._allowed_this_run:
            return "once"
        answer: list[Decision] = []
        done = threading.Event()
        pending = (answer, done)
        self._prompts.append(pending)

        def decided(decision: Decision | None) -> None:
            answer.append(decision or "deny")
            done.set()

        try:
            screen = PermissionScreen(cap, operation, target, typed_ahead=self._typed_ahead)
            self.call_from_thread(self._ask_on_screen, screen, decided)
        except RuntimeError:  # the app is no longer running
            decided("deny")
        done.wait()
        self._prompts.remove(pending)
        if answer[0] == "once":
            self._allowed_this_run.add(cap)
        return answer[0]

    def _ask_on_screen(
        self, screen: PermissionScreen, decided: Callable[[Decision | None], None]
    ) -> None:
        # On the UI thread, as the prompt becomes the screen: keys from now answer it.
        screen.opening()
        self.show(screen, decided)

    def show_stdin_prompt(self, prompt: str, answer: Answer) -> None:
        """The guest waits at input(): an inline prompt under the output so far."""
        self.hide_stdin_prompt()
        self._drain_output()
        self.query_one(Scrollback).flush_output()
        widget = StdinPrompt(prompt, id="stdin")
        self._stdin = (widget, answer)
        self.query_one("#repl").mount(widget, before=self.query_one(CodeInput))

    def hide_stdin_prompt(self) -> None:
        """The read ended without an answer (a timeout, the session stopped)."""
        if self._stdin is not None:
            widget, _ = self._stdin
            self._stdin = None
            widget.remove()
            self.query_one(CodeInput).focus()

    def on_stdin_prompt_answered(self, message: StdinPrompt.Answered) -> None:
        if self._stdin is None:
            return
        widget, answer = self._stdin
        self._stdin = None
        # The scrollback keeps what a terminal would show: the prompt and the line.
        shown = widget.prompt + (message.text if message.kind == "line" else "")
        self.query_one(Scrollback).output(1, shown + "\n")
        widget.remove()
        self.query_one(CodeInput).focus()
        answer(message.kind, message.text)

    # -- messages -------------------------------------------------------------

    def on_submitted(self, message: Submitted) -> None:
        scrollback = self.query_one(Scrollback)
        if self._busy.is_set():
            self.bell()
            return
        if message.source.lstrip().startswith(":"):  # never Python: a meta-command
            self._meta(message.source.strip())
            return
        scrollback.echo(message.source)
        self._set_input_ready(False)
        self._run(message.source)

    def on_guest_output(self, message: GuestOutput) -> None:
        self.query_one(Scrollback).output(message.fd, message.text)

    def on_cap_event(self, message: CapEvent) -> None:
        event = message.event
        if isinstance(event, GrantChanged):
            self.query_one(CapsPanel).set_granted(event.cap, event.granted)
            self._show_title()
            return
        self.query_one(ImportsPane).record(event)

    def on_run_finished(self, message: RunFinished) -> None:
        self._allowed_this_run.clear()
        self._drain_output()  # the output comes before the outcome
        scrollback = self.query_one(Scrollback)
        scrollback.flush_output()
        shown = report.for_session(message.outcome, grant=tui_grant)
        if shown.style == report.TRACEBACK:
            scrollback.traceback(shown.text)
        elif shown.text:
            scrollback.note(shown.text.rstrip("\n"), style="bold red")
        if shown.status is not None:
            self.exit(shown.status)  # exit() quits, as in the python REPL
        elif shown.restart:
            self._start(restore=True)
        else:
            self._set_input_ready(True)

    async def on_session_ready(self, message: SessionReady) -> None:
        self._show_title()
        plan = self.session.plan
        await self.query_one(CapsPanel).follow(
            plan.runtime, self.session.grants.granted, dict(plan.providers)
        )
        if message.note:
            self.query_one(Scrollback).note(f"{message.note} ({message.version})")
        else:
            caps = ", ".join(sorted(self.session.grants.granted)) or "none"
            self.query_one(Scrollback).note(
                f"{message.version} in wasmtime · plan {plan.name!r} (caps: {caps}) · "
                "F1 help, Ctrl+C interrupts, Ctrl+D quits"
            )
        self._set_input_ready(True)

    def on_imports_pane_why_requested(self, message: ImportsPane.WhyRequested) -> None:
        grants = self.session.grants
        why = explain(
            grants, message.cap, message.operation, message.target, is_import=message.is_import
        )

        def grant() -> str:
            if why.host is not None:
                grants.allow_host(why.host)
            grants.grant(why.cap)
            self._show_title()
            allowed = f" to {why.host}" if why.host else ""
            return f"granted {why.cap}{allowed} for this session (Ctrl+S saves it)"

        self.show(WhyScreen(why, self._theme.pygments, grant))

    def on_build_progress(self, message: BuildProgress) -> None:
        """A build the session needs: its step in the status line, its end in
        the scrollback (where a long pause is explained afterwards too)."""
        status = self.query_one("#build-status", Static)
        if message.label is not None:
            if self._build is None:
                self.notify(message.label, title="Building, once", timeout=6)
            self._build = (message.label, time.monotonic())
            status.display = True
            self._show_build()
        else:
            self._build = None
            status.display = False
            if message.finished:
                self.query_one(Scrollback).note(message.finished)

    def _show_build(self) -> None:
        if self._build is not None:
            label, started = self._build
            spin = SPINNER[int(time.monotonic() * 4) % len(SPINNER)]
            self.query_one("#build-status", Static).update(
                f"{spin} {label} · {time.monotonic() - started:.0f} s"
            )

    def on_cap_toggled(self, message: CapToggled) -> None:
        self.session.grants.set(message.cap, message.granted)
        if message.by_mouse:
            self.focus_input()  # a click toggles; the keyboard stays with the code

    def _set_input_ready(self, ready: bool) -> None:
        runtime = self.session.started
        if ready and runtime is not None:
            self.query_one(CodeInput).ready(runtime.is_complete, runtime.complete)
        else:
            self.query_one(CodeInput).ready(None, None)

    # -- focus ----------------------------------------------------------------

    def _typing_target(self) -> Input | CodeInput:
        """Where typed text belongs: the guest's input() while it asks, else the code."""
        if self._stdin is not None:
            return self._stdin[0].query_one(Input)
        return self.query_one(CodeInput)

    def focus_input(self) -> None:
        self._typing_target().focus()

    def on_key(self, event: events.Key) -> None:
        """A printable key typed where no text goes (a switch or the scrollback
        after a click, the imports table) goes to the input, so typed code is
        never lost and never toggles a cap. Space on a switch reached with F2
        is its toggle and stays one."""
        if not event.is_printable or not event.character or len(self.screen_stack) > 1:
            return
        focused = self.focused
        if isinstance(focused, (Input, TextArea)):
            return
        if isinstance(focused, Checkbox) and event.key == "space":
            return
        event.stop()
        target = self._typing_target()
        target.focus()
        if isinstance(target, Input):
            target.insert_text_at_cursor(event.character)
        else:
            target.insert(event.character)

    def _typed_ahead(self, event: events.Key) -> None:
        """A key typed before a prompt opened: it goes where it was typed, the input."""
        code_input = self.query_one(CodeInput)
        if event.key in ("enter", "ctrl+j"):
            code_input.action_submit()
        elif event.is_printable and event.character:
            code_input.insert(event.character)

    def show(self, screen: Screen[Any], done: Callable[[Any], None] | None = None) -> None:
        """Open a screen; when it closes, the keyboard is back in the input."""

        def closed(result: object) -> None:
            if done is not None:
                done(result)
            self.focus_input()

        self.push_screen(screen, closed)

    # -- actions --------------------------------------------------------------

    def action_focus_pane(self, target: str) -> None:
        if target == "caps":
            self.query_one(CapsPanel).focus_first()
        elif target == "imports":
            self.query_one("#imports-table").focus()
        else:
            self.focus_input()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        other = "MicroPython" if self.session.plan.runtime == "cpython" else "CPython"
        yield SystemCommand(
            f"Switch to {other}",
            "Restart on the other runtime, same plan",
            self.action_switch_runtime,
        )
        yield SystemCommand(
            "Save plan", "Write the plan with the caps as toggled", self.action_save_plan
        )
        yield SystemCommand("Restart", "A fresh interpreter (state is lost)", self.action_restart)
        yield SystemCommand(
            "Show plan", "The plan as the toggles have built it", self.action_show_plan
        )
        yield SystemCommand("Load plan", "Start over from a plan file", self.action_load_plan)
        yield SystemCommand("Interrupt", "Stop the running code", self.action_interrupt)
        yield SystemCommand(
            "Search the scrollback",
            "Find a line in what was shown (Ctrl+F)",
            self.action_search_scrollback,
        )
        yield SystemCommand(
            "Clear the scrollback",
            "Empty it; the session is kept (Ctrl+L)",
            self.action_clear_scrollback,
        )
        yield SystemCommand(
            "Copy the last output",
            "What the last input wrote, to the clipboard",
            self.action_copy_last_output,
        )
        yield SystemCommand(
            "Copy the selection",
            "The text selected in the input or the scrollback (Ctrl+C)",
            self._copy_selection,
        )
        yield SystemCommand(
            "Save session",
            "This session's inputs as a .py file (:save-session FILE)",
            self.action_save_session,
        )
        for cap in CAPS:
            granted = self.session.grants.is_granted(cap)
            yield SystemCommand(
                f"{'Revoke' if granted else 'Grant'} {cap}",
                f"{'Revoke' if granted else 'Grant'} the {cap} cap (the next call sees it)",
                lambda cap=cap, granted=granted: self.session.grants.set(cap, not granted),
            )

    def action_interrupt(self) -> None:
        if self._stdin is not None:
            self._stdin[0].cancel()  # KeyboardInterrupt at the guest's input()
        elif self._busy.is_set() and self.session.started is not None:
            self.session.started.interrupt()
        elif selected := self._selected_text():
            self.copy_to_clipboard(selected)  # as a terminal copies a selection
            self.notify(f"copied {len(selected)} characters", timeout=2)
        else:
            self.query_one(CodeInput).clear()

    def _selected_text(self) -> str:
        """What is selected: in the input, else on the screen (the scrollback)."""
        code_input = self.query_one(CodeInput)
        if code_input.selected_text:
            return code_input.selected_text
        return self.screen.get_selected_text() or ""

    # -- ptpython's conveniences (issue 15) ------------------------------------

    def _meta(self, line: str) -> None:
        """`:save-session FILE`, `:grant NAME`, ... typed in the input, as in
        the line REPL (meta.py); the keys do the rest (Ctrl+T, Ctrl+S)."""
        from pylon_shell.meta import MetaError, run_meta

        scrollback = self.query_one(Scrollback)
        scrollback.note(line, style="bold")
        name = line[1:].split(" ", 1)[0]
        try:
            if name == "runtime":
                raise MetaError("in the TUI Ctrl+T switches the runtime")
            if name == "save":
                raise MetaError("in the TUI Ctrl+S saves the plan (F4 shows where)")
            scrollback.note(run_meta(self.session, line), style="")
        except MetaError as error:
            scrollback.note(f"pylon: {error}", style="bold red")
        self._set_input_ready(True)

    def action_clear_scrollback(self) -> None:
        self.query_one(Scrollback).clear()

    def action_search_scrollback(self) -> None:
        scrollback = self.query_one(Scrollback)
        lines = [line.text for line in scrollback.lines]

        def found(index: int | None) -> None:
            if index is not None:
                scrollback.scroll_to(y=index, animate=False)
            self.query_one(CodeInput).focus()

        self.push_screen(SearchScreen(lines), found)

    def action_copy_last_output(self) -> None:
        text = self.session.transcript.last_output
        if not text:
            self.notify("the last input wrote nothing", timeout=3)
            return
        self.copy_to_clipboard(text)
        self.notify(f"copied the last output ({len(text)} characters)", timeout=2)

    def action_save_session(self) -> None:
        def chosen(target: str | None) -> None:
            if target:
                self._meta(f":save-session {target}")
            self.query_one(CodeInput).focus()

        self.push_screen(SaveSessionScreen(), chosen)

    def _copy_selection(self) -> None:
        selected = self._selected_text()
        if selected:
            self.copy_to_clipboard(selected)
            self.notify(f"copied {len(selected)} characters", timeout=2)
        else:
            self.notify("nothing is selected (drag over the scrollback to select)", timeout=3)

    def action_switch_runtime(self) -> None:
        if self._busy.is_set():
            self.bell()
            return
        other = "micropython" if self.session.plan.runtime == "cpython" else "cpython"
        self.query_one(Scrollback).note(f"switching to {RUNTIME_NAMES[other]}…")
        self._set_input_ready(False)
        self._start(note=f"switched to {RUNTIME_NAMES[other]} with the same plan", switch_to=other)

    def action_load_plan(self) -> None:
        if self._busy.is_set():
            self.bell()
            return
        self.show(LoadPlanScreen(), self._load_plan)

    def _load_plan(self, name: str | None) -> None:
        from pylon_shell.errors import PylonError
        from pylon_shell.plan import load_named

        if not name:
            return
        try:
            plan = load_named(name)  # the rule --plan follows
        except PylonError as error:
            self.query_one(Scrollback).note(f"pylon: {error}", style="bold red")
            return
        self._saved_caps = plan.capabilities
        self._set_input_ready(False)
        self._start(note=f"loaded the plan {plan.name!r}; a fresh session has started", load=plan)

    def action_restart(self) -> None:
        if not self._busy.is_set():
            self._set_input_ready(False)
            self._start(note="restarted")

    def action_save_plan(self) -> None:
        self.save_plan()

    def save_plan(self) -> str:
        """Write the plan as toggled where _plan_target says; the line that says
        where (or why not) goes to the scrollback and is returned."""
        from pylon_shell.errors import UsageError

        plan = self.session.current_plan()
        target = self._plan_target()
        try:
            plan.save(target)
        except (OSError, UsageError) as error:
            reason = error.strerror or error if isinstance(error, OSError) else error
            said = f"could not save the plan to {target}: {reason}"
            self.query_one(Scrollback).note(f"pylon: {said}", style="bold red")
            return said
        self._saved_caps = plan.capabilities
        self._show_title()
        said = f"saved the plan to {target}"
        self.query_one(Scrollback).note(said)
        return said

    def action_help(self) -> None:
        self.show(HelpScreen())

    def _plan_target(self) -> Path:
        """Where Ctrl+S writes: the plan's own file, or NAME.json in the current
        directory for a plan pylon ships (those are never written)."""
        from pylon_shell.plan import save_target

        return save_target(self.session.plan)

    def action_show_plan(self) -> None:
        dirty = "unsaved changes; " if self._dirty() else ""
        where = f"{dirty}saves to {self._plan_target()}"
        self.show(
            PlanScreen(
                self.session.current_plan().dumps(),
                where,
                self._theme.pygments,
                save=self.save_plan,
            )
        )

    async def on_unmount(self) -> None:
        # Nothing may keep the guest's thread waiting once the UI is gone.
        for answer, done in list(self._prompts):
            answer.append("deny")
            done.set()
        if self._stdin is not None:
            self._stdin[1]("eof", "")
            self._stdin = None
        if self._busy.is_set() and self.session.started is not None:
            self.session.started.interrupt()
        await self.workers.wait_for_complete()
        self.session.close()


def run_tui(
    plan: Plan,
    *,
    prompt: bool = True,
    theme: str = DEFAULT_THEME,
    tmp_mib: int | None = DEFAULT_TMP_MIB,
) -> int:
    return PylonApp(plan, prompt=prompt, theme=theme, tmp_mib=tmp_mib).run() or 0
