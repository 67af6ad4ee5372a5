"""The command line of DESIGN.md: parse, then hand over. Its exit statuses are
the contract scripts rely on (report.py: the program's own; 2 for a usage or
plan error; 1 for an uncaught exception; 124 when --timeout ends the program;
130 after Ctrl+C).

The plan's flags are flags.py's; a program runs in scripts.py; each
subcommand is a module of commands/ (bench: bench.py), imported only when
named. Script mode imports neither the TUI nor the line REPL: start-up time
matters.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pylon_shell import __version__, flags, report, scripts
from pylon_shell.errors import PylonError, UsageError
from pylon_shell.flags import Parser, add_plan_options

if TYPE_CHECKING:
    from pylon_shell.plan import Plan

#: Each subcommand and the module whose main(argv) runs it.
SUBCOMMANDS = {
    "plan": "pylon_shell.commands.plan",
    "build": "pylon_shell.commands.build",
    "caps": "pylon_shell.commands.caps",
    "trace": "pylon_shell.commands.trace",
    "bench": "pylon_shell.bench",
    "store": "pylon_shell.commands.store",
}


def _subcommand(name: str) -> Callable[[list[str]], int]:
    main: Callable[[list[str]], int] = importlib.import_module(SUBCOMMANDS[name]).main
    return main


#: Options of `pylon` that take a value, so `-m` is found where python finds it.
_VALUED = frozenset(
    (
        "--plan", "--cap", "--provider", "--dir", "--host", "--env", "--timeout",
        "--memory", "--tmp-size", "--theme", "-c", "--with", "--requirements",
    )
)


def split_module(argv: list[str]) -> tuple[list[str], str | None, list[str]]:
    """(pylon's own arguments, MODULE, its arguments) for `pylon ... -m MODULE ARGS`:
    everything after the module belongs to it, as with python -m."""
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break  # a script: the rest is its own
        if arg == "-m":
            if index + 1 >= len(argv):
                raise UsageError("-m needs a module name, e.g. -m json.tool")
            return argv[:index], argv[index + 1], argv[index + 2 :]
        if arg.startswith("-m") and not arg.startswith("--"):
            return argv[:index], arg[2:], argv[index + 1 :]
        if arg == "-c":
            break  # -c CODE: the rest are the code's arguments
        index += 2 if arg in _VALUED else 1
    return argv, None, []


def main_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="pylon",
        description="Sandboxed Python in wasmtime: every power beyond computing is a cap.",
        epilog="subcommands: pylon plan show|validate|build, pylon trace SCRIPT, pylon caps, "
        "pylon bench, "
        "pylon build. "
        "Run a file named like a subcommand as ./NAME.",
    )
    add_plan_options(parser)
    parser.add_argument("-c", dest="code", metavar="CODE", help="run this code and exit")
    parser.add_argument(
        "-m",
        dest="module",
        metavar="MODULE",
        help="run a module as __main__, as python -m does (the rest are its arguments)",
    )
    parser.add_argument("--no-tui", action="store_true", help="use the line REPL")
    parser.add_argument(
        "--no-prompt",
        action="store_true",
        help="in the TUI, refuse an ungranted cap instead of asking",
    )
    parser.add_argument(
        "--theme",
        choices=("dark", "light"),
        default="dark",
        help="the TUI's colours and code highlighting",
    )
    parser.add_argument("--version", action="version", version=f"pylon {__version__}")
    parser.add_argument("script", nargs="?", metavar="SCRIPT", help="run this file (- for stdin)")
    parser.add_argument(
        "args",
        nargs=argparse.REMAINDER,
        metavar="ARGS",
        help="arguments for the script (its sys.argv[1:])",
    )
    return parser


def _run_tui(plan: Plan, *, prompt: bool, theme: str, tmp_mib: int | None) -> int:
    """The TUI, after building what the runtime needs with a progress bar in
    the terminal (a first run takes a while; the TUI then starts at once)."""
    from pylon_shell.build import cpython_artifacts
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.tui.app import run_tui

    if plan.runtime == "cpython":
        cpython_artifacts(TerminalProgress())
    return run_tui(plan, prompt=prompt, theme=theme, tmp_mib=tmp_mib)


def run(argv: Sequence[str] | None = None) -> int:
    """Everything `pylon` does, returning its exit status; errors become one line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] in SUBCOMMANDS:
            return _subcommand(argv[0])(argv[1:])
        own, module, module_args = split_module(argv)
        args = main_parser().parse_args(own if module is not None else argv)
        if module is not None:
            if args.code is not None or args.script is not None:
                raise UsageError("-m MODULE runs instead of a script or -c: give only one")
            return scripts.run_module(args, module, module_args)
        program = scripts.read_program(args)
        if program is None:
            plan = flags.plan_from_args(args)
            if plan.runtime == "command":
                from pylon_shell.runtimes.command import REPL_REFUSAL

                raise UsageError(REPL_REFUSAL.format(root=plan.root))
            if args.no_tui or not sys.stdout.isatty():
                from pylon_shell.repl import run_repl

                return run_repl(plan, tmp_mib=plan.tmp_mib)
            return _run_tui(
                plan, prompt=not args.no_prompt, theme=args.theme, tmp_mib=plan.tmp_mib
            )
        return scripts.run_program(args, program)
    except PylonError as error:
        print(f"pylon: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return report.EXIT_INTERRUPT
    except Exception as error:  # noqa: BLE001 - a bug of ours still ends in one line
        return _internal_error(error)


def _internal_error(error: Exception) -> int:
    """Report a bug in pylon in one line, keeping the traceback in a log for the report."""
    from pylon_shell.errors import log_internal_error

    log = log_internal_error(error)
    where = f"; details in {log}" if log else ""
    print(f"pylon: internal error: {type(error).__name__}: {error}{where}", file=sys.stderr)
    return 1


def main() -> int:
    from pylon_shell import tmpfs

    tmpfs.enter()  # before any thread: the private /tmp's tmpfs needs it
    status = run()
    # End without running finalizers: wasmtime's threads must not call back
    # into an interpreter that is being torn down.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
