"""The crypto cap against the published test vectors, in both runtimes."""

from __future__ import annotations

import hashlib
import json

import pytest

RFC8439_KEY = bytes(range(0x80, 0xA0)).hex()
RFC8439_PLAINTEXT = (
    b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    b"future, sunscreen would be it."
).hex()
RFC8439_SEALED = (
    "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69"
    "da92728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad67594"
    "5585808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
    "1ae10b594f09e26a7e902ecbd0600691"
)
GCM_PLAINTEXT = (
    "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
    "49a6b525b16aedf5aa0de657ba637b391aafd255"
)
GCM_SEALED = (
    "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5a"
    "ac84aa051ba30b396a0aac973d58e091473f5985"
    "4d5c2af327cd64a62cf35abd2ba6fab4"
)

VECTORS = f"""
import json
KDF = __import__("hashlib") if "{{flag}}" == "--cp" else __import__("pylon").crypto
if "{{flag}}" == "--cp":
    from pylon.crypto import (AESGCM, ChaCha20Poly1305, Ed25519PrivateKey, X25519PrivateKey,
                              X25519PublicKey, InvalidTag, InvalidSignature)
    scrypt = lambda p, s, n, r, q, dklen: KDF.scrypt(p, salt=s, n=n, r=r, p=q, dklen=dklen)
else:
    from pylon import crypto
    AESGCM, ChaCha20Poly1305 = crypto.AESGCM, crypto.ChaCha20Poly1305
    Ed25519PrivateKey, X25519PrivateKey = crypto.Ed25519PrivateKey, crypto.X25519PrivateKey
    X25519PublicKey, InvalidTag = crypto.X25519PublicKey, crypto.InvalidTag
    InvalidSignature = crypto.InvalidSignature
    scrypt = lambda p, s, n, r, q, dklen: KDF.scrypt(p, s, n, r, q, 0, dklen)
h = bytes.fromhex
out = {{}}
out["rfc6070_1"] = KDF.pbkdf2_hmac("sha1", b"password", b"salt", 1, 20).hex()
out["rfc6070_4096"] = KDF.pbkdf2_hmac("sha1", b"password", b"salt", 4096, 20).hex()
out["rfc7914_1"] = scrypt(b"", b"", 16, 1, 1, 64).hex()
out["rfc7914_2"] = scrypt(b"password", b"NaCl", 1024, 8, 16, 64).hex()
chacha = ChaCha20Poly1305(h("{RFC8439_KEY}"))
nonce, aad = h("070000004041424344454647"), h("50515253c0c1c2c3c4c5c6c7")
sealed = chacha.encrypt(nonce, h("{RFC8439_PLAINTEXT}"), aad)
out["rfc8439"] = sealed.hex()
out["rfc8439_open"] = chacha.decrypt(nonce, sealed, aad).hex()
try:
    chacha.decrypt(nonce, sealed[:-1] + b"x", aad)
except InvalidTag:
    out["rfc8439_tampered"] = "InvalidTag"
gcm = AESGCM(h("feffe9928665731c6d6a8f9467308308"))
out["gcm"] = gcm.encrypt(h("cafebabefacedbaddecaf888"), h("{GCM_PLAINTEXT}"), None).hex()
sk = Ed25519PrivateKey.from_private_bytes(
    h("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))
out["rfc8032_public"] = sk.public_key().public_bytes_raw().hex()
out["rfc8032_signature"] = sk.sign(b"").hex()
sk.public_key().verify(sk.sign(b""), b"")
try:
    sk.public_key().verify(sk.sign(b""), b"other")
except InvalidSignature:
    out["rfc8032_forged"] = "InvalidSignature"
alice = X25519PrivateKey.from_private_bytes(
    h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"))
bob_public = X25519PublicKey.from_public_bytes(
    h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
out["rfc7748_public"] = alice.public_key().public_bytes_raw().hex()
out["rfc7748_shared"] = alice.exchange(bob_public).hex()
a, b = X25519PrivateKey.generate(), X25519PrivateKey.generate()
out["x25519_agree"] = a.exchange(b.public_key()) == b.exchange(a.public_key())
print(json.dumps(out))
"""

EXPECTED = {
    "rfc6070_1": "0c60c80f961f0e71f3a9b524af6012062fe037a6",
    "rfc6070_4096": "4b007901b765489abead49d926f721d065a429c1",
    "rfc7914_1": (
        "77d6576238657b203b19ca42c18a0497f16b4844e3074ae8dfdffa3fede21442"
        "fcd0069ded0948f8326a753a0fc81f17e8d3e0fb2e0d3628cf35e20c38d18906"
    ),
    "rfc7914_2": (
        "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b373162"
        "2eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640"
    ),
    "rfc8439": RFC8439_SEALED,
    "rfc8439_open": RFC8439_PLAINTEXT,
    "rfc8439_tampered": "InvalidTag",
    "gcm": GCM_SEALED,
    "rfc8032_public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "rfc8032_signature": (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555"
        "fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
    "rfc8032_forged": "InvalidSignature",
    "rfc7748_public": "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
    "rfc7748_shared": "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
    "x25519_agree": True,
}


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_published_vectors(pylon, flag):
    result = pylon(flag, "--cap", "crypto", "-c", VECTORS.replace("{flag}", flag))
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout) == EXPECTED


def test_pbkdf2_prints_what_host_cpython_prints(pylon):
    code = "import hashlib; print(hashlib.pbkdf2_hmac('sha256', b'password', b'salt', 4096).hex())"
    result = pylon("--cap", "crypto", "-c", code)
    assert result.stdout == hashlib.pbkdf2_hmac("sha256", b"password", b"salt", 4096).hex() + "\n"


def test_kdf_arguments_fail_as_in_cpython(pylon):
    code = """
import hashlib
for call in (
    lambda: hashlib.pbkdf2_hmac("nope", b"p", b"s", 1),
    lambda: hashlib.pbkdf2_hmac("sha256", b"p", b"s", 0),
    lambda: hashlib.scrypt(b"p", salt=b"s", n=3, r=1, p=1),
    lambda: hashlib.pbkdf2_hmac("sha256", "text", b"s", 1),
):
    try:
        call()
    except Exception as e:
        print(type(e).__name__)
"""
    result = pylon("--cap", "crypto", "-c", code)
    assert result.stdout.split() == ["ValueError", "ValueError", "ValueError", "TypeError"]


@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_pylon_crypto_needs_the_cap(pylon, flag):
    result = pylon(flag, "--no-caps", "-c", "import pylon.crypto")
    assert result.status == 1
    assert result.stderr == (
        "pylon: <string>:1: "
        "import of pylon.crypto needs the crypto cap, which this plan does not grant; "
        "grant it with --cap crypto\n"
    )


def test_hashlib_imports_without_the_cap_and_its_kdfs_name_it(pylon):
    code = (
        "import hashlib; print(hashlib.sha256(b'x').hexdigest()[:8]); "
        "hashlib.scrypt(b'p', salt=b's', n=2, r=1, p=1)"
    )
    result = pylon("--no-caps", "-c", code)
    assert result.status == 1
    assert result.stdout == "2d711642\n"
    assert result.stderr.startswith(
        "pylon: <string>:1: PermissionError: the crypto cap is not granted (scrypt"
    )
    assert result.stderr.endswith("grant it with --cap crypto\n")
