"""`pylon plan show | validate | build`: the plan the flags make, checked and pinned."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from pylon_shell.flags import Parser, add_plan_options, plan_from_args

if TYPE_CHECKING:
    from pylon_shell.plan import Plan


def main(argv: Sequence[str]) -> int:
    from pylon_shell import plan as plans

    parser = Parser(prog="pylon plan", description="Show, validate and build plans.")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=Parser)
    show = sub.add_parser("show", help="print the plan the other flags would run")
    add_plan_options(show)
    validate = sub.add_parser("validate", help="check a plan file")
    validate.add_argument("file", type=Path)
    build = sub.add_parser("build", help="write a plan with its components' digests")
    add_plan_options(build)
    build.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)

    if args.action == "validate":
        plan = plans.load(args.file)
        unchecked = check_built_digests(plan)
        caps = ", ".join(plan.capabilities) or "none"
        print(f"{args.file}: valid plan {plan.name!r} (runtime {plan.runtime}; caps: {caps})")
        for line in unchecked:
            print(line)
        _print_plan_digests(plan.pinned(), sys.stdout)
        return 0
    plan = plan_from_args(args)
    plan = pin_digests(plan) if args.action == "build" else plan.pinned()
    if args.action == "build" and args.output:
        plan.save(args.output)
        print(f"pylon: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(plan.dumps())
    _print_plan_digests(plan, sys.stderr)
    return 0


def check_built_digests(plan: Plan) -> list[str]:
    """Check each of pylon's own components the plan pins against the build,
    as `--plan` would at start (one line, DigestMismatch); never builds. The
    lines say what could not be checked yet. Component files and store
    entries were checked when the plan was loaded."""
    from pylon_shell import artifacts
    from pylon_shell.launch import check_digest

    built: dict[str, Callable[[], Any]] = {
        "cpython": artifacts.built_cpython,
        "micropython": artifacts.built_micropython,
        "sqlite-provider": artifacts.built_sqlite_provider,
    }
    unchecked = []
    for component in plan.components:
        find = built.get(component.builtin or "")
        if find is None or component.digest is None:
            continue
        found = find()
        if found is None:
            unchecked.append(
                f"component {component.id!r}: not built yet, its digest is checked when it is"
            )
            continue
        check_digest(component.id, component.digest, found.wasm_sha256)
    return unchecked


def _print_plan_digests(plan: Plan, stream: TextIO) -> None:
    """The plan's digest (PlanV1's, as composectl computes it) and the digest
    of the whole plan with pylon's extras; see docs/plan-format.md."""
    print(f"plan digest sha256:{plan.digest()} (PlanV1 keys)", file=stream)
    print(f"plan digest sha256:{plan.full_digest()} (with pylon's extras)", file=stream)


def pin_digests(plan: Plan) -> Plan:
    """The plan with its provider components named and every builtin component's
    digest filled in from the build."""
    return plan.with_provider_components().pinned()
