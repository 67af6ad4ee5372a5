"""Errors that end in one line for the user, never a traceback from pylon's own code.

Each carries the process status it should end with: 2 for anything the user can
fix in the command line or the plan (as DESIGN.md's contract says), 1 otherwise.
"""

from __future__ import annotations

from pathlib import Path


class PylonError(Exception):
    """A failure explained in one line; `status` is what pylon exits with."""

    status = 1

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status


class UsageError(PylonError):
    """The command line is wrong."""

    status = 2


class PlanError(PylonError):
    """The plan is invalid; the message starts with the JSON path of the problem."""

    status = 2

    def __init__(self, path: str, problem: str, *, source: str | None = None) -> None:
        where = f"{source}: " if source else ""
        # A path holds the plan's own keys, which may hold any character: the
        # message must stay one line whatever they are.
        shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in path)
        super().__init__(f"invalid plan: {where}{shown}: {problem}")
        self.path = path
        self.problem = problem


class DigestMismatch(PylonError):
    """A component's bytes do not match the digest the plan trusts."""

    status = 2


class BuildError(PylonError):
    """Building the runtime artifacts failed."""

    status = 1


def log_internal_error(error: BaseException) -> Path | None:
    """Keep the traceback of a bug in pylon for the bug report; the user sees one line."""
    import traceback

    from pylon_shell import paths

    log = paths.cache_dir() / "last-error.log"
    try:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text("".join(traceback.format_exception(error)))
    except OSError:
        return None
    return log
