"""The vocabulary of caps: what a cap and a provider are, and how a grant is enforced.

Both the catalog of built-in caps and every cap package (registry.py) describe
themselves in these terms; this module imports nothing of pylon's, so a cap
package can import it without pulling in the catalog it is about to join.
"""

from __future__ import annotations

from dataclasses import dataclass

#: How a grant is enforced. "boundary": the host checks it on every call and the
#: guest cannot get around it. "policy": the guest's import gate checks it; it
#: keeps plans honest but code inside the guest could reach the power anyway.
BOUNDARY = "boundary"
POLICY = "policy"
CAP_PACKAGE = "pylon:cap"
CAP_VERSION = "0.1.0"


@dataclass(frozen=True)
class Provider:
    #: Name used in plans (`providers: {"sqlite": "component"}`).
    name: str
    #: "builtin" (inside the interpreter), "component" (a wasm component pylon
    #: loads and trusts by digest), "host" (the launcher, on a well-kept library),
    #: or "wasi" (the engine's own WASI implementation).
    kind: str
    enforcement: str
    runtimes: tuple[str, ...]
    description: str


@dataclass(frozen=True)
class Cap:
    name: str
    summary: str
    #: Guest modules whose import needs the cap, with their submodules
    #: ("compression.zstd" covers compression.zstd._zstdfile, not compression.zlib).
    modules: tuple[str, ...]
    #: The WIT interface, or None when the power comes through WASI itself.
    interface: str | None
    providers: tuple[Provider, ...]
    #: Whether a live toggle applies to the running interpreter (False: WASI
    #: state such as preopens is fixed when the instance starts).
    live: bool = True
    #: Guest modules the cap serves whose import needs no grant, because the
    #: stdlib imports them whether or not it will use them (http.client imports
    #: ssl): each call is checked instead, so a grant given later still works.
    serves: tuple[str, ...] = ()
    #: Whether a grant reaches only the hosts of the plan's allowlist (`hosts`).
    per_host: bool = False
    #: Whether its calls only compute (a codec, a KDF) or read what the instance
    #: was given (the environment): a REPL may run them again (replay.py).
    pure: bool = False

    @property
    def through_wasi(self) -> bool:
        """Its power comes through WASI itself (preopens, the environment):
        granted or not when the instance starts, no interface to call."""
        return self.interface is None

    @property
    def default_provider(self) -> Provider:
        return self.providers[0]

    def provider(self, name: str | None) -> Provider:
        for provider in self.providers:
            if provider.name == (name or self.default_provider.name):
                return provider
        raise KeyError(name)

    @property
    def runtimes(self) -> tuple[str, ...]:
        seen: list[str] = []
        for provider in self.providers:
            seen.extend(r for r in provider.runtimes if r not in seen)
        return tuple(seen)


def iface(name: str) -> str:
    return f"{CAP_PACKAGE}/{name}@{CAP_VERSION}"


BOTH = ("cpython", "micropython")
