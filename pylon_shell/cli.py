"""The command line of DESIGN.md; its exit statuses are the contract scripts rely on.

Status: the program's own; 2 for a usage or plan error; 1 for an uncaught
exception; 124 when --timeout ends the program; 130 after Ctrl+C.

Script mode imports neither the TUI nor the line REPL: start-up time matters.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from pylon_shell import __version__
from pylon_shell.caps.hosts import HostSpecError, parse_pattern
from pylon_shell.errors import PylonError, UsageError

if TYPE_CHECKING:
    from pylon_shell.plan import Plan

SUBCOMMANDS = ("plan", "build", "caps", "trace", "bench", "store")
EXIT_TIMEOUT = 124
EXIT_INTERRUPT = 130


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so every error takes one path."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see `{self.prog} --help`)")

    def _parse_optional(self, arg_string: str) -> object:
        # `--cap -sqlite` revokes a cap: "-sqlite" is a value, not an unknown option.
        from pylon_shell.caps.catalog import CAPS

        if arg_string[:1] == "-" and arg_string[1:] in CAPS:
            return None
        return super()._parse_optional(arg_string)  # type: ignore[misc]


def _add_plan_options(parser: argparse.ArgumentParser) -> None:
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


#: Largest --tmp-size, in MiB (1 TiB).
MAX_TMP_MIB = 1 << 20


def _tmp_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of MiB, got {text!r}") from None
    if not 0 <= value <= MAX_TMP_MIB:
        raise argparse.ArgumentTypeError(
            f"expected a number of MiB from 0 to {MAX_TMP_MIB}, got {text!r}"
        )
    return value


def tmp_mib(args: argparse.Namespace) -> int | None:
    """The /tmp size limit the flags ask for (None: no /tmp at all)."""
    from pylon_shell.options import DEFAULT_TMP_MIB

    size = getattr(args, "tmp_size", None)
    if size is None:
        return DEFAULT_TMP_MIB
    return size or None


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
    parser = _Parser(
        prog="pylon",
        description="Sandboxed Python in wasmtime: every power beyond computing is a cap.",
        epilog="subcommands: pylon plan show|validate|build, pylon trace SCRIPT, pylon caps, "
        "pylon bench, "
        "pylon build. "
        "Run a file named like a subcommand as ./NAME.",
    )
    _add_plan_options(parser)
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


# -- plans from the command line ---------------------------------------------


def load_plan_arg(value: Path) -> object:
    """`--plan FILE`, or the name of a shipped plan (`--plan data`) when no such
    file exists: the shipped ones are meant to be started from by name."""
    from pylon_shell import plan as plans

    name = str(value)
    if not value.is_file() and "/" not in name and not name.endswith(".json"):
        if plans.is_shipped(name):
            return plans.shipped(name)
    return plans.load(value)


def plan_from_args(args: argparse.Namespace) -> object:
    """The plan the user asked for: --plan FILE (or the default) plus the flags on top."""
    from pylon_shell import plan as plans
    from pylon_shell.options import Preopen
    from pylon_shell.plan import guest_path_problem, memory_problem

    base = load_plan_arg(args.plan) if args.plan else plans.shipped("default")
    if args.runtime and args.runtime != base.runtime:
        base = base.with_runtime(args.runtime)
    from pylon_shell.caps.catalog import CAPS

    caps = [] if args.no_caps else list(base.capabilities)
    for name in args.cap:
        revoke = name.startswith("-")
        cap = name.lstrip("-")
        if not cap:
            raise UsageError("--cap needs a cap name, e.g. --cap sqlite (or --cap -sqlite)")
        if cap not in CAPS:
            raise UsageError(
                f"--cap {name}: unknown cap {cap!r} (known: {', '.join(sorted(CAPS))})"
            )
        if revoke:
            caps = [c for c in caps if c != cap]
        elif cap not in caps:
            caps.append(cap)
    preopens = list(base.preopens)
    for spec in args.dir:
        preopen = _parse_dir(spec)
        problem = guest_path_problem(preopen.guest)
        if problem:
            raise UsageError(f"--dir {_shown(spec)}: {problem}")
        preopens = [p for p in preopens if p.guest != preopen.guest] + [Preopen(**vars(preopen))]
        if "fs" not in caps:
            caps.append("fs")  # --dir is a grant of the fs cap
    env = dict(base.env)
    for spec in args.env:
        key, sep, value = spec.partition("=")
        if not key:
            raise UsageError(f"--env {spec}: expected KEY=VALUE")
        if not sep:
            if key not in os.environ:
                raise UsageError(f"--env {key}: not set on the host; use --env {key}=VALUE")
            value = os.environ[key]
        env[key] = value
        if "env" not in caps:
            caps.append("env")  # --env is a grant of the env cap
    hosts = list(base.hosts)
    for spec in args.host:
        try:
            pattern = str(parse_pattern(spec))
        except HostSpecError as error:
            raise UsageError(f"--host {spec}: {error}") from None
        if pattern not in hosts:
            hosts.append(pattern)
        if "net" not in caps and "tls" not in caps:
            caps.append("tls")  # --host is a grant of the tls cap (plaintext needs --cap net)
    providers = dict(base.providers)
    for spec in args.provider:
        cap, _, name = spec.partition("=")
        if cap not in CAPS or name not in [p.name for p in CAPS[cap].providers]:
            raise UsageError(f"--provider {spec}: expected CAP=PROVIDER, see `pylon caps`")
        providers[cap] = name
    pins = _packages_from_args(args, base)
    memory = args.memory if args.memory is not None else base.memory_mib
    problem = memory_problem(base.runtime, memory)
    if problem:
        raise UsageError(f"--memory {memory}: {problem}")
    for name in base.unavailable:
        print(
            f"pylon: the plan's optional cap {_shown(name)!r} is not one pylon has; "
            "running without it",
            file=sys.stderr,
        )
    return replace(
        base,
        capabilities=tuple(caps),
        preopens=tuple(preopens),
        env=tuple(sorted(env.items())),
        hosts=tuple(hosts),
        providers=tuple(sorted(providers.items())),
        timeout_seconds=args.timeout if args.timeout is not None else base.timeout_seconds,
        memory_mib=memory,
        packages=pins,
    )


def _packages_from_args(args: argparse.Namespace, base: Plan) -> tuple[object, ...]:
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


def _parse_dir(spec: str) -> object:
    """HOST[:GUEST][:ro]; GUEST defaults to the host directory's absolute path."""
    from pylon_shell.options import Preopen

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


# -- running programs --------------------------------------------------------


class _StdioSink:
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


def _read_program(args: argparse.Namespace) -> tuple[str, str, list[str]] | None:
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
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.session import Session

    sink = _StdioSink()
    session = Session(
        plan_from_args(args),
        sink,
        progress=TerminalProgress(),
        inherit_stdin=program[1] != "<stdin>",
        tmp_mib=tmp_mib(args),
    )
    return _run_in(session, program, sink)


def run_module(args: argparse.Namespace, module: str, argv: list[str]) -> int:
    """`pylon -m MODULE ARGS`: the module as __main__ in the guest (runpy)."""
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.session import Session

    sink = _StdioSink()
    session = Session(
        plan_from_args(args),
        sink,
        progress=TerminalProgress(),
        inherit_stdin=True,
        tmp_mib=tmp_mib(args),
    )
    return _run_in(session, ("", module, argv), sink, module=True)


def _run_in(
    session: object, program: tuple[str, str, list[str]], sink: _StdioSink, module: bool = False
) -> int:
    """Run the program (or with `module`, the module named by its filename) in
    the session, then close it; the exit status it ends with."""
    from pylon_shell.runtimes.base import Exited, Ok, Raised, Trapped
    from pylon_shell.session import call_interruptibly

    try:
        runtime = session.runtime  # type: ignore[attr-defined]
        source, filename, argv = program
        if module:
            outcome = call_interruptibly(runtime, lambda: runtime.run_module(filename, argv))
        else:
            outcome = call_interruptibly(
                runtime, lambda: runtime.run_program(source, filename, argv)
            )
    finally:
        session.close()  # type: ignore[attr-defined]
    if isinstance(outcome, Ok):
        return 0
    if isinstance(outcome, Exited):
        return outcome.code & 0xFF if outcome.code >= 0 else 1
    if isinstance(outcome, Raised):
        # A cap denial is one line that says how to grant the cap, not a traceback.
        text = f"pylon: {outcome.denial}\n" if outcome.denial else outcome.traceback
        sink(2, text.encode())
        # python ends with 130 after an uncaught KeyboardInterrupt (Ctrl+C at input()).
        return EXIT_INTERRUPT if outcome.type_name == "KeyboardInterrupt" else 1
    assert isinstance(outcome, Trapped)
    if outcome.reason == "interrupt":
        sink(2, b"KeyboardInterrupt\n")
        return EXIT_INTERRUPT
    print(f"pylon: {outcome.message}", file=sys.stderr)
    return EXIT_TIMEOUT if outcome.reason == "timeout" else 1


# -- subcommands -------------------------------------------------------------


def cmd_plan(argv: Sequence[str]) -> int:
    from pylon_shell import plan as plans

    parser = _Parser(prog="pylon plan", description="Show, validate and build plans.")
    sub = parser.add_subparsers(dest="action", required=True, parser_class=_Parser)
    show = sub.add_parser("show", help="print the plan the other flags would run")
    _add_plan_options(show)
    validate = sub.add_parser("validate", help="check a plan file")
    validate.add_argument("file", type=Path)
    build = sub.add_parser("build", help="write a plan with its components' digests")
    _add_plan_options(build)
    build.add_argument("-o", "--output", type=Path, help="write here instead of stdout")
    args = parser.parse_args(argv)

    if args.action == "validate":
        plan = plans.load(args.file)
        caps = ", ".join(plan.capabilities) or "none"
        print(f"{args.file}: valid plan {plan.name!r} (runtime {plan.runtime}; caps: {caps})")
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


def _print_plan_digests(plan: Plan, stream: object) -> None:
    """The plan's digest (PlanV1's, as composectl computes it) and the digest
    of the whole plan with pylon's extras; see docs/plan-format.md."""
    print(f"plan digest sha256:{plan.digest()} (PlanV1 keys)", file=stream)  # type: ignore[call-overload]
    print(f"plan digest sha256:{plan.full_digest()} (with pylon's extras)", file=stream)  # type: ignore[call-overload]


def pin_digests(plan: object) -> object:
    """The plan with its provider components named and every builtin component's
    digest filled in from the build."""
    return plan.with_provider_components().pinned()  # type: ignore[attr-defined]


def cmd_store(argv: Sequence[str]) -> int:
    from pylon_shell.commands.store import main as store_main

    return store_main(argv, _Parser)


def cmd_caps(argv: Sequence[str]) -> int:
    import json

    from pylon_shell.caps.describe import catalog_json, catalog_text

    parser = _Parser(prog="pylon caps", description="Every cap pylon knows, and what serves it.")
    parser.add_argument("--json", action="store_true", help="print the catalog as JSON")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(catalog_json(), indent=2))
    else:
        sys.stdout.write(catalog_text())
    return 0


def cmd_trace(argv: Sequence[str]) -> int:
    from pylon_shell.caps.guestfs import GuestFS
    from pylon_shell.progress import TerminalProgress
    from pylon_shell.session import Session
    from pylon_shell.trace import Recorder, report_lines, smallest_plan

    parser = _Parser(
        prog="pylon trace",
        description="Run a script with every cap in audit mode; report what it used and "
        "write the smallest plan it runs under.",
    )
    _add_plan_options(parser)
    parser.add_argument("-o", "--output", type=Path, help="write the plan here")
    parser.add_argument("script", metavar="SCRIPT", help="the script to trace")
    parser.add_argument("args", nargs="*", metavar="ARGS", help="its arguments (after --)")
    args = parser.parse_args(argv)
    program = _read_program(argparse.Namespace(code=None, script=args.script, args=args.args))
    assert program is not None
    base = plan_from_args(args)
    sink = _StdioSink()
    session = Session(
        replace(base, capabilities=()),  # type: ignore[type-var]
        sink,
        progress=TerminalProgress(),
        inherit_stdin=args.script != "-",
        audit=True,
        tmp_mib=tmp_mib(args),
    )
    recorder = Recorder(GuestFS(list(base.preopens)))  # type: ignore[attr-defined]
    session.grants.subscribe(recorder)
    status = _run_in(session, program, sink)
    plan = smallest_plan(base, recorder, f"trace-{Path(args.script).stem}")  # type: ignore[arg-type]
    print(f"pylon trace: {args.script} exited {status}; it used:", file=sys.stderr)
    for line in report_lines(recorder, plan):
        print(line, file=sys.stderr)
    if status != 0:
        print("pylon trace: the plan covers only what ran before the script ended", file=sys.stderr)
    caps = ", ".join(plan.capabilities) or "none"
    if args.output is None:
        print(f"pylon trace: smallest plan: caps {caps} (write it with -o PLAN)", file=sys.stderr)
        return status
    pin_digests(plan).save(args.output)  # type: ignore[attr-defined]
    print(f"pylon trace: wrote {args.output} (caps: {caps})", file=sys.stderr)
    return status


def cmd_build(argv: Sequence[str]) -> int:
    from pylon_shell.build import build_all
    from pylon_shell.progress import TerminalProgress

    _Parser(prog="pylon build", description="(Re)build the runtime artifacts.").parse_args(argv)
    cpython, micropython = build_all(TerminalProgress())
    print(f"cpython      {cpython.root}  sha256:{cpython.wasm_sha256}")
    print(f"micropython  {micropython.wasm}  sha256:{micropython.wasm_sha256}")
    return 0


def cmd_bench(argv: list[str]) -> int:
    from pylon_shell.bench import main as bench

    return bench(argv)


# -- entry points ------------------------------------------------------------


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
            commands = {
                "plan": cmd_plan,
                "build": cmd_build,
                "caps": cmd_caps,
                "trace": cmd_trace,
                "bench": cmd_bench,
                "store": cmd_store,
            }
            return commands[argv[0]](argv[1:])
        own, module, module_args = split_module(argv)
        args = main_parser().parse_args(own if module is not None else argv)
        if module is not None:
            if args.code is not None or args.script is not None:
                raise UsageError("-m MODULE runs instead of a script or -c: give only one")
            return run_module(args, module, module_args)
        program = _read_program(args)
        if program is None:
            plan = plan_from_args(args)
            if plan.runtime == "command":
                from pylon_shell.runtimes.command import REPL_REFUSAL

                raise UsageError(REPL_REFUSAL.format(root=plan.root))
            if args.no_tui or not sys.stdout.isatty():
                from pylon_shell.repl import run_repl

                return run_repl(plan, tmp_mib=tmp_mib(args))
            return _run_tui(
                plan, prompt=not args.no_prompt, theme=args.theme, tmp_mib=tmp_mib(args)
            )
        return run_program(args, program)
    except PylonError as error:
        print(f"pylon: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        return EXIT_INTERRUPT
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
    status = run()
    # End without running finalizers: wasmtime's threads must not call back
    # into an interpreter that is being torn down.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(status)
