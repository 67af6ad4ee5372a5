"""The live grants table, and the events every import and cap call produces.

The host checks this table on every boundary call, so a toggle (from the TUI,
a REPL meta-command or a permission prompt) applies to the next call without
restarting the interpreter. Listeners (the imports pane, `pylon trace`, the
line REPL) subscribe to the events.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from pylon_shell.caps import registry
from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.hosts import HostPattern, as_pattern, split_target

#: What a permission prompt answers.
Decision = Literal["once", "session", "deny"]
#: Asks the user about a denied request: (cap, operation, target) -> decision.
Prompter = Callable[[str, str, str], Decision]


class CapDenied(PermissionError):
    """A boundary call the grants refused; its message is `Grants.denial`."""


@dataclass(frozen=True)
class ImportEvent:
    """A module was loaded in the guest; `cap` is the cap it needed, or
    "stdlib"/"builtin" when it needed none."""

    module: str
    importer: str
    cap: str
    granted: bool
    toplevel: bool
    at: float = field(default_factory=time.time)
    provider: str | None = None
    #: A module the cap serves whose import needs no grant (ssl, socket): its
    #: calls are checked instead.
    free: bool = False
    #: How the grants decided (CapCallEvent.decided_by); "" when no cap was asked.
    decided_by: str = ""


@dataclass(frozen=True)
class CapCallEvent:
    """A call across a cap's boundary (or a policy check), and what the grants said."""

    cap: str
    operation: str
    target: str
    granted: bool
    duration: float = 0.0
    at: float = field(default_factory=time.time)
    #: "grant", "audit", "prompt-once", "prompt-session", "prompt-deny" or "deny".
    decided_by: str = "grant"
    #: False when the call was allowed but failed (a refused connect, a codec
    #: error): `pylon trace` learns only from calls that reached their target.
    ok: bool = True


@dataclass(frozen=True)
class GrantChanged:
    cap: str
    granted: bool


Event = ImportEvent | CapCallEvent | GrantChanged
Listener = Callable[[Event], None]


class Grants:
    """Which caps are granted right now. Thread-safe: the guest's thread asks,
    the UI's thread toggles."""

    def __init__(
        self,
        granted: Iterable[str] = (),
        *,
        hosts: Iterable[str | HostPattern] = (),
        audit: bool = False,
        prompter: Prompter | None = None,
    ) -> None:
        self._granted = set(granted)
        self._hosts = [as_pattern(h) for h in hosts]
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        #: Audit mode (`pylon trace`): every request is allowed and recorded.
        self.audit = audit
        self.prompter = prompter

    @property
    def granted(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._granted)

    def is_granted(self, cap: str) -> bool:
        with self._lock:
            return cap in self._granted

    def set(self, cap: str, granted: bool) -> None:
        with self._lock:
            changed = (cap in self._granted) != granted
            if granted:
                self._granted.add(cap)
            else:
                self._granted.discard(cap)
        if changed:
            self.publish(GrantChanged(cap, granted))

    def grant(self, cap: str) -> None:
        self.set(cap, True)

    def reset(self, granted: Iterable[str], hosts: Iterable[str | HostPattern]) -> None:
        """Start over from a plan's grants (a plan loaded in a running session);
        listeners hear of each cap that changed."""
        wanted = set(granted)
        with self._lock:
            self._hosts = [as_pattern(h) for h in hosts]
        for cap in sorted(wanted | self.granted):
            self.set(cap, cap in wanted)

    @property
    def hosts(self) -> tuple[HostPattern, ...]:
        """The allowlist of the caps that reach hosts (net, tls)."""
        with self._lock:
            return tuple(self._hosts)

    def allow_host(self, pattern: str | HostPattern) -> None:
        pattern = as_pattern(pattern)
        with self._lock:
            if pattern not in self._hosts:
                self._hosts.append(pattern)

    def _host_listed(self, cap: str, target: str) -> bool:
        """True unless `cap` reaches hosts and `target` (host:port) is not listed."""
        if not _per_host(cap):
            return True
        where = split_target(target)
        return where is not None and any(p.matches(*where) for p in self.hosts)

    def reaches(self, cap: str, target: str) -> bool:
        """Whether the grants alone (no audit, no prompt) allow `cap` to `target`."""
        return self.is_granted(cap) and self._host_listed(cap, target)

    def revoke(self, cap: str) -> None:
        self.set(cap, False)

    def _decide(self, cap: str, operation: str, target: str) -> tuple[bool, str]:
        """The answer of the table, or of the user when a prompter is set and the
        table says no; with how it was decided."""
        if self.reaches(cap, target):
            return True, "grant"
        if self.audit:
            return True, "audit"
        if self.prompter is not None:
            decision = self.prompter(cap, operation, target)
            if decision == "session":
                if not self._host_listed(cap, target):
                    self.allow_host(target)
                self.grant(cap)
            return decision != "deny", f"prompt-{decision}"
        return False, "deny"

    def denial(self, cap: str, operation: str, target: str) -> str:
        """The one line for a refused call: the cap is not granted, or the host
        it was to reach is not in the allowlist."""
        listed = self._host_listed(cap, target)
        if self.is_granted(cap) and not listed:
            allowlist = ", ".join(map(str, self.hosts)) or "none"
            return (
                f"{target} is not among the hosts this plan lets the {cap} cap reach "
                f"({allowlist}); allow it with --host {target}"
            )
        if not _per_host(cap):
            return denial_message(cap, operation, target)
        package = registry.defining(cap)
        if package is not None and package.fix is not None:
            fix = package.fix(operation, target, listed)
        else:
            fix = f"--cap {cap}" if listed else f"--cap {cap} --host {target}"
        return f"the {cap} cap is not granted ({operation} {target}); grant it with {fix}"

    def still_allows(self, cap: str, target: str, decided_by: str) -> bool:
        """Whether a call that continues an allowed one (data on an open
        connection) may go on: it may, unless the grant that allowed it has been
        revoked since. Not published, so a stream of reads does not flood the
        monitor; what the user allowed once stays allowed for that connection."""
        return decided_by != "grant" or self.reaches(cap, target)

    def decide(self, cap: str, operation: str, target: str) -> tuple[bool, str]:
        """Decide one check without publishing it (the caller publishes the
        event that says what was decided): (allowed, how)."""
        return self._decide(cap, operation, target)

    def request(self, cap: str, operation: str, target: str) -> bool:
        """Decide one check that is not itself a call (an import) and publish it."""
        allowed, how = self._decide(cap, operation, target)
        self.publish(CapCallEvent(cap, operation, target, allowed, decided_by=how))
        return allowed

    @contextmanager
    def call(self, cap: str, operation: str, target: str) -> Iterator[str]:
        """One boundary call: decided, then run, timed and published; the body
        gets how it was allowed (see CapCallEvent.decided_by).

        Raises CapDenied before the body runs when the grants say no."""
        allowed, how = self._decide(cap, operation, target)
        started = time.perf_counter()
        ok = False
        try:
            if not allowed:
                raise CapDenied(self.denial(cap, operation, target))
            yield how
            ok = True
        finally:
            duration = time.perf_counter() - started
            self.publish(
                CapCallEvent(cap, operation, target, allowed, duration, decided_by=how, ok=ok)
            )

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: Event) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(event)


def _per_host(cap: str) -> bool:
    """Whether `cap`'s grants reach only the allowlisted hosts."""
    return cap in CAPS and CAPS[cap].per_host


def denial_message(cap: str, operation: str, target: str) -> str:
    """The one line a denied boundary call raises as PermissionError."""
    what = f"{operation} {target}".strip()
    return f"the {cap} cap is not granted ({what}); grant it with --cap {cap}"
