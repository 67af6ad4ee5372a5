# Runs INSIDE the guest as `argon2.low_level`: argon2-cffi's low-level functions,
# which the package module defines (guest/argon2.py says why). Its C bindings
# (`core`, `ffi`) are the host's and do not cross.

from argon2 import (  # noqa: F401
    ARGON2_VERSION,
    HashingError,
    Type,
    VerificationError,
    VerifyMismatchError,
    hash_secret,
    hash_secret_raw,
    verify_secret,
)

__all__ = ["ARGON2_VERSION", "Type", "hash_secret", "hash_secret_raw", "verify_secret"]
