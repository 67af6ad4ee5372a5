"""The `net` cap: TCP client connections to the plan's hosts (`socket`), CPython only.

The folder holds all of it: this catalog entry, the host provider
(provider.py: connections opened by the provider process, to allowlisted
host:port only), its wiring (wiring.py: `pylon:cap/net`) and the guest's
_socket stand-in (guest/cpython/pylon_socket.py, built into the session
component). The tls cap runs on its connections. Its page is docs/caps/net.md.
"""

from pylon_shell.caps.model import BOUNDARY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="net",
    cap=Cap(
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
    rank=70,
    checks_own_grant=True,
    make="pylon_shell.caps.net.provider:make",
    wiring="pylon_shell.caps.net.wiring",
    # The stdlib's socket runs unchanged over this.
    stand_ins={"cpython": {"host": {"_socket": "pylon_socket"}}},
)
