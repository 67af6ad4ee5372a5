"""The line REPL (prompt-toolkit): for plain terminals, and whenever the TUI is off.

Input is highlighted with Pygments, history persists in the user data dir,
Tab asks the guest for completions, and Enter asks the guest whether the code
is complete, so a block continues on the next line until an empty line ends
it, exactly as the interpreter itself would decide.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from functools import partial

from prompt_toolkit import PromptSession, search
from prompt_toolkit.auto_suggest import AutoSuggestFromHistory
from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document
from prompt_toolkit.filters import has_selection, is_searching
from prompt_toolkit.history import FileHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout.processors import HighlightMatchingBracketProcessor
from prompt_toolkit.lexers import PygmentsLexer
from pygments.lexers.python import PythonLexer, PythonTracebackLexer

from pylon_shell import __version__, paths, report
from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent
from pylon_shell.editing import backspace_width, clean_words, next_indent, should_accept
from pylon_shell.meta import MetaError, run_meta
from pylon_shell.options import DEFAULT_TMP_MIB
from pylon_shell.plan import Plan
from pylon_shell.progress import TerminalProgress
from pylon_shell.runtimes.base import FdInput, Outcome
from pylon_shell.session import Session, call_interruptibly

_WORD = re.compile(r"[A-Za-z_][\w.]*")


class GuestCompleter(Completer):
    """Completions come from the guest's own namespace, not the host's."""

    def __init__(self, session: Session) -> None:
        self._session = session

    def get_completions(self, document: Document, event: CompleteEvent) -> Iterable[Completion]:
        runtime = self._session.runtime
        if not runtime.alive:
            return
        word = document.get_word_before_cursor(pattern=_WORD)
        if not word:
            return
        for candidate in clean_words(runtime.complete(document.text_before_cursor)):
            yield Completion(candidate, start_position=-len(word))


def _bindings(session: Session) -> KeyBindings:
    keys = KeyBindings()

    @keys.add("enter", filter=is_searching)
    def _accept_search(event: KeyPressEvent) -> None:
        # Enter ends a Ctrl+R search on the entry found and runs it, as
        # readline does; the prompt is the input's again, not the search's.
        search.accept_search()
        buffer = event.app.current_buffer
        buffer.cursor_position = len(buffer.text)  # the search left it at the match
        _enter(event)

    @keys.add("enter", filter=~is_searching)
    def _enter(event: KeyPressEvent) -> None:
        buffer = event.app.current_buffer
        text = buffer.document.text
        if buffer.document.is_cursor_at_the_end and should_accept(
            text, session.runtime.is_complete
        ):
            buffer.validate_and_handle()
        else:
            buffer.insert_text("\n" + next_indent(buffer.document.text_before_cursor))

    @keys.add("backspace", filter=~is_searching & ~has_selection)
    def _backspace(event: KeyPressEvent) -> None:
        # In leading whitespace one indent level goes, not one space.
        buffer = event.current_buffer
        line = buffer.document.current_line_before_cursor
        buffer.delete_before_cursor(count=backspace_width(line) if event.arg == 1 else event.arg)

    return keys


class LineRepl:
    def __init__(self, plan: Plan, tmp_mib: int | None = DEFAULT_TMP_MIB) -> None:
        # input() and sys.stdin in the guest read the terminal's next line (its
        # own line editing); Ctrl+C there is KeyboardInterrupt, Ctrl+D EOFError.
        self.session = Session(
            plan,
            self._write,
            progress=TerminalProgress(),
            stdin=FdInput(0, self._write),
            tmp_mib=tmp_mib,
            keep_on_interrupt=True,
        )
        self._color = sys.stderr.isatty()
        #: What the input being run reached, shown dimmed under its output.
        self._hits: list[str] = []
        self.session.grants.subscribe(self._note_hit)

    def _note_hit(self, event: Event) -> None:
        if isinstance(event, ImportEvent) and event.cap in CAPS:
            verdict = "free" if event.free else "granted" if event.granted else "denied"
            line = f"import {event.module} → {event.cap} ({verdict})"
        elif isinstance(event, CapCallEvent) and not event.granted:
            line = f"{event.operation} {event.target} → {event.cap} (denied)".strip()
        else:
            return
        if line not in self._hits:
            self._hits.append(line)

    def show_hits(self) -> None:
        """The caps the input reached, dimmed, under its output."""
        hits, self._hits = self._hits, []
        for line in hits:
            text = f"  {line}"
            print(f"\x1b[2m{text}\x1b[0m" if self._color else text, file=sys.stderr)

    def meta(self, line: str) -> None:
        try:
            print(run_meta(self.session, line))
        except MetaError as error:
            print(f"pylon: {error}", file=sys.stderr)

    def _write(self, fd: int, data: bytes) -> None:
        stream = sys.stdout if fd == 1 else sys.stderr
        stream.buffer.write(data)
        stream.flush()

    def banner(self) -> str:
        runtime = self.session.runtime
        plan = self.session.plan
        caps = ", ".join(plan.capabilities) or "none"
        return (
            f"pylon {__version__} · {runtime.version} in wasmtime · plan {plan.name!r} "
            f"(caps: {caps})\nCtrl+D exits; Ctrl+C interrupts running code; :help lists commands."
        )

    def show_traceback(self, text: str) -> None:
        if self._color:
            from pygments import highlight
            from pygments.formatters import TerminalFormatter

            text = highlight(text, PythonTracebackLexer(), TerminalFormatter())
        sys.stderr.write(text)
        sys.stderr.flush()

    def handle(self, outcome: Outcome) -> int | None:
        """Show the outcome (report.py says how); a status when the session should end."""
        shown = report.for_session(outcome, grant=lambda cap: f":grant {cap}")
        if shown.style == report.TRACEBACK:
            self.show_traceback(shown.text)
        elif shown.text:
            print(shown.text, end="", file=sys.stderr)
        if shown.restart:
            restored = self.session.restore()
            print(f"pylon: the interpreter had to be discarded; {restored}", file=sys.stderr)
        return shown.status

    def run(self) -> int:
        history = paths.history_file()
        history.parent.mkdir(parents=True, exist_ok=True)
        prompt: PromptSession[str] = PromptSession(
            history=FileHistory(str(history)),
            lexer=PygmentsLexer(PythonLexer),
            completer=GuestCompleter(self.session),
            complete_while_typing=False,
            key_bindings=_bindings(self.session),
            multiline=True,
            prompt_continuation=lambda width, line, wrap: "... ".rjust(width),
            enable_history_search=True,
            # ptpython's conveniences that prompt_toolkit has: the newest history
            # entry that starts with what is typed, greyed (Right takes it), and
            # the bracket matching the one at the cursor highlighted.
            auto_suggest=AutoSuggestFromHistory(),
            input_processors=[HighlightMatchingBracketProcessor()],
        )
        print(self.banner())
        while True:
            try:
                text = prompt.prompt(">>> ")
            except KeyboardInterrupt:
                continue
            except EOFError:
                return 0
            source = text.rstrip()
            if not source:
                continue
            if source.startswith(":"):
                self.meta(source)
                continue
            runtime = self.session.runtime
            self._hits.clear()
            outcome = call_interruptibly(runtime, partial(self.session.run_input, source + "\n"))
            status = self.handle(outcome)
            self.show_hits()
            if status is not None:
                return status


def run_repl(plan: Plan, tmp_mib: int | None = DEFAULT_TMP_MIB) -> int:
    repl = LineRepl(plan, tmp_mib)
    try:
        return repl.run()
    finally:
        repl.session.close()
