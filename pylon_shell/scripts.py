"""Script mode: run a program or a module in a session, its output on our stdio,
its outcome the exit status (report.py says which).

Imports neither the TUI nor the line REPL: a script's start-up time matters.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from pylon_shell import flags, report
from pylon_shell.errors import UsageError

if TYPE_CHECKING:
    from pylon_shell.session import Session


class StdioSink:
    """Writes guest output to our stdout/stderr as it arrives; a closed pipe ends quietly."""

    def __init__(self) -> None:
        self.broken = False

    def __call__(self, fd: int, data: bytes) -> None:
        if self.broken:
            return
        stream = sys.stdout if fd == 1 else sys.stderr
        try:
            stream.buffer.write(data)
            stream.flush()
        except (BrokenPipeError, ValueError):
            self.broken = True


def read_program(args: argparse.Namespace) -> tuple[str, str, list[str]] | None:
    """(source, filename, argv) of the program to run, or None for an interactive session."""
    if args.code is not None:
        rest = ([args.script] if args.script else []) + args.args
        return args.code, "<string>", ["-c", *rest]
    if args.script is None and sys.stdin.isatty():
        return None
    if args.script in (None, "-"):
        return sys.stdin.read(), "<stdin>", ["-" if args.script else "", *args.args]
    path = Path(args.script)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(f"can't open file {args.script!r}: {reason}") from None
    return source, args.script, [args.script, *args.args]


def run_program(args: argparse.Namespace, program: tuple[str, str, list[str]]) -> int:
    sink = StdioSink()
    session = _session(args, sink, inherit_stdin=program[1] != "<stdin>")
    return run_in(session, program, sink)


def run_module(args: argparse.Namespace, module: str, argv: list[str]) -> int:
    """`pylon -m MODULE ARGS`: the module as __main__ in the guest (runpy)."""
    sink = StdioSink()
    session = _session(args, sink, inherit_stdin=True)
    return run_in(session, ("", module, argv), sink, module=True)


def _session(args: argparse.Namespace, sink: StdioSink, *, inherit_stdin: bool) -> Session:
    """The session the flags ask for, its output on our stdio, builds shown on stderr."""
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.session import Session

    plan = flags.plan_from_args(args)
    return Session(
        plan, sink, progress=TerminalProgress(), inherit_stdin=inherit_stdin, tmp_mib=plan.tmp_mib
    )


def run_in(
    session: Session, program: tuple[str, str, list[str]], sink: StdioSink, module: bool = False
) -> int:
    """Run the program (or with `module`, the module named by its filename) in
    the session, then close it; the exit status it ends with."""
    from pylon_shell.session import call_interruptibly

    try:
        runtime = session.runtime
        source, filename, argv = program
        if module:
            outcome = call_interruptibly(runtime, lambda: runtime.run_module(filename, argv))
        else:
            outcome = call_interruptibly(
                runtime, lambda: runtime.run_program(source, filename, argv)
            )
    finally:
        session.close()
    shown = report.for_script(outcome)
    if shown.text:
        sink(2, shown.text.encode())
    assert shown.status is not None
    return shown.status
