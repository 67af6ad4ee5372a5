"""The argon2 package's host provider: argon2-cffi's Argon2 over what the guest sends.

It runs in the provider process (caps/worker.py), which checks the crypto
grant and each call's fit to these signatures first. What is left is what a
signature cannot say, and every value is hostile:

- the costs: memory_cost (KiB) must fit what the plan lets the host spend for
  the guest (--memory, or the provider process's default data limit), time_cost
  times memory_cost is at most MAX_WORK_KIB (no call runs for hours), and
  hash_len and a host-made salt at most MAX_OUTPUT bytes;
- the cores: Argon2 runs one thread a lane in argon2-cffi; here at most
  MAX_THREADS, whatever parallelism the guest or a hash asks for (lanes,
  and so the hash, are unchanged: only the wall time grows);
- salts: PasswordHasher's random salt is made here (the guest's randomness
  may be weak under WASI) and never crosses until it is in the hash.

The library computes through `argon2_ctx` (the only entry that takes a thread
count), so the PHC strings are read and written by phc.py as the library does.
Its errors keep argon2-cffi's classes and messages (HashingError,
VerificationError, VerifyMismatchError; cffi's TypeError and OverflowError).
"""

from __future__ import annotations

import hmac
import os
import secrets
from typing import Any

from _argon2_cffi_bindings import ffi, lib

from pylon_shell.caps.argon2 import phc
from pylon_shell.caps.confine import DEFAULT_DATA_MIB
from pylon_shell.caps.values import ProviderError

#: The most KiB-passes one call may cost (time_cost * memory_cost): 8 GiB of
#: Argon2 memory traffic, a minute or two on one core. RFC 9106's first
#: recommendation (t=1, 2 GiB) is a quarter of it.
MAX_WORK_KIB = 1 << 23
#: The longest hash, and the longest salt the host makes, in bytes.
MAX_OUTPUT = 1 << 16


def _threads() -> int:
    """Half the cores this process may run on, 1 to 4."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, min(4, cores // 2))


MAX_THREADS = _threads()


def _message(code: int) -> str:
    return str(ffi.string(lib.argon2_error_message(code)).decode("ascii"))


def _u32(value: Any) -> int:
    """A value as cffi converts it to a uint32_t, with its errors."""
    if not isinstance(value, int):
        raise ProviderError("TypeError", "an integer is required")
    if value < 0:
        raise ProviderError("OverflowError", "can't convert negative number to unsigned")
    if value > phc.UINT32_MAX:
        raise ProviderError("OverflowError", f"integer {value} does not fit '32-bit unsigned int'")
    return int(value)


def _octets(value: Any, ctype: str = "uint8_t[]") -> bytes:
    if not isinstance(value, bytes):
        raise ProviderError(
            "TypeError",
            f"initializer for ctype '{ctype}' must be a bytes or list or tuple, "
            f"not {type(value).__name__}",
        )
    return value


class Argon2Provider:
    def __init__(self, grants: Any, memory_mib: int | None = None) -> None:
        #: The most KiB one call may have Argon2 allocate: what the plan lets
        #: the provider process hold for the guest (scrypt's maxmem is capped so).
        data_mib = memory_mib if memory_mib is not None else DEFAULT_DATA_MIB
        self.max_memory_kib = data_mib << 10

    def _bound(self, m_cost: int, t_cost: int, fail: str) -> None:
        if m_cost > self.max_memory_kib:
            raise ProviderError(
                fail,
                f"Memory cost is too large for this plan: {m_cost} KiB is over the "
                f"{self.max_memory_kib} KiB it lets the host spend (raise it with --memory)",
            )
        if t_cost * m_cost > MAX_WORK_KIB:
            raise ProviderError(
                fail,
                f"Time cost is too large: time_cost * memory_cost is {t_cost * m_cost}, "
                f"over pylon's bound of {MAX_WORK_KIB} (lower either)",
            )

    @staticmethod
    def _compute(ctx: phc.Context, secret: bytes, outlen: int, fail: str) -> bytes:
        """argon2_ctx on at most MAX_THREADS threads; the raw hash."""
        out = ffi.new("uint8_t[]", outlen)
        pwd = ffi.new("uint8_t[]", secret)
        salt = ffi.new("uint8_t[]", ctx.salt)
        context = ffi.new(
            "argon2_context *",
            {
                "out": out, "outlen": outlen, "pwd": pwd, "pwdlen": len(secret),
                "salt": salt, "saltlen": len(ctx.salt), "secret": ffi.NULL, "secretlen": 0,
                "ad": ffi.NULL, "adlen": 0, "t_cost": ctx.t_cost, "m_cost": ctx.m_cost,
                "lanes": ctx.lanes, "threads": min(ctx.lanes, MAX_THREADS),
                "version": ctx.version, "allocate_cbk": ffi.NULL, "free_cbk": ffi.NULL,
                "flags": lib.ARGON2_DEFAULT_FLAGS,
            },
        )  # fmt: skip
        code = lib.argon2_ctx(context, ctx.type)
        if code != phc.OK:
            raise ProviderError(fail, _message(code))
        return bytes(ffi.buffer(out, outlen))

    def hash(
        self, secret: bytes, salt: bytes | None, salt_len: int, time_cost: int,
        memory_cost: int, parallelism: int, hash_len: int, type: int, version: int,
        raw: bool,
    ) -> bytes:  # fmt: skip
        """low_level.hash_secret (or hash_secret_raw when `raw`); a salt of
        `salt_len` random bytes made here when `salt` is None."""
        t_cost, m_cost, lanes = _u32(time_cost), _u32(memory_cost), _u32(parallelism)
        outlen, version = _u32(hash_len), _u32(version)
        secret = _octets(secret)
        if salt is None:
            length = _u32(salt_len)
            if length > MAX_OUTPUT:
                raise ProviderError(
                    "HashingError", f"Salt is too long (pylon makes at most {MAX_OUTPUT} bytes)"
                )
            salt = secrets.token_bytes(length)
        salt = _octets(salt)
        code = phc.validate(outlen, len(salt), m_cost, t_cost, lanes)
        if code == phc.OK and (not isinstance(type, int) or type not in phc.TYPE_NAMES):
            code = phc.INCORRECT_TYPE  # argon2_ctx checks the type after the context
        if code != phc.OK:
            raise ProviderError("HashingError", _message(code))
        if outlen > MAX_OUTPUT:
            raise ProviderError(
                "HashingError", f"Output is too long (pylon bounds hash_len to {MAX_OUTPUT} bytes)"
            )
        self._bound(m_cost, t_cost, "HashingError")
        ctx = phc.Context(type, version, m_cost, t_cost, lanes, salt, b"")
        out = self._compute(ctx, secret, outlen, "HashingError")
        if raw:
            return out
        return phc.encode(phc.Context(type, version, m_cost, t_cost, lanes, salt, out))

    def verify(self, hash: bytes, secret: bytes, type: int) -> bool:
        """low_level.verify_secret: True, or VerifyMismatchError / VerificationError."""
        hash = _octets(hash, "char[]")
        secret = _octets(secret)
        if not isinstance(type, int):
            raise ProviderError("TypeError", "an integer is required")
        try:
            ctx = phc.decode(hash, type)
        except phc.Refused as refused:
            raise ProviderError("VerificationError", _message(refused.code)) from None
        if len(ctx.out) > MAX_OUTPUT:
            raise ProviderError(
                "VerificationError",
                f"Output is too long (pylon bounds hashes to {MAX_OUTPUT} bytes)",
            )
        self._bound(ctx.m_cost, ctx.t_cost, "VerificationError")
        out = self._compute(ctx, secret, len(ctx.out), "VerificationError")
        if not hmac.compare_digest(out, ctx.out):
            raise ProviderError("VerifyMismatchError", _message(phc.VERIFY_MISMATCH))
        return True
