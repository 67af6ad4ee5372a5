"""The `tls` cap: TLS to the plan's hosts on the host's OpenSSL (`ssl`; MicroPython:
`pylon.https`), certificates always verified.

The folder holds all of it: this catalog entry, the host provider
(provider.py, on the net cap's connections, in the confined provider
process; parse.py bounds what the guest loads before OpenSSL reads it), its
wiring (wiring.py: `pylon:cap/tls` on CPython, `https.request` over the
MicroPython bridge) and the CPython stand-ins (guest/cpython/pylon_ssl.py
and pylon_https.py, built into the session component). MicroPython's
pylon.https is in the crypto package's `pylon` shim. Its page is
docs/caps/tls.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage


def fix(operation: str, target: str, listed: bool) -> str:
    """What a refused call's line tells the user to add: --host grants tls by
    itself; net would allow plaintext as well."""
    found = "--cap tls" if listed else f"--host {target}"
    if operation == "connect":
        found += " (or --cap net for plaintext connections too)"
    return found


def backing(provider: Provider) -> str:
    import ssl

    return f"{ssl.OPENSSL_VERSION}; trust store: the host's default, plus CAs the guest loads"


PACKAGE = CapPackage(
    name="tls",
    cap=Cap(
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
    rank=80,
    checks_own_grant=True,
    make="pylon_shell.caps.tls.provider:make",
    wiring="pylon_shell.caps.tls.wiring",
    stand_ins={
        # The stdlib's ssl runs unchanged over this _ssl.
        "cpython": {"host": {"_ssl": "pylon_ssl", "pylon.https": "pylon_https"}},
        "micropython": {"host": {"pylon": "pylon"}},
    },
    backing="pylon_shell.caps.tls:backing",
    fix=fix,
)
