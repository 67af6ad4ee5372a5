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

#: What a permission prompt answers.
Decision = Literal["once", "session", "deny"]
#: Asks the user about a denied request: (cap, operation, target) -> decision.
Prompter = Callable[[str, str, str], Decision]


class CapDenied(PermissionError):
    """A boundary call the grants refused; its message is `denial_message`."""


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
        audit: bool = False,
        prompter: Prompter | None = None,
    ) -> None:
        self._granted = set(granted)
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

    def revoke(self, cap: str) -> None:
        self.set(cap, False)

    def _decide(self, cap: str, operation: str, target: str) -> tuple[bool, str]:
        """The answer of the table, or of the user when a prompter is set and the
        table says no; with how it was decided."""
        if self.is_granted(cap):
            return True, "grant"
        if self.audit:
            return True, "audit"
        if self.prompter is not None:
            decision = self.prompter(cap, operation, target)
            if decision == "session":
                self.grant(cap)
            return decision != "deny", f"prompt-{decision}"
        return False, "deny"

    def request(self, cap: str, operation: str, target: str) -> bool:
        """Decide one check that is not itself a call (an import) and publish it."""
        allowed, how = self._decide(cap, operation, target)
        self.publish(CapCallEvent(cap, operation, target, allowed, decided_by=how))
        return allowed

    @contextmanager
    def call(self, cap: str, operation: str, target: str) -> Iterator[None]:
        """One boundary call: decided, then run, timed and published.

        Raises CapDenied before the body runs when the grants say no."""
        allowed, how = self._decide(cap, operation, target)
        started = time.perf_counter()
        try:
            if not allowed:
                raise CapDenied(denial_message(cap, operation, target))
            yield
        finally:
            duration = time.perf_counter() - started
            self.publish(CapCallEvent(cap, operation, target, allowed, duration, decided_by=how))

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


def denial_message(cap: str, operation: str, target: str) -> str:
    """The one line a denied boundary call raises as PermissionError."""
    what = f"{operation} {target}".strip()
    return f"the {cap} cap is not granted ({what}); grant it with --cap {cap}"
