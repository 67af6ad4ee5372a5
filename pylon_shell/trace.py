"""`pylon trace`: run a script with every cap in audit mode and learn the smallest plan.

Audit mode allows every request and records it, so the script runs as it
would with everything granted. What it used decides the plan: a cap is in it
only if an import or a call reached it, a directory only if a file in it was
opened (directly, or by SQLite or DuckDB), a host only if a connection to it
succeeded (a failed or refused connect, or a name such as `*` that is a
pattern, would widen the plan to hosts the script never reached); a connection
that only ever carried TLS needs tls, not net. The environment is the exception:
reads of it are not observed, so variables given with --env are kept as given.
Packages from PyPI stay only if a module of theirs was imported.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.caps.hosts import HostSpecError, parse_pattern
from pylon_shell.packages import Pin, top_level_names
from pylon_shell.plan import Plan

#: Cap calls whose target is a database file: they reach the fs cap too.
_FILE_OPERATIONS = {("sqlite", "open"), ("duckdb", "connect")}
#: tls calls that need the tls cap itself (a connect alone may be plaintext).
_TLS_WORK = {"handshake", "https"}


@dataclass
class Hit:
    """What reached one cap during the run.

    The collections are dicts used as ordered sets (values unused): a run can
    send tens of thousands of events, and a membership test on a list made
    recording quadratic (45,000 file events took 11-19 s)."""

    cap: str
    imports: dict[tuple[str, str], None] = field(default_factory=dict)
    calls: int = 0
    files: dict[str, None] = field(default_factory=dict)
    #: The exact host:port the cap reached (net, tls): connections that succeeded.
    hosts: dict[str, None] = field(default_factory=dict)
    operations: set[str] = field(default_factory=set)


class Recorder:
    """Listens to a session's grants and keeps the hits, per cap."""

    def __init__(self, fs: GuestFS) -> None:
        self._fs = fs
        self.hits: dict[str, Hit] = {}
        #: Guest paths outside every preopen (an ordered set, as in Hit).
        self.refused_files: dict[str, None] = {}
        #: The top-level names of every module the guest loaded (for its packages).
        self.modules: set[str] = set()

    def _hit(self, cap: str) -> Hit:
        hit = self.hits.get(cap)
        if hit is None:
            hit = self.hits[cap] = Hit(cap)
        return hit

    def _file(self, path: str) -> None:
        self._hit("fs").files[path] = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, ImportEvent):
            self.modules.add(event.module.partition(".")[0])
            # Importing socket or ssl needs no grant: only their calls count.
            if event.cap in CAPS and CAPS[event.cap].modules:
                self._hit(event.cap).imports[(event.module, event.importer)] = None
        elif isinstance(event, CapCallEvent) and event.cap in CAPS:
            if event.cap == "fs":
                if event.granted:
                    self._file(event.target)
                else:
                    self.refused_files[event.target] = None
                return
            self._hit(event.cap).calls += 1
            self._hit(event.cap).operations.add(event.operation)
            if CAPS[event.cap].per_host and event.ok and exact_host(event.target):
                self._hit(event.cap).hosts[event.target] = None
            if (event.cap, event.operation) in _FILE_OPERATIONS and self._fs.to_host(event.target):
                self._file(event.target)


def exact_host(target: str) -> bool:
    """Whether `target` names one host and port (`example.com:443`), not a
    pattern (`*:443`, `*.example.com:443`, `example.com:*`) a replay would
    widen to other hosts."""
    try:
        pattern = parse_pattern(target)
    except HostSpecError:
        return False
    return pattern.port is not None and not pattern.host.startswith("*")


def smallest_plan(base: Plan, recorder: Recorder, name: str) -> Plan:
    """`base` cut down to what the run used."""
    fs = GuestFS(list(base.preopens))
    used_roots = set()
    for path in recorder.hits.get("fs", Hit("fs")).files:
        for preopen in fs.preopens:  # longest first: the directory that holds it
            if path == preopen.guest or path.startswith(preopen.guest.rstrip("/") + "/"):
                used_roots.add(preopen.guest)
                break
    caps = [cap for cap in CAPS if cap in recorder.hits and cap not in ("fs", "env")]
    tls = recorder.hits.get("tls")
    if tls is not None and not tls.operations & _TLS_WORK and "net" in caps:
        # In audit mode every connection starts as TLS-only; this script's
        # never shook hands, so net alone runs it.
        caps.remove("tls")
    hosts: dict[str, None] = {}
    for hit in recorder.hits.values():
        hosts.update(hit.hosts)
    preopens = tuple(p for p in base.preopens if p.guest in used_roots)
    packages = tuple(p for p in base.packages if _imported(p, recorder.modules))
    if preopens:
        caps.append("fs")
    if base.env:
        caps.append("env")
    return replace(
        base,
        name=name,
        capabilities=tuple(caps),
        preopens=preopens,
        hosts=tuple(hosts),
        packages=packages,
        source=None,
        shipped=False,
    )


def _imported(pin: Pin, modules: set[str]) -> bool:
    """Whether the run imported a module of the package (kept if the store has
    no record of its modules: a replay needs it more than a smaller plan)."""
    names = top_level_names(pin)
    return names is None or bool(names & modules)


def report_lines(recorder: Recorder, plan: Plan) -> list[str]:
    lines = []
    if plan.packages:
        lines.append(f"  packages  {', '.join(p.label for p in plan.packages)}")
    for cap in CAPS:
        hit = recorder.hits.get(cap)
        if cap == "env" and plan.env:
            keys = ", ".join(key for key, _ in plan.env)
            lines.append(f"  env       {keys} (given with --env; reads are not observed)")
        if hit is None:
            continue
        if cap == "fs":
            lines.append(f"  fs        {', '.join(hit.files)}")
            continue
        where = ", ".join(f"{module} (from {importer})" for module, importer in hit.imports)
        calls = f"; {hit.calls} call{'s' if hit.calls != 1 else ''}" if hit.calls else ""
        hosts = f"; to {', '.join(hit.hosts)}" if hit.hosts else ""
        lines.append(f"  {cap:<9} {where or 'no import'}{calls}{hosts}")
    for path in recorder.refused_files:
        lines.append(f"  (refused) {path}: outside every directory given with --dir")
    return lines or ["  no caps: the script only computed"]
