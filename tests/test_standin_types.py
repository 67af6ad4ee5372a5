"""Wrong argument types to the CPython stand-ins are Python errors, never a trap.

componentize-py traps (`wasm trap: unreachable`) on a value that does not fit
a WIT type, which would end the whole interpreter; the stand-ins and the
guarded bindings raise what CPython raises instead, and the session goes on.
"""

from __future__ import annotations

import pytest

CAPS = ("--cap", "compression", "--cap", "crypto")


def last_error(code: str, *flags: str, pylon) -> tuple[int, str]:
    result = pylon(*flags, "-c", code)
    return result.status, result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (
            "from compression import zstd\nzstd.compress(b'x', level=b'3')",
            "TypeError: 'bytes' object cannot be interpreted as an integer",
        ),
        (
            "from compression import zstd\nzstd.ZstdCompressor().compress(b'x', mode=2**40)",
            "OverflowError: Python int too large to convert to C int",
        ),
        (
            "from compression import zstd\n"
            "zstd.ZstdDecompressor().decompress(b'x', max_length='x')",
            "TypeError: 'str' object cannot be interpreted as an integer",
        ),
        (
            "import bz2\nbz2.BZ2Decompressor().decompress(b'x', max_length=2**70)",
            "OverflowError: Python int too large to convert to C ssize_t",
        ),
        (
            "import bz2\nbz2.BZ2Compressor('9')",
            "TypeError: 'str' object cannot be interpreted as an integer",
        ),
        (
            "import hashlib\nhashlib.scrypt(b'password', salt=b'salt', n=2**128, r=8, p=1)",
            "OverflowError: Python int too large to convert to C unsigned long",
        ),
        (
            "import hashlib\nhashlib.scrypt(b'password', salt=b'salt', n=3, r=8, p=1)",
            "ValueError: n must be a power of 2.",
        ),
        (
            "import hashlib\nhashlib.scrypt(b'password', salt=b'salt', n=2, r=8, p=1, dklen=0)",
            "ValueError: dklen must be greater than 0 and smaller than 2147483647",
        ),
        (
            "import hashlib\nhashlib.pbkdf2_hmac('sha256', b'p', b's', 2**40)",
            "OverflowError: iteration value is too great.",
        ),
        (
            "import hashlib\nhashlib.pbkdf2_hmac('sha256', 'p', b's', 1)",
            "TypeError: a bytes-like object is required, not 'str'",
        ),
        (
            "from wit_world.imports import compression\ncompression.drop(-1)",
            "OverflowError: compression.drop() argument 1 is out of range "
            "(-1 not in 0..4294967295)",
        ),
        (
            "from wit_world.imports import crypto\ncrypto.scrypt(bytearray(), b'', 2, 1, 1, 0, 1)",
            "TypeError: crypto.scrypt() argument 1 must be bytes, not bytearray",
        ),
        (
            "from wit_world.imports import net\nnet.connect('a\\udc80', 80, None)",
            "UnicodeEncodeError: 'utf-8' codec can't encode character '\\udc80' in position 1: "
            "surrogates not allowed",
        ),
    ],
)
def test_wrong_types_raise_as_cpython_does(pylon, code, error):
    assert last_error(code, *CAPS, pylon=pylon) == (1, error)


def test_scrypt_validation_needs_no_cap_and_does_not_trap(pylon):
    # CPython's test_hashlib.test_scrypt_validate, under --no-caps.
    code = (
        "import hashlib\n"
        "for n in (-1, 0, 1, 2**128, 3, 15, 2.0):\n"
        "    try:\n"
        "        hashlib.scrypt(b'password', salt=b'salt', n=n, r=8, p=1)\n"
        "    except (ValueError, OverflowError, TypeError) as e:\n"
        "        print(type(e).__name__)\n"
    )
    result = pylon("--no-caps", "-c", code)
    # CPython 3.14's _hashlib: n is an unsigned long (negative -> ValueError,
    # 2**128 -> OverflowError, a float -> TypeError), then a power of 2 above 1.
    assert (result.status, result.stdout.split()) == (
        0,
        [
            "ValueError",
            "ValueError",
            "ValueError",
            "OverflowError",
            "ValueError",
            "ValueError",
            "TypeError",
        ],
    )


def test_a_provider_error_takes_a_traceback_under_unittest(pylon, tmp_path):
    script = tmp_path / "t.py"
    script.write_text(
        "import bz2, unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_bad(self):\n"
        "        bz2.decompress(b'not bz2 data')\n"
        "unittest.main()\n"
    )
    result = pylon("--cap", "compression", str(script))
    assert result.status == 1
    assert "FrozenInstanceError" not in result.stderr
    assert "OSError: Invalid data stream" in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "FAILED (errors=1)"


@pytest.mark.parametrize(
    ("code", "stdout"),
    [
        ("import sys\nsys.exit(2**40 + 3)", ""),
        ("raise ValueError('\\udc80')", ""),
    ],
)
def test_outcomes_the_wit_cannot_carry_as_is_do_not_trap(pylon, code, stdout):
    result = pylon("-c", code)
    assert "the guest crashed" not in result.stderr
    assert result.status == (3 if "exit" in code else 1)
    if "ValueError" in code:
        assert result.stderr.strip().splitlines()[-1] == "ValueError: \\udc80"
