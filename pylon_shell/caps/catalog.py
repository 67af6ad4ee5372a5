"""Every cap pylon knows: the guest modules that reach it, its WIT interface, its providers.

This table is the one source of truth: the guests learn their import gate
from it at session start, `pylon caps` prints it, plans are checked against it
and the TUI draws its switches from it. A new cap is one entry here plus its
interface, provider and shims.
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


def _iface(name: str) -> str:
    return f"{CAP_PACKAGE}/{name}@{CAP_VERSION}"


BOTH = ("cpython", "micropython")

CAPS: dict[str, Cap] = {
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
            _iface("sqlite"),
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
            _iface("duckdb"),
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
            _iface("compression"),
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
            _iface("crypto"),
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
            _iface("net"),
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
            _iface("tls"),
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
