"""Every cap pylon knows: the guest modules that reach it, its WIT interface, its providers.

This table is the one source of truth: the guests learn their import gate
from it at session start, `pylon caps` prints it, plans are checked against it
and the TUI draws its switches from it. The caps written into pylon are the
entries below; a cap shipped as a package (pylon_shell/caps/<name>/, or a
distribution of its own) is found by registry.py and joins them, so adding
one touches only its own package (docs/caps/writing-a-cap.md).
"""

from __future__ import annotations

from dataclasses import replace

from pylon_shell.caps import registry
from pylon_shell.caps.model import BOTH, BOUNDARY, POLICY, Cap, Provider, iface

#: The caps written into pylon itself; plugin caps (registry.py) join them below.
_BUILTIN: dict[str, Cap] = {
    cap.name: cap
    for cap in (
        Cap(
            "fs",
            "host directories preopened with --dir",
            (),
            None,
            (Provider("wasi", "wasi", BOUNDARY, BOTH, "WASI preopens; :ro makes them read-only"),),
            live=False,
        ),
        Cap(
            "env",
            "environment variables passed with --env",
            (),
            None,
            (Provider("wasi", "wasi", BOUNDARY, BOTH, "WASI environment"),),
            live=False,
        ),
        Cap(
            "sqlite",
            "SQLite databases through sqlite3",
            ("sqlite3", "_sqlite3"),
            iface("sqlite"),
            (
                Provider(
                    "builtin",
                    "builtin",
                    POLICY,
                    ("cpython",),
                    "the SQLite linked into the interpreter; files through fs",
                ),
                Provider(
                    "component",
                    "component",
                    BOUNDARY,
                    BOTH,
                    "a SQLite component with its own database directory",
                ),
            ),
        ),
        Cap(
            "duckdb",
            "DuckDB analytics through duckdb",
            ("duckdb",),
            iface("duckdb"),
            (
                Provider(
                    "host",
                    "host",
                    BOUNDARY,
                    BOTH,
                    "the duckdb package on the host, confined to the granted directories",
                ),
            ),
        ),
        Cap(
            "compression",
            "bz2, lzma and zstd codecs, streaming as in the stdlib",
            (
                "bz2",
                "_bz2",
                "lzma",
                "_lzma",
                "compression.bz2",
                "compression.lzma",
                "compression.zstd",
                "_zstd",
            ),
            iface("compression"),
            (
                Provider(
                    "host",
                    "host",
                    BOUNDARY,
                    BOTH,
                    "CPython's bz2 and lzma codecs and zstd on the host; MicroPython: one-shot",
                ),
            ),
        ),
        Cap(
            "crypto",
            "hashlib.pbkdf2_hmac and hashlib.scrypt, AEAD, Ed25519 and X25519 (pylon.crypto)",
            ("pylon.crypto",),
            iface("crypto"),
            (
                Provider(
                    "host",
                    "host",
                    BOUNDARY,
                    BOTH,
                    "the host's OpenSSL (hashlib) and the cryptography package",
                ),
            ),
        ),
        Cap(
            "net",
            "TCP client connections to the plan's hosts (socket)",
            (),
            iface("net"),
            (
                Provider(
                    "host",
                    "host",
                    BOUNDARY,
                    ("cpython",),
                    "connections opened by the launcher, to allowlisted host:port only",
                ),
            ),
            serves=("socket", "_socket"),
            per_host=True,
        ),
        Cap(
            "tls",
            "TLS to the plan's hosts on the host's OpenSSL (ssl; MicroPython: pylon.https)",
            (),
            iface("tls"),
            (
                Provider(
                    "host",
                    "host",
                    BOUNDARY,
                    BOTH,
                    "the host's ssl module (OpenSSL); certificates always verified",
                ),
            ),
            serves=("ssl", "_ssl", "pylon.https"),
            per_host=True,
        ),
    )
}




def _with_packages(builtin: dict[str, Cap]) -> dict[str, Cap]:
    """The built-in caps, the caps packages define (never replacing one), and
    each cap with the modules packages add to it."""
    caps = dict(builtin)
    for package in registry.plugins().values():
        if package.cap is not None and package.cap.name not in caps:
            caps[package.cap.name] = package.cap
    for name, cap in caps.items():
        added = tuple(m for pkg in registry.extending(name) for m in pkg.modules)
        if added:
            caps[name] = replace(cap, modules=cap.modules + added)
    return caps


#: Every cap pylon has now.
CAPS: dict[str, Cap] = _with_packages(_BUILTIN)


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
