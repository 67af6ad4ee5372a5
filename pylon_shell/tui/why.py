"""Why a call or an import was denied, and what would allow it: the detail the
Imports pane shows for a denied row (issue 15, item 5).

It names the cap, the grant that is missing (the cap itself, or for net and
tls the host), the way to allow it now in the TUI, in the line REPL and on
the command line, and the exact change to the plan file. The words are the
pane's and the denial's own: granted, denied, free. The TUI's way of granting
is `tui_grant`, which the denial's one line in the scrollback names too
(report.for_session swaps it in for the command line's `--cap NAME`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import Grants


def tui_grant(cap: str) -> str:
    """How the TUI grants `cap` now, as a denial's hint says it."""
    return f"the {cap} switch in the Caps panel (F2)"


@dataclass(frozen=True)
class Why:
    cap: str
    #: What was denied: "import of sqlite3", "connect example.com:443".
    what: str
    #: The grant that is missing, as a sentence; "" when it has been granted since.
    missing: str
    #: How to allow it now, in the TUI, the line REPL and on the command line.
    now: tuple[str, ...]
    #: The plan file's change that would allow it (JSON fragments).
    plan_change: str
    #: Whether what is missing is a host, not the cap.
    host: str | None = None

    def text(self) -> str:
        """The detail as plain lines (the why screen shows them with markup)."""
        lines = [f"denied: {self.what}", f"cap: {self.cap}"]
        lines.append(f"missing: {self.missing}" if self.missing else "granted since: run it again")
        lines += [f"allow it: {way}" for way in self.now]
        lines += ["plan change:", self.plan_change]
        return "\n".join(lines)


def explain(
    grants: Grants, cap: str, operation: str, target: str, *, is_import: bool = False
) -> Why:
    """Why `cap` denied `operation target` (an import when `is_import`), as the
    grants stand now."""
    what = f"import of {target}" if is_import else f"{operation} {target}".strip()
    per_host = cap in CAPS and CAPS[cap].per_host and not is_import
    if grants.is_granted(cap) and per_host and not grants.reaches(cap, target):
        # The cap is granted, the host is not among the plan's.
        allowlist = ", ".join(map(str, grants.hosts)) or "none"
        return Why(
            cap,
            what,
            f"{target} is not among the hosts the {cap} cap may reach ({allowlist})",
            (f"here: g (allows {target} for this session)", f"the command line: --host {target}"),
            _fragment({"hosts": [*map(str, grants.hosts), target]}),
            host=target,
        )
    granted = grants.reaches(cap, target) if per_host else grants.is_granted(cap)
    missing = "" if granted else f"the {cap} cap is not granted"
    now = (
        "here: g (for this session)",
        f"the Caps panel: F2, then Space on the {cap} switch (or Ctrl+P → Grant {cap})",
        f"the line REPL: :grant {cap}",
        f"the command line: --cap {cap}",
    )
    change: dict[str, object] = {
        "policy": {"capabilities": [{"name": cap, "level": "required"}]},
    }
    host = None
    if per_host and target and not _listed(grants, target):
        change["hosts"] = [*map(str, grants.hosts), target]
        host = target
    return Why(cap, what, missing, now, _fragment(change), host=host)


def _fragment(change: dict[str, object]) -> str:
    """The keys of the plan to add, as they read in the file (added to what is there)."""
    return json.dumps(change)


def _listed(grants: Grants, target: str) -> bool:
    """Whether `target` is in the allowlist: what a table with the same hosts
    and every per-host cap granted would let through."""
    per_host = [cap for cap in CAPS if CAPS[cap].per_host]
    return Grants(per_host, hosts=grants.hosts).reaches(per_host[0], target)
