"""Every cap pylon knows: the guest modules that reach it, its WIT interface, its providers.

This table is the one source of truth: the guests learn their import gate
from it at session start, `pylon caps` prints it, plans are checked against it
and the TUI draws its switches from it. Every cap is a package (pylon's own
are the folders of pylon_shell/caps/; a third party's is a distribution of
its own) found by registry.py, so adding one touches only its own package
(docs/caps/writing-a-cap.md) and this module names none.
"""

from __future__ import annotations

from dataclasses import replace

from pylon_shell.caps import registry
from pylon_shell.caps.model import BOUNDARY, POLICY, Cap, Provider

__all__ = [
    "BOUNDARY",
    "CAPS",
    "POLICY",
    "Cap",
    "Provider",
    "cap_for_module",
    "choose_providers",
    "unknown_caps",
]


def _catalog() -> dict[str, Cap]:
    """The caps the packages define, in their rank order (a name is never
    defined twice), each with the modules packages add to it."""
    caps: dict[str, Cap] = {}
    for package in registry.plugins().values():
        if package.cap is not None and package.cap.name not in caps:
            caps[package.cap.name] = package.cap
    for name, cap in caps.items():
        added = tuple(m for pkg in registry.extending(name) for m in pkg.modules)
        if added:
            caps[name] = replace(cap, modules=cap.modules + added)
    return caps


#: Every cap pylon has now.
CAPS: dict[str, Cap] = _catalog()


def cap_for_module(module: str) -> Cap | None:
    """The cap whose modules include `module` or a package that holds it."""
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        for cap in CAPS.values():
            if name in cap.modules:
                return cap
    return None


def choose_providers(runtime: str, chosen: dict[str, str]) -> dict[str, str]:
    """The provider of every cap for `runtime`: the plan's choice where that
    runtime supports it, else the first provider that does."""
    out = {}
    for cap in CAPS.values():
        usable = [p.name for p in cap.providers if runtime in p.runtimes]
        if not usable:
            continue
        want = chosen.get(cap.name)
        out[cap.name] = want if want in usable else usable[0]
    return out


def unknown_caps(names: list[str] | tuple[str, ...]) -> list[str]:
    return [name for name in names if name not in CAPS]
