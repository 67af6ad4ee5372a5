# Runs INSIDE the guest as `argon2.profiles`: the standard parameters of
# argon2-cffi, for PasswordHasher.from_parameters (guest/argon2.py defines them).

from argon2 import (  # noqa: F401
    CHEAPEST,
    PRE_21_2,
    RFC_9106_HIGH_MEMORY,
    RFC_9106_LOW_MEMORY,
    Parameters,
    Type,
    get_default_parameters,
)
