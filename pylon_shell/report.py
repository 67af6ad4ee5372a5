"""What an outcome of the guest means to the user: the one place that says it.

The CLI, the line REPL and the TUI all turn an Ok / Exited / Raised / Trapped
into text, a style and what happens next (the exit status of a script, the
end of an interactive session, a fresh interpreter). Written once here, they
cannot drift apart: a cap denial is one line everywhere, Ctrl+C is
KeyboardInterrupt and 130 everywhere, a timeout is 124.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pylon_shell.frames import location
from pylon_shell.runtimes.base import Exited, Ok, Outcome, Raised, Trapped

EXIT_ERROR = 1
EXIT_TIMEOUT = 124
EXIT_INTERRUPT = 130

#: Styles a front end gives the text: a traceback, one line of error, a note.
TRACEBACK = "traceback"
ERROR = "error"


@dataclass(frozen=True)
class Report:
    #: What to show ("" for nothing), ending with a newline when not empty.
    text: str = ""
    style: str = ""
    #: Script mode: the exit status. Interactive: set when the session ends (exit()).
    status: int | None = None
    #: The interpreter is gone (a trap): an interactive session needs a fresh one.
    restart: bool = False


def _raised(outcome: Raised) -> Report:
    # A cap denial is one line that says how to grant the cap, not a traceback,
    # after the file and line of the program that hit it, as a compiler says
    # where an error is: `pylon: job.py:3: import of sqlite3 needs ...`.
    if outcome.denial:
        where = location(outcome.traceback)
        return Report(f"pylon: {where + ': ' if where else ''}{outcome.denial}\n", ERROR)
    return Report(outcome.traceback, TRACEBACK)


def _trapped(outcome: Trapped) -> str:
    return "KeyboardInterrupt\n" if outcome.reason == "interrupt" else f"pylon: {outcome.message}\n"


def exit_status(code: int) -> int:
    """SystemExit's code as a process status (the low byte; negative is 1)."""
    return code & 0xFF if code >= 0 else EXIT_ERROR


def for_script(outcome: Outcome) -> Report:
    """A program's outcome, with the status pylon exits with."""
    if isinstance(outcome, Ok):
        return Report(status=0)
    if isinstance(outcome, Exited):
        return Report(status=exit_status(outcome.code))
    if isinstance(outcome, Raised):
        shown = _raised(outcome)
        # python ends with 130 after an uncaught KeyboardInterrupt (Ctrl+C at input()).
        status = EXIT_INTERRUPT if outcome.type_name == "KeyboardInterrupt" else EXIT_ERROR
        return Report(shown.text, shown.style, status)
    if outcome.reason == "interrupt":
        return Report(_trapped(outcome), ERROR, EXIT_INTERRUPT)
    status = EXIT_TIMEOUT if outcome.reason == "timeout" else EXIT_ERROR
    return Report(_trapped(outcome), ERROR, status)


#: The flag a denial's hint names ("grant it with --cap crypto").
_CAP_FLAG = re.compile(r"--cap ([a-z][a-z0-9_-]*)")


def for_session(outcome: Outcome, grant: Callable[[str], str] | None = None) -> Report:
    """An input's outcome in an interactive session, which goes on unless
    `status` is set (exit()); after a trap it goes on in a fresh (restored)
    interpreter. Its lines need no "pylon:": the session is pylon's. `grant`
    names the front end's own way to grant a cap (`:grant crypto`, F2), which
    a denial's hint says instead of the command line's `--cap crypto`."""
    if isinstance(outcome, Ok):
        return Report()
    if isinstance(outcome, Exited):
        return Report(status=outcome.code)
    if isinstance(outcome, Raised):
        if outcome.denial:
            denial = outcome.denial
            if grant is not None:
                denial = _CAP_FLAG.sub(lambda found: grant(found.group(1)), denial)
            return Report(f"{denial}\n", ERROR)
        return Report(outcome.traceback, TRACEBACK)
    what = "KeyboardInterrupt" if outcome.reason == "interrupt" else outcome.message
    return Report(f"{what}\n", ERROR, restart=True)
