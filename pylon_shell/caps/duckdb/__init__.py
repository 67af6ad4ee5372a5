"""The `duckdb` cap: DuckDB analytics through `import duckdb`, on the host's duckdb.

The folder holds all of it: this catalog entry, the host provider
(provider.py, run in the confined provider process, its files confined to the
granted directories), its wiring (wiring.py: the `pylon:cap/duckdb` interface
on CPython, the bridge calls on MicroPython) and the guest stand-ins
(guest/cpython/pylon_duckdb.py, built into the session component;
guest/micropython/duckdb.py, sent over the bridge). Its page is
docs/caps/duckdb.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="duckdb",
    cap=Cap(
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
    rank=40,
    checks_own_grant=True,
    make="pylon_shell.caps.duckdb.provider:make",
    failure="IOException",
    wiring="pylon_shell.caps.duckdb.wiring",
    stand_ins={
        "cpython": {"host": {"duckdb": "pylon_duckdb"}},
        "micropython": {"host": {"duckdb": "duckdb"}},
    },
    libraries=("duckdb",),
)
