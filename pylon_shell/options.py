"""How a runtime is started: the options and preopens every layer speaks of.

The plan produces them, the session hands them to a runtime, the cap layer's
file providers and the provider process confine themselves to the same
preopens: so they live on the ground floor, below all of those.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

#: The default size limit of the guest's private /tmp, in MiB (`--tmp-size`).
DEFAULT_TMP_MIB = 256


class GuestInput(Protocol):
    """What the guest's input() and sys.stdin read, asked on the guest's thread.

    Both raise KeyboardInterrupt when the user cancels (Ctrl+C at the prompt)
    or when `cancelled()` turns true (a timeout or an interrupt of the call):
    a read must poll it, so that a blocked read stays stoppable."""

    def read_line(self, prompt: str, cancelled: Callable[[], bool]) -> str | None:
        """Show `prompt`, return the next line without its newline; None at end of input."""
        ...

    def read(self, size: int, cancelled: Callable[[], bool]) -> bytes:
        """At most `size` bytes and at most one line (with its newline); b"" at end of input."""
        ...


@dataclass(frozen=True)
class Preopen:
    """A host directory the guest may see, at `guest` path."""

    host: Path
    guest: str
    readonly: bool = False


@dataclass
class RuntimeOptions:
    """How to start a runtime: what it may see and how far it may go."""

    preopens: list[Preopen] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    #: Wall-clock limit for each call into the guest, in seconds.
    timeout: float | None = None
    #: Limit on the guest's linear memory, in MiB.
    memory_mib: int | None = None
    #: Let the guest read the launcher's stdin (script mode), or give it none.
    inherit_stdin: bool = False
    #: Package directories (read-only) the guest finds on its sys.path (CPython only).
    packages: list[Preopen] = field(default_factory=list)
    #: Where input() and sys.stdin read from; None is the launcher's stdin when
    #: `inherit_stdin`, else no input at all (end of file at once).
    stdin: GuestInput | None = None
    #: Size limit of the guest's private /tmp in MiB; None gives it no /tmp.
    tmp_mib: int | None = None
    #: A REPL: Ctrl+C and --timeout raise KeyboardInterrupt inside the guest and
    #: keep its state where the runtime can; a script's call is trapped (124, 130).
    keep_on_interrupt: bool = False
