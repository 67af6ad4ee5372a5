"""Argon2's PHC strings ($argon2id$v=19$m=...,t=...,p=...$salt$hash), read and
written as the Argon2 reference library (phc-winner-argon2's encoding.c) does.

The provider hashes and verifies through the library's `argon2_ctx`, which
lets it run fewer threads than the hash has lanes (a hostile hash asking for
p=4096 must not take every core); the library's own `argon2_hash` and
`argon2_verify` do not, so the encoding around them is done here, to the
letter of the reference code: decimals without leading zeros, unpadded
standard base64 whose spare bits are zero, `v=` optional (0x10 when absent),
nothing after the hash, and the context validated before the trailing check.
tests/test_cap_argon2.py compares every outcome with argon2-cffi's.
"""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

#: argon2.h's codes, and the messages `argon2_error_message` gives them.
OK = 0
OUTPUT_TOO_SHORT = -2
OUTPUT_TOO_LONG = -3
SALT_TOO_SHORT = -6
TIME_TOO_SMALL = -12
TIME_TOO_LARGE = -13
MEMORY_TOO_LITTLE = -14
MEMORY_TOO_MUCH = -15
LANES_TOO_FEW = -16
LANES_TOO_MANY = -17
INCORRECT_TYPE = -26
DECODING_FAIL = -32
VERIFY_MISMATCH = -35

UINT32_MAX = (1 << 32) - 1
MIN_OUTLEN = 4
MIN_SALT_LENGTH = 8
MIN_MEMORY = 8
MAX_LANES = 0xFFFFFF
#: The type names of the encoding, by Argon2 type value (Argon2_d, _i, _id).
TYPE_NAMES = {0: "argon2d", 1: "argon2i", 2: "argon2id"}
VERSION_10 = 0x10

_B64 = re.compile(rb"[A-Za-z0-9+/]*")
_DIGITS = re.compile(rb"[0-9]*")
_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_B64_VALUES = {c: i for i, c in enumerate(_ALPHABET)}
#: An unsigned long's decimal digits, at most (decode_decimal refuses more).
_ULONG_DIGITS = 20


class Refused(Exception):
    """The library's error code for a string or context it would refuse."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Context:
    """What a PHC string holds (the fields of argon2_context it sets)."""

    type: int
    version: int
    m_cost: int
    t_cost: int
    lanes: int
    salt: bytes
    out: bytes


def validate(outlen: int, saltlen: int, m_cost: int, t_cost: int, lanes: int) -> int:
    """core.c's validate_inputs, in its order, for a context whose pointers are
    set, without a secret or associated data, and with as many threads as lanes."""
    if outlen < MIN_OUTLEN:
        return OUTPUT_TOO_SHORT
    if outlen > UINT32_MAX:
        return OUTPUT_TOO_LONG
    if saltlen < MIN_SALT_LENGTH:
        return SALT_TOO_SHORT
    if m_cost < MIN_MEMORY:
        return MEMORY_TOO_LITTLE
    if m_cost > UINT32_MAX:
        return MEMORY_TOO_MUCH
    if m_cost < 8 * lanes:
        return MEMORY_TOO_LITTLE
    if t_cost < 1:
        return TIME_TOO_SMALL
    if t_cost > UINT32_MAX:
        return TIME_TOO_LARGE
    if lanes < 1:
        return LANES_TOO_FEW
    if lanes > MAX_LANES:
        return LANES_TOO_MANY
    return OK


def _b64encode(data: bytes) -> bytes:
    return binascii.b2a_base64(data, newline=False).rstrip(b"=")


def encode(ctx: Context) -> bytes:
    """encode_string: the PHC string of a hash that was computed."""
    return b"$%s$v=%d$m=%d,t=%d,p=%d$%s$%s" % (
        TYPE_NAMES[ctx.type].encode(),
        ctx.version,
        ctx.m_cost,
        ctx.t_cost,
        ctx.lanes,
        _b64encode(ctx.salt),
        _b64encode(ctx.out),
    )


class _Reader:
    def __init__(self, text: bytes) -> None:
        self.text = text
        self.at = 0

    def expect(self, prefix: bytes) -> None:
        if not self.text.startswith(prefix, self.at):
            raise Refused(DECODING_FAIL)
        self.at += len(prefix)

    def optional(self, prefix: bytes) -> bool:
        if self.text.startswith(prefix, self.at):
            self.at += len(prefix)
            return True
        return False

    def u32(self) -> int:
        """decode_decimal, then DECIMAL_U32's range check."""
        found = _DIGITS.match(self.text, self.at)
        digits = found.group(0) if found else b""
        if not digits or (digits[0:1] == b"0" and len(digits) > 1):
            raise Refused(DECODING_FAIL)
        if len(digits) > _ULONG_DIGITS or int(digits) > UINT32_MAX:
            raise Refused(DECODING_FAIL)
        self.at += len(digits)
        return int(digits)

    def base64(self) -> bytes:
        """from_base64: unpadded; a length of 1 mod 4, or spare bits set, is refused."""
        found = _B64.match(self.text, self.at)
        chars = found.group(0) if found else b""
        spare = {0: 0, 2: 4, 3: 2}.get(len(chars) % 4)
        if spare is None:
            raise Refused(DECODING_FAIL)
        if spare and _B64_VALUES[chars[-1]] & ((1 << spare) - 1):
            raise Refused(DECODING_FAIL)
        self.at += len(chars)
        return binascii.a2b_base64(chars + b"=" * (-len(chars) % 4))

    def done(self) -> bool:
        return self.at == len(self.text)


def decode(text: bytes, type_value: int) -> Context:
    """decode_string for a hash of `type_value`: the context, or Refused with
    the code the library gives. `text` ends at its first NUL, as a C string does."""
    name = TYPE_NAMES.get(type_value)
    if name is None:
        raise Refused(INCORRECT_TYPE)
    read = _Reader(text.split(b"\0", 1)[0])
    read.expect(b"$" + name.encode())
    version = read.u32() if read.optional(b"$v=") else VERSION_10
    read.expect(b"$m=")
    m_cost = read.u32()
    read.expect(b",t=")
    t_cost = read.u32()
    read.expect(b",p=")
    lanes = read.u32()
    read.expect(b"$")
    salt = read.base64()
    read.expect(b"$")
    out = read.base64()
    code = validate(len(out), len(salt), m_cost, t_cost, lanes)
    if code != OK:
        raise Refused(code)
    if not read.done():
        raise Refused(DECODING_FAIL)
    return Context(type_value, version, m_cost, t_cost, lanes, salt, out)
