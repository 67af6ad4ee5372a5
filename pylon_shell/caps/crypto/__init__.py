"""The `crypto` cap: KDFs (hashlib.pbkdf2_hmac, hashlib.scrypt), AEAD, Ed25519 and
X25519 (pylon.crypto), on the host's OpenSSL and the cryptography package.

The folder holds all of it: this catalog entry, the host provider
(provider.py, run in the confined provider process), its wiring (wiring.py:
`pylon:cap/crypto` on CPython, its bridge calls on MicroPython) and the guest
stand-ins (guest/cpython/pylon_crypto.py, built into the session component;
guest/micropython/pylon.py, sent over the bridge, which holds tls's
pylon.https too). The argon2 package adds argon2 to this cap. Its page is
docs/caps/crypto.md.
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
        pure=True,
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
