"""The line REPL's meta-commands (`:caps`, `:grant NAME`, ...): what the TUI's
panels and keys do, for plain terminals. Each returns the text to print."""

from __future__ import annotations

from collections.abc import Callable

from pylon_shell.caps.catalog import CAPS, choose_providers
from pylon_shell.errors import UsageError
from pylon_shell.plan import memory_problem, save_target
from pylon_shell.session import Session

HELP = """\
:caps              every cap: granted or not, its provider and enforcement
:grant NAME        grant a cap (the next import or call sees it)
:revoke NAME       revoke a cap
:plan              the plan as the grants have made it (JSON)
:save [FILE]       write that plan to FILE (default: the plan's own file, or
                   NAME.json here; never a plan shipped with pylon)
:runtime cp|mp     restart on CPython or MicroPython with the same plan
:save-session FILE write this session's inputs to FILE as a Python program
:help              this list"""

RUNTIMES = {
    "cp": "cpython",
    "cpython": "cpython",
    "mp": "micropython",
    "micropython": "micropython",
}


class MetaError(Exception):
    """A meta-command that cannot be done; its message is the one line to show."""


def run_meta(session: Session, line: str) -> str:
    name, _, argument = line[1:].strip().partition(" ")
    argument = argument.strip()
    commands: dict[str, Callable[[Session, str], str]] = {
        "caps": _caps,
        "grant": lambda s, argument: _set(s, argument, "grant"),
        "revoke": lambda s, argument: _set(s, argument, "revoke"),
        "plan": lambda s, _: s.current_plan().dumps().rstrip("\n"),
        "save": _save,
        "runtime": _runtime,
        "save-session": _save_session,
        "help": lambda _s, _a: HELP,
    }
    command = commands.get(name)
    if command is None:
        raise MetaError(f"unknown command :{name}; :help lists them")
    return command(session, argument)


def _save_session(session: Session, target: str) -> str:
    try:
        path = session.transcript.save(target)
    except UsageError as error:
        raise MetaError(str(error)) from None
    count = len(session.transcript.inputs)
    return f"saved {count} input{'s' if count != 1 else ''} to {path}"


def _caps(session: Session, _: str) -> str:
    chosen = choose_providers(session.plan.runtime, dict(session.plan.providers))
    lines = []
    for cap in CAPS.values():
        mark = "on " if session.grants.is_granted(cap.name) else "off"
        if cap.name in chosen:
            provider = cap.provider(chosen[cap.name])
            how = f"{provider.name} ({provider.kind}, {provider.enforcement})"
        else:
            how = f"not on {session.plan.runtime}"
        lines.append(f"  {mark}  {cap.name:<12} {how}")
    hosts = ", ".join(str(h) for h in session.grants.hosts)
    if hosts:
        lines.append(f"  hosts (net, tls): {hosts}")
    return "\n".join(lines)


def _cap_name(argument: str, verb: str) -> str:
    if argument not in CAPS:
        known = ", ".join(CAPS)
        raise MetaError(
            f":{verb} needs a cap name ({known})"
            if not argument
            else f"unknown cap {argument!r} (known: {known})"
        )
    return argument


def _set(session: Session, argument: str, verb: str) -> str:
    """:grant NAME or :revoke NAME."""
    cap = _cap_name(argument, verb)
    session.grants.set(cap, verb == "grant")
    when = "" if CAPS[cap].live else " (applies at the next restart)"
    return f"{verb.removesuffix('e')}ed {cap}{when}"


def _save(session: Session, argument: str) -> str:
    """:save [FILE]: to FILE, else where plan.save_target says (never into a
    plan pylon ships); the reply names the absolute path written."""
    plan = session.current_plan()
    target = save_target(plan, argument or None)
    try:
        plan.save(target)
    except UsageError as error:
        raise MetaError(f"could not write {target}: {error}") from None
    except OSError as error:
        raise MetaError(f"could not write {target}: {error.strerror or error}") from None
    return f"saved the plan to {target}"


def _runtime(session: Session, argument: str) -> str:
    runtime = RUNTIMES.get(argument)
    if runtime is None:
        raise MetaError(":runtime needs cp or mp")
    problem = memory_problem(runtime, session.plan.memory_mib)
    if problem:
        raise MetaError(f"cannot switch runtimes: {problem} (the plan's memory limit)")
    version = session.switch(runtime).version
    return f"switched to {version} with the same plan (earlier state is lost)"
