"""`pylon trace SCRIPT`: run it with every cap in audit mode, report what it used,
and write the smallest plan it runs under (trace.py does the recording)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from pylon_shell.commands.plan import pin_digests
from pylon_shell.errors import UsageError
from pylon_shell.flags import Parser, add_plan_options, plan_from_args
from pylon_shell.scripts import StdioSink, read_program, run_in


def main(argv: Sequence[str]) -> int:
    from pylon_shell.caps.guestfs import GuestFS
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.session import Session
    from pylon_shell.trace import Recorder, report_lines, smallest_plan

    parser = Parser(
        prog="pylon trace",
        description="Run a script with every cap in audit mode; report what it used and "
        "write the smallest plan it runs under.",
    )
    add_plan_options(parser)
    parser.add_argument("-o", "--output", type=Path, help="write the plan here")
    parser.add_argument("script", nargs="?", metavar="SCRIPT", help="the script to trace")
    parser.add_argument("args", nargs="*", metavar="ARGS", help="its arguments (after --)")
    args = parser.parse_args(argv)
    if args.script is None:
        raise UsageError("pylon trace needs the script to run: pylon trace [FLAGS] SCRIPT [ARGS]")
    program = read_program(argparse.Namespace(code=None, script=args.script, args=args.args))
    assert program is not None
    base = plan_from_args(args)
    sink = StdioSink()
    session = Session(
        replace(base, capabilities=()),
        sink,
        progress=TerminalProgress(),
        inherit_stdin=args.script != "-",
        audit=True,
        tmp_mib=base.tmp_mib,
    )
    recorder = Recorder(GuestFS(list(base.preopens)))
    session.grants.subscribe(recorder)
    status = run_in(session, program, sink)
    plan = smallest_plan(base, recorder, f"trace-{Path(args.script).stem}")
    print(f"pylon trace: {args.script} exited {status}; it used:", file=sys.stderr)
    for line in report_lines(recorder, plan):
        print(line, file=sys.stderr)
    if status != 0:
        print("pylon trace: the plan covers only what ran before the script ended", file=sys.stderr)
    caps = ", ".join(plan.capabilities) or "none"
    if args.output is None:
        print(f"pylon trace: smallest plan: caps {caps} (write it with -o PLAN)", file=sys.stderr)
        return status
    pin_digests(plan).save(args.output)
    print(f"pylon trace: wrote {args.output} (caps: {caps})", file=sys.stderr)
    return status
