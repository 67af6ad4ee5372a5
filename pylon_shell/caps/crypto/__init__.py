"""The `crypto` cap: KDFs (hashlib.pbkdf2_hmac, hashlib.scrypt), AEAD, Ed25519 and
X25519 (pylon.crypto), on the host's OpenSSL and the cryptography package.

The folder holds all of it: this catalog entry, the host provider
(provider.py, run in the confined provider process) and its wiring
(wiring.py: `pylon:cap/crypto` on CPython, its bridge calls on MicroPython).
The guest stand-ins are built into the interpreters
(guest/cpython/pylon_crypto.py; guest/micropython/shims/pylon.py, shared
with tls's pylon.https). The argon2 package adds argon2 to this cap. Its page
is docs/caps/crypto.md.
"""

from pylon_shell.caps.model import BOTH, BOUNDARY, Cap, Provider, iface
from pylon_shell.caps.registry import CapPackage

PACKAGE = CapPackage(
    name="crypto",
    cap=Cap(
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
    rank=60,
    checks_own_grant=True,
    make="pylon_shell.caps.crypto.provider:make",
    wiring="pylon_shell.caps.crypto.wiring",
    stand_ins={
        "cpython": {"host": {"pylon.crypto": "pylon_crypto"}},
        "micropython": {"host": {"pylon": "pylon"}},
    },
    libraries=("cryptography",),
)
