"""The crypto cap's host provider: KDFs on the host's OpenSSL (hashlib), AEAD,
Ed25519 and X25519 on `cryptography`.

Calls are stateless: keys are bytes the guest holds and passes in. Every call
checks the live grants. Errors keep the class the guest should raise
(ValueError for bad arguments, InvalidTag, InvalidSignature is a False result).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.values import ProviderError

if TYPE_CHECKING:
    from pylon_shell.caps.registry import ProviderSetup

CAP = "crypto"
_AEAD = ("aes-gcm", "chacha20-poly1305")
_KEYS = ("ed25519", "x25519")


#: What OpenSSL's scrypt may use when the guest passes maxmem=0.
_SCRYPT_DEFAULT_MAXMEM = 32 << 20


class CryptoProvider:
    def __init__(self, grants: Grants, memory_mib: int | None = None) -> None:
        self._grants = grants
        #: --memory bounds what a KDF may allocate (scrypt's maxmem), beside the
        #: provider process's address-space limit.
        self._memory_mib = memory_mib

    def _run(self, operation: str, target: str, call: Callable[[], Any]) -> Any:
        with self._grants.call(CAP, operation, target):
            try:
                return call()
            except ProviderError:
                raise
            except (ValueError, TypeError, OverflowError, MemoryError) as error:
                raise ProviderError(type(error).__name__, str(error)) from None
            except Exception as error:
                name = type(error).__name__
                if name in ("InvalidTag", "InvalidSignature", "UnsupportedAlgorithm"):
                    raise ProviderError(name, str(error) or name) from None
                raise

    def random_bytes(self, count: int) -> bytes:
        """Key material for MicroPython, whose os.urandom cannot reach WASI's
        random source (CPython's guest uses WASI random directly)."""
        import secrets

        if not 0 <= count <= 1 << 16:
            raise ProviderError("ValueError", "random_bytes: count must be 0 to 65536")
        return self._run("random_bytes", str(count), lambda: secrets.token_bytes(count))

    def pbkdf2_hmac(
        self, hash_name: str, password: bytes, salt: bytes, iterations: int, dklen: int | None
    ) -> bytes:
        return self._run(
            "pbkdf2_hmac",
            f"{hash_name}, {iterations} iterations",
            lambda: hashlib.pbkdf2_hmac(hash_name, password, salt, iterations, dklen),
        )

    def scrypt(
        self, password: bytes, salt: bytes, n: int, r: int, p: int, maxmem: int, dklen: int
    ) -> bytes:
        if self._memory_mib is not None:
            ceiling = self._memory_mib << 20
            maxmem = min(maxmem or _SCRYPT_DEFAULT_MAXMEM, ceiling)
        return self._run(
            "scrypt",
            f"n={n}, r={r}, p={p}",
            lambda: hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=dklen),
        )

    @staticmethod
    def _aead(algorithm: str, key: bytes) -> Any:
        from cryptography.hazmat.primitives.ciphers import aead

        if algorithm not in _AEAD:
            raise ValueError(f"unknown AEAD {algorithm!r} (known: {', '.join(_AEAD)})")
        return (aead.AESGCM if algorithm == "aes-gcm" else aead.ChaCha20Poly1305)(key)

    def aead_encrypt(
        self, algorithm: str, key: bytes, nonce: bytes, data: bytes, aad: bytes | None
    ) -> bytes:
        return self._run(
            "encrypt",
            algorithm,
            lambda: self._aead(algorithm, key).encrypt(nonce, data, aad),
        )

    def aead_decrypt(
        self, algorithm: str, key: bytes, nonce: bytes, data: bytes, aad: bytes | None
    ) -> bytes:
        return self._run(
            "decrypt",
            algorithm,
            lambda: self._aead(algorithm, key).decrypt(nonce, data, aad),
        )

    @staticmethod
    def _private(algorithm: str, private: bytes) -> Any:
        from cryptography.hazmat.primitives.asymmetric import ed25519, x25519

        if algorithm not in _KEYS:
            raise ValueError(f"unknown key type {algorithm!r} (known: {', '.join(_KEYS)})")
        module = ed25519.Ed25519PrivateKey if algorithm == "ed25519" else x25519.X25519PrivateKey
        return module.from_private_bytes(private)

    def public_key(self, algorithm: str, private: bytes) -> bytes:
        return self._run(
            "public_key",
            algorithm,
            lambda: self._private(algorithm, private).public_key().public_bytes_raw(),
        )

    def ed25519_sign(self, private: bytes, message: bytes) -> bytes:
        return self._run("sign", "ed25519", lambda: self._private("ed25519", private).sign(message))

    def ed25519_verify(self, public: bytes, signature: bytes, message: bytes) -> bool:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric import ed25519

        def verify() -> bool:
            key = ed25519.Ed25519PublicKey.from_public_bytes(public)
            try:
                key.verify(signature, message)
            except InvalidSignature:
                return False
            return True

        return self._run("verify", "ed25519", verify)

    def x25519_exchange(self, private: bytes, peer: bytes) -> bytes:
        from cryptography.hazmat.primitives.asymmetric import x25519

        return self._run(
            "exchange",
            "x25519",
            lambda: self._private("x25519", private).exchange(
                x25519.X25519PublicKey.from_public_bytes(peer)
            ),
        )


def make(grants: Grants, setup: ProviderSetup) -> CryptoProvider:
    return CryptoProvider(grants, setup.memory_mib)
