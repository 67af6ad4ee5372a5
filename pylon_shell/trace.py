"""`pylon trace`: run a script with every cap in audit mode and learn the smallest plan.

Audit mode allows every request and records it, so the script runs as it
would with everything granted. What it used decides the plan: a cap is in it
only if an import or a call reached it, a directory only if a file in it was
opened (directly, or by SQLite or DuckDB), a host only if a connection went to
it; a connection that only ever carried TLS needs tls, not net. The environment is the exception:
reads of it are not observed, so variables given with --env are kept as given.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent
from pylon_shell.caps.guestfs import GuestFS
from pylon_shell.plan import Plan

#: Cap calls whose target is a database file: they reach the fs cap too.
_FILE_OPERATIONS = {("sqlite", "open"), ("duckdb", "connect")}
#: tls calls that need the tls cap itself (a connect alone may be plaintext).
_TLS_WORK = {"handshake", "https"}


@dataclass
class Hit:
    """What reached one cap during the run."""

    cap: str
    imports: list[tuple[str, str]] = field(default_factory=list)
    calls: int = 0
    files: list[str] = field(default_factory=list)
    #: host:port the cap reached (net, tls).
    hosts: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)


class Recorder:
    """Listens to a session's grants and keeps the hits, per cap."""

    def __init__(self, fs: GuestFS) -> None:
        self._fs = fs
        self.hits: dict[str, Hit] = {}
        self.refused_files: list[str] = []

    def _hit(self, cap: str) -> Hit:
        return self.hits.setdefault(cap, Hit(cap))

    def _file(self, path: str) -> None:
        files = self._hit("fs").files
        if path not in files:
            files.append(path)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ImportEvent):
            # Importing socket or ssl needs no grant: only their calls count.
            if event.cap in CAPS and CAPS[event.cap].modules:
                imports = self._hit(event.cap).imports
                if (event.module, event.importer) not in imports:
                    imports.append((event.module, event.importer))
        elif isinstance(event, CapCallEvent) and event.cap in CAPS:
            if event.cap == "fs":
                if event.granted:
                    self._file(event.target)
                elif event.target not in self.refused_files:
                    self.refused_files.append(event.target)
                return
            if event.operation != "import":
                self._hit(event.cap).calls += 1
                self._hit(event.cap).operations.add(event.operation)
            if CAPS[event.cap].per_host and event.target not in self._hit(event.cap).hosts:
                self._hit(event.cap).hosts.append(event.target)
            if (event.cap, event.operation) in _FILE_OPERATIONS and self._fs.to_host(event.target):
                self._file(event.target)


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
    hosts: list[str] = []
    for hit in recorder.hits.values():
        hosts.extend(host for host in hit.hosts if host not in hosts)
    preopens = tuple(p for p in base.preopens if p.guest in used_roots)
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
        source=None,
    )


def report_lines(recorder: Recorder, plan: Plan) -> list[str]:
    lines = []
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
