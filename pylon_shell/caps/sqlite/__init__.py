"""The `sqlite` cap: SQLite databases through `sqlite3`, in the interpreter or in a
component of its own.

Two providers: "builtin", the SQLite linked into CPython (policy: the import
gate), and "component", a SQLite wasm component pylon builds and trusts by
digest (guest/component/), run in the launcher in its own store with its
own database directory. The folder holds this catalog entry, the component's
host side (provider.py), its wiring (wiring.py: `pylon:cap/sqlite` on
CPython, its bridge calls on MicroPython) and the guest stand-ins
(guest/cpython/pylon_sqlite3*.py, built into the session component;
guest/micropython/sqlite3.py, sent over the bridge). The session makes the
component (session.py). Its page is docs/caps/sqlite.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, POLICY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage


def backing(provider: Provider) -> str:
    """The component's digest, once it is built (printing the catalog must not build it)."""
    from pylon_shell import artifacts

    if provider.kind != "component":
        return ""
    found = artifacts.built_sqlite_provider()
    return f"sha256:{found.wasm_sha256}" if found else "not built yet (pylon build)"


def notes(provider: Provider) -> list[str]:
    """The component's /db quota and what it holds now (it persists)."""
    if provider.kind != "component":
        return []
    from pylon_shell import paths
    from pylon_shell.caps.sqlite.provider import directory_usage, quota_bytes

    folder = paths.data_dir() / "sqlite"
    used = directory_usage(folder) / (1 << 20)
    return [
        f"quota: {quota_bytes() >> 20} MiB in /db ({used:.1f} MiB used, {folder}; "
        "PYLON_SQLITE_QUOTA_MIB sets it)"
    ]


PACKAGE = CapPackage(
    name="sqlite",
    cap=Cap(
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
    rank=30,
    checks_own_grant=True,
    failure="OperationalError",
    wiring="pylon_shell.caps.sqlite.wiring",
    stand_ins={
        # The stdlib's sqlite3 package runs unchanged over this _sqlite3.
        "cpython": {"component": {"_sqlite3": "pylon_sqlite3"}},
        "micropython": {"component": {"sqlite3": "sqlite3"}},
    },
    backing="pylon_shell.caps.sqlite:backing",
    notes="pylon_shell.caps.sqlite:notes",
    callbacks="pylon:cap/sqlite-callbacks@0.1.0",
)
