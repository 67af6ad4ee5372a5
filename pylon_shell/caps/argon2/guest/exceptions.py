# Runs INSIDE the guest as `argon2.exceptions`: argon2-cffi's exceptions, which
# the package module defines (guest/argon2.py says why).

from argon2 import (  # noqa: F401
    Argon2Error,
    HashingError,
    InvalidHash,
    InvalidHashError,
    UnsupportedParametersError,
    VerificationError,
    VerifyMismatchError,
)
