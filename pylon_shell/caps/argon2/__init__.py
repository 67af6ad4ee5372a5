"""The `argon2` cap package: argon2-cffi's API (`from argon2 import PasswordHasher`)
in both runtimes, under the crypto grant.

It adds modules to the crypto cap rather than defining a cap of its own: a
password hash is a KDF like hashlib.scrypt, and whoever may run those may
run this. The folder holds all of it (docs/caps/writing-a-cap.md): this
entry, the host provider (provider.py, on argon2-cffi's bindings, in the
confined provider process), the PHC string codec (phc.py), and the guest
modules that stand in for argon2-cffi's on both runtimes (guest/).
"""

from pathlib import Path

from pylon_shell.caps.registry import CapPackage

_GUEST = Path(__file__).resolve().parent / "guest"

PACKAGE = CapPackage(
    name="argon2",
    extends="crypto",
    modules=("argon2", "argon2.exceptions", "argon2.low_level", "argon2.profiles"),
    provider="pylon_shell.caps.argon2.provider:Argon2Provider",
    methods=("hash", "verify"),
    guest={
        "argon2": _GUEST / "argon2.py",
        "argon2.exceptions": _GUEST / "exceptions.py",
        "argon2.low_level": _GUEST / "low_level.py",
        "argon2.profiles": _GUEST / "profiles.py",
    },
    libraries=("argon2-cffi", "argon2-cffi-bindings"),
)
