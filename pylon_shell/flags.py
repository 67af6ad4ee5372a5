"""The flags that shape a plan, shared by `pylon` and its subcommands.

`--cap`, `--dir`, `--env`, `--host`, `--provider`, `--with`, `--timeout`,
`--memory`, `--tmp-size` mean the same everywhere (pylon, plan show/build,
trace): each is parsed here and laid over the plan with one of the Plan's
own methods, whose one-line refusal is shown after the flag that asked.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from pylon_shell.caps.hosts import HostSpecError, parse_pattern
from pylon_shell.errors import UsageError
from pylon_shell.options import Preopen

if TYPE_CHECKING:
    from pylon_shell.packages import Pin
    from pylon_shell.plan import Plan


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every error takes one path."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    # argparse's private hook; its return type changed in Python 3.12 (a list).
    def _parse_optional(self, arg_string: str) -> Any:
        # `--cap -sqlite` revokes a cap: "-sqlite" is a value, not an unknown option.
        from pylon_shell.caps.catalog import CAPS

        if arg_string[:1] == "-" and arg_string[1:] in CAPS:
            return None
        return super()._parse_optional(arg_string)


def add_plan_options(parser: argparse.ArgumentParser) -> None:
    runtime = parser.add_mutually_exclusive_group()
    runtime.add_argument(
        "--cp",
        dest="runtime",
        action="store_const",
        const="cpython",
        help="CPython 3.14 (the default)",
    )
    runtime.add_argument(
        "--mp", dest="runtime", action="store_const", const="micropython", help="MicroPython"
    )
    parser.add_argument("--plan", metavar="FILE", type=Path, help="start from this plan")
    parser.add_argument(
        "--cap",
        metavar="NAME",
        action="append",
        default=[],
        help="grant a cap (-NAME revokes it) on top of the plan",
    )
    parser.add_argument("--no-caps", action="store_true", help="revoke every cap of the plan")
    parser.add_argument(
        "--provider",
        metavar="CAP=NAME",
        action="append",
        default=[],
        help="choose a cap's provider, e.g. sqlite=component",
    )
    parser.add_argument(
        "--dir",
        metavar="HOST[:GUEST][:ro]",
        action="append",
        default=[],
        help="let the guest see a host directory (the fs cap)",
    )
    parser.add_argument(
        "--host",
        metavar="HOST:PORT",
        action="append",
        default=[],
        help="let the net and tls caps reach this host (*.domain and * match many); "
        "grants tls unless net or tls is granted",
    )
    parser.add_argument(
        "--env",
        metavar="KEY=VALUE",
        action="append",
        default=[],
        help="pass one environment variable (KEY alone passes the host's value)",
    )
    parser.add_argument(
        "--with",
        dest="with_specs",
        metavar="SPEC",
        action="append",
        default=[],
        help="a pure-Python package from PyPI on the guest's sys.path (CPython), "
        "e.g. --with attrs or --with 'requests>=2.32'; pinned in the plan",
    )
    parser.add_argument(
        "--requirements",
        metavar="FILE",
        type=Path,
        action="append",
        default=[],
        help="the packages of a requirements file (one NAME[==VERSION] a line), as --with",
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        type=_positive_float,
        help="stop guest code that runs longer than this",
    )
    parser.add_argument(
        "--memory",
        metavar="MIB",
        type=_positive_int,
        help="limit the guest's memory (and what DuckDB holds for it)",
    )
    parser.add_argument(
        "--tmp-size",
        metavar="MIB",
        type=_tmp_size,
        default=None,
        help="size of the session's private /tmp (default 256; 0 gives no /tmp)",
    )


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not 0 < value < 10**9:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= value <= 4096:
        raise argparse.ArgumentTypeError(f"expected a number of MiB from 1 to 4096, got {text!r}")
    return value


def _tmp_size(text: str) -> int:
    from pylon_shell.plan import MAX_TMP_MIB

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of MiB, got {text!r}") from None
    if not 0 <= value <= MAX_TMP_MIB:
        raise argparse.ArgumentTypeError(
            f"expected a number of MiB from 0 to {MAX_TMP_MIB}, got {text!r}"
        )
    return value


def plan_from_args(args: argparse.Namespace) -> Plan:
    """The plan the user asked for: --plan FILE (or the default) plus the flags on top."""
    from pylon_shell import plan as plans

    # `--plan FILE`, or a shipped plan by name (`--plan data`): plan.load_named's rule.
    plan = plans.load_named(args.plan) if args.plan else plans.shipped("default")
    if args.runtime and args.runtime != plan.runtime:
        plan = plan.with_runtime(args.runtime)
    if args.no_caps:
        plan = replace(plan, capabilities=())
    for name in args.cap:
        cap = name.lstrip("-")
        if not cap:
            raise UsageError("--cap needs a cap name, e.g. --cap sqlite (or --cap -sqlite)")
        try:
            plan = plan.revoking(cap) if name.startswith("-") else plan.granting(cap)
        except ValueError as error:
            raise UsageError(f"--cap {_shown(name)}: {error}") from None
    for spec in args.dir:
        try:
            plan = plan.with_preopen(_parse_dir(spec))
        except ValueError as error:
            raise UsageError(f"--dir {_shown(spec)}: {error}") from None
    for spec in args.env:
        key, sep, value = spec.partition("=")
        if key and not sep:
            if key not in os.environ:
                raise UsageError(f"--env {_shown(key)}: not set on the host; use --env {key}=VALUE")
            value = os.environ[key]
        try:
            plan = plan.with_env(key, value)
        except ValueError as error:
            raise UsageError(f"--env {_shown(spec)}: {error}") from None
    for spec in args.host:
        try:
            plan = plan.with_host(str(parse_pattern(spec)))
        except HostSpecError as error:
            raise UsageError(f"--host {_shown(spec)}: {error}") from None
    for spec in args.provider:
        cap, sep, name = spec.partition("=")
        if not sep or not cap or not name:
            raise UsageError(f"--provider {_shown(spec)}: expected CAP=PROVIDER, see `pylon caps`")
        try:
            plan = plan.with_provider(cap, name)
        except ValueError as error:
            raise UsageError(f"--provider {_shown(spec)}: {error}") from None
    try:
        plan = plan.with_limits(args.timeout, args.memory)
    except ValueError as error:
        raise UsageError(f"--memory {args.memory}: {error}") from None
    if getattr(args, "tmp_size", None) is not None:
        plan = replace(plan, tmp_size_mib=args.tmp_size)
    plan = replace(plan, packages=_packages_from_args(args, plan))
    for name in plan.unavailable:
        print(
            f"pylon: the plan's optional cap {_shown(name)!r} is not one pylon has; "
            "running without it",
            file=sys.stderr,
        )
    return plan


def _packages_from_args(args: argparse.Namespace, base: Plan) -> tuple[Pin, ...]:
    """The plan's packages with --with and --requirements resolved on top (by pip,
    or from the store when this set was resolved before)."""
    if not args.with_specs and not args.requirements:
        return base.packages
    from pylon_shell import packages

    specs = [packages.check_spec(spec, f"--with {_shown(spec)}") for spec in args.with_specs]
    for file in args.requirements:
        specs += packages.read_requirements(file)
    if not specs:
        return base.packages
    runtime = args.runtime or base.runtime
    if runtime != "cpython":
        raise UsageError(f"--with: {packages.MICROPYTHON_REFUSAL}")
    from pylon_shell.progress import TerminalProgress

    return packages.resolve(specs, base.packages, TerminalProgress(intro=None))


def _shown(text: str) -> str:
    """`text` for a one-line message: control characters (a newline, NUL) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _parse_dir(spec: str) -> Preopen:
    """HOST[:GUEST][:ro]; GUEST defaults to the host directory's absolute path."""
    parts = spec.split(":")
    readonly = len(parts) > 1 and parts[-1] == "ro"
    if readonly:
        parts = parts[:-1]
    shown = _shown(spec)
    if len(parts) > 2 or not parts[0]:
        raise UsageError(f"--dir {shown}: expected HOST[:GUEST][:ro], e.g. --dir data:/data:ro")
    if len(parts) == 2 and not parts[1]:
        raise UsageError(
            f"--dir {shown}: the guest path after ':' is empty; "
            f"write --dir {_shown(parts[0])}:/data, or leave out the ':'"
        )
    if "\x00" in parts[0]:
        raise UsageError(f"--dir {shown}: a host path cannot contain NUL")
    host = Path(parts[0]).expanduser()
    if not host.is_dir():
        raise UsageError(f"--dir {shown}: {_shown(parts[0])} is not a directory on the host")
    host = host.resolve()
    guest = parts[1] if len(parts) == 2 else host.as_posix()
    return Preopen(host, guest, readonly)


