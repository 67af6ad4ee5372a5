"""Runs INSIDE the CPython guest as `pylon.crypto`, over pylon:cap/crypto; it
also gives hashlib the pbkdf2_hmac and scrypt that an interpreter without
OpenSSL lacks (they check the cap on each call, so `import hashlib` never needs
it).

The names follow the `cryptography` package (AESGCM, ChaCha20Poly1305,
Ed25519PrivateKey, X25519PrivateKey, InvalidTag, InvalidSignature), so code
written for it reads the same. Private keys are bytes held here; each
operation is one stateless call to the host.
"""

import hashlib
import os

from wit_world.imports import crypto as _cap

import pylon_caps

__all__ = [
    "AESGCM",
    "ChaCha20Poly1305",
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "X25519PrivateKey",
    "X25519PublicKey",
    "InvalidTag",
    "InvalidSignature",
    "pbkdf2_hmac",
    "scrypt",
]


class InvalidTag(Exception):
    """The ciphertext or its associated data were altered (or the key is wrong)."""


class InvalidSignature(Exception):
    """The signature does not match the message and key."""


_ERRORS = {"InvalidTag": InvalidTag, "InvalidSignature": InvalidSignature}


def _call(function, *args):
    return pylon_caps.call_provider(_ERRORS, ValueError, function, *args)


def _bytes(value, name):
    if isinstance(value, str):
        raise TypeError(f"{name}: Strings must be encoded before hashing")
    return memoryview(value).cast("B").tobytes()


# -- hashlib's KDFs ----------------------------------------------------------


_INT_MAX = 2**31 - 1
_LONG = 2**63  # a C long on the host


def _index(value, name, unsigned=False):
    """An int argument as _hashlib's argument clinic converts it (a C long, or
    an unsigned long), with its TypeError and OverflowError."""
    if isinstance(value, float) or not hasattr(type(value), "__index__"):
        raise TypeError(f"'{type(value).__name__}' object cannot be interpreted as an integer")
    value = value.__index__()
    if unsigned and value < 0:
        raise OverflowError("can't convert negative int to unsigned")
    if value >= (2 * _LONG if unsigned else _LONG) or value < -_LONG:
        kind = "unsigned long" if unsigned else "long"
        raise OverflowError(f"Python int too large to convert to C {kind}")
    return value


def _buffer(value, name):
    try:
        data = memoryview(value).cast("B").tobytes()
    except TypeError:
        raise TypeError(f"a bytes-like object is required, not '{type(value).__name__}'") from None
    if len(data) > _INT_MAX:
        raise OverflowError(f"{name} is too long.")
    return data


def pbkdf2_hmac(hash_name, password, salt, iterations, dklen=None):
    """Password based key derivation function 2 (PKCS #5 v2.0) with HMAC as
    pseudorandom function, as hashlib.pbkdf2_hmac."""
    if not isinstance(hash_name, str):
        raise TypeError(f"pbkdf2_hmac() argument 'hash_name' must be str, not {type(hash_name).__name__}")
    hash_name.encode("utf-8")  # UnicodeEncodeError for a lone surrogate, as CPython's
    password = _buffer(password, "password")
    salt = _buffer(salt, "salt")
    iterations = _index(iterations, "iterations")
    if iterations < 1:
        raise ValueError("iteration value must be greater than 0.")
    if iterations > _INT_MAX:
        raise OverflowError("iteration value is too great.")
    if dklen is not None:
        dklen = _index(dklen, "dklen")
        if dklen < 1:
            raise ValueError("key length must be greater than 0.")
        if dklen > _INT_MAX:
            raise OverflowError("key length is too great.")
    return _call(_cap.pbkdf2_hmac, hash_name, password, salt, iterations, dklen)


def _unsigned(value, name):
    """n, r and p as _hashlib.scrypt takes them: an int that fits an unsigned long."""
    if not isinstance(value, int):
        raise TypeError(f"scrypt() argument '{name}' must be int, not {type(value).__name__}")
    if value < 0:
        raise ValueError("value must be positive")  # CPython's unsigned long converter
    if value >= 2 * _LONG:
        raise OverflowError("Python int too large to convert to C unsigned long")
    return int(value)


def _long(value, name):
    """maxmem and dklen as _hashlib.scrypt takes them: a C long."""
    value = _index(value, name)
    if not -_LONG <= value < _LONG:
        raise OverflowError("Python int too large to convert to C long")
    return value


def scrypt(password, *, salt=None, n=None, r=None, p=None, maxmem=0, dklen=64):
    """scrypt password-based key derivation function, as hashlib.scrypt (the
    checks in _hashlib's order, with its messages)."""
    password = _buffer(password, "password")
    if salt is None:
        raise TypeError("salt is required")
    salt = _buffer(salt, "salt")
    for name, value in (("n", n), ("r", r), ("p", p)):
        if value is None:
            raise TypeError(f"{name} is required and must be an unsigned int")
    n = _unsigned(n, "n")
    if n < 2 or n & (n - 1):
        raise ValueError("n must be a power of 2.")
    r = _unsigned(r, "r")
    p = _unsigned(p, "p")
    maxmem = _long(maxmem, "maxmem")
    if maxmem < 0 or maxmem > _INT_MAX:
        raise ValueError(f"maxmem must be positive and smaller than {_INT_MAX}")
    dklen = _long(dklen, "dklen")
    if dklen < 1 or dklen > _INT_MAX:
        raise ValueError(f"dklen must be greater than 0 and smaller than {_INT_MAX}")
    if r < 1 or p < 1:
        raise ValueError("Invalid parameter combination for n, r, p, maxmem.")
    return _call(_cap.scrypt, password, salt, n, r, p, maxmem, dklen)


if not hasattr(hashlib, "pbkdf2_hmac"):
    hashlib.pbkdf2_hmac = pbkdf2_hmac
    hashlib.__all__ += ("pbkdf2_hmac",)
if not hasattr(hashlib, "scrypt"):
    hashlib.scrypt = scrypt
    hashlib.__all__ += ("scrypt",)


# -- AEAD ----------------------------------------------------------------------


class _AEAD:
    _algorithm = ""
    _key_sizes = ()

    def __init__(self, key):
        key = _bytes(key, "key")
        if len(key) not in self._key_sizes:
            raise ValueError(f"{type(self).__name__} key must be {' or '.join(str(8 * n) for n in self._key_sizes)} bits.")
        self._key = key

    def encrypt(self, nonce, data, associated_data):
        aad = None if associated_data is None else _bytes(associated_data, "associated_data")
        return _call(_cap.aead_encrypt, self._algorithm, self._key, _bytes(nonce, "nonce"), _bytes(data, "data"), aad)

    def decrypt(self, nonce, data, associated_data):
        aad = None if associated_data is None else _bytes(associated_data, "associated_data")
        return _call(_cap.aead_decrypt, self._algorithm, self._key, _bytes(nonce, "nonce"), _bytes(data, "data"), aad)


class AESGCM(_AEAD):
    """AES in Galois/Counter Mode; 128, 192 or 256-bit keys, 12-byte nonces."""

    _algorithm = "aes-gcm"
    _key_sizes = (16, 24, 32)

    @staticmethod
    def generate_key(bit_length):
        if bit_length not in (128, 192, 256):
            raise ValueError("bit_length must be 128, 192, or 256")
        return os.urandom(bit_length // 8)


class ChaCha20Poly1305(_AEAD):
    """ChaCha20 with Poly1305 (RFC 8439); 256-bit keys, 12-byte nonces."""

    _algorithm = "chacha20-poly1305"
    _key_sizes = (32,)

    @staticmethod
    def generate_key():
        return os.urandom(32)


# -- Ed25519 and X25519 ------------------------------------------------------


class _RawKey:
    """A 32-byte raw key, held in the guest."""

    _name = ""

    def __init__(self, raw):
        self._raw = raw

    @classmethod
    def _from_bytes(cls, data):
        data = _bytes(data, "data")
        if len(data) != 32:
            raise ValueError(f"An {cls._name} key is 32 bytes long")
        return cls(data)

    def __eq__(self, other):
        return type(other) is type(self) and other._raw == self._raw

    __hash__ = None


class _PublicKey(_RawKey):
    @classmethod
    def from_public_bytes(cls, data):
        return cls._from_bytes(data)

    def public_bytes_raw(self):
        return self._raw


class _PrivateKey(_RawKey):
    _public = _PublicKey
    _algorithm = ""

    @classmethod
    def generate(cls):
        return cls(os.urandom(32))

    @classmethod
    def from_private_bytes(cls, data):
        return cls._from_bytes(data)

    def private_bytes_raw(self):
        return self._raw

    def public_key(self):
        return self._public(_call(_cap.public_key, self._algorithm, self._raw))


class Ed25519PublicKey(_PublicKey):
    _name = "Ed25519 public"

    def verify(self, signature, data):
        ok = _call(_cap.ed25519_verify, self._raw, _bytes(signature, "signature"), _bytes(data, "data"))
        if not ok:
            raise InvalidSignature()


class Ed25519PrivateKey(_PrivateKey):
    _name = "Ed25519 private"
    _public = Ed25519PublicKey
    _algorithm = "ed25519"

    def sign(self, data):
        return _call(_cap.ed25519_sign, self._raw, _bytes(data, "data"))


class X25519PublicKey(_PublicKey):
    _name = "X25519 public"


class X25519PrivateKey(_PrivateKey):
    _name = "X25519 private"
    _public = X25519PublicKey
    _algorithm = "x25519"

    def exchange(self, peer_public_key):
        if not isinstance(peer_public_key, X25519PublicKey):
            raise TypeError("peer_public_key must be an X25519PublicKey")
        return _call(_cap.x25519_exchange, self._raw, peer_public_key._raw)


for _cls in (InvalidTag, InvalidSignature, AESGCM, ChaCha20Poly1305, Ed25519PublicKey,
             Ed25519PrivateKey, X25519PublicKey, X25519PrivateKey):
    _cls.__module__ = "pylon.crypto"


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
pylon_caps.declare_signatures(
    "crypto",
    {
        "pbkdf2_hmac": ("string", "bytes", "bytes", "u64", ("option", "u64")),
        "scrypt": ("bytes", "bytes", "u64", "u64", "u64", "u64", "u64"),
        "aead_encrypt": ("string", "bytes", "bytes", "bytes", ("option", "bytes")),
        "aead_decrypt": ("string", "bytes", "bytes", "bytes", ("option", "bytes")),
        "public_key": ("string", "bytes"),
        "ed25519_sign": ("bytes", "bytes"),
        "ed25519_verify": ("bytes", "bytes", "bytes"),
        "x25519_exchange": ("bytes", "bytes"),
    },
)
