"""The argon2 cap package (pylon_shell/caps/argon2): argon2-cffi's API in both
runtimes under the crypto grant, against argon2-cffi's own values on the host:
raw hashes and PHC strings from fixed salts, hashes made in the guest verified
by the host and the reverse, the library's errors, and the host's bounds."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import Type, hash_secret, hash_secret_raw, verify_secret
from conftest import Captured

from pylon_shell.caps.argon2 import phc
from pylon_shell.caps.argon2.provider import MAX_THREADS, Argon2Provider
from pylon_shell.caps.values import ProviderError
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session

FLAGS = ["--cp", "--mp"]
PASSWORD = "correct horse"
#: The example of the Argon2 reference implementation's README
#: (`echo -n password | argon2 somesalt -t 2 -m 16 -p 4 -l 24`).
README_HASH = "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG"


def _host_hashes() -> list[str]:
    """PHC strings the host's argon2-cffi makes: every type, both versions (and a
    version-less v1.2 string), and more lanes than the provider has threads."""
    made = [
        hash_secret(PASSWORD.encode(), b"saltsalt", 1, 64, 1, 16, Type.D),
        hash_secret(PASSWORD.encode(), b"pepper and salt", 2, 256, 2, 32, Type.I),
        hash_secret(PASSWORD.encode(), b"12345678", 1, 128, 8, 12, Type.ID),
        hash_secret(PASSWORD.encode(), b"old-style", 1, 32, 1, 16, Type.I, 0x10),
    ]
    strings = [h.decode() for h in made]
    return [*strings, strings[-1].replace("$v=16", "")]


# Guest and host run this same program; the host's run uses argon2-cffi itself.
PROGRAM = """
import json
import argon2
from argon2 import PasswordHasher, Type, extract_parameters, profiles
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import ARGON2_VERSION, hash_secret, hash_secret_raw

out = {}
values = []
for kind in (Type.D, Type.I, Type.ID):
    for version in (0x10, 0x13):
        for lanes in (1, 3):
            values.append(hash_secret_raw(b"password", b"somesalt", 2, 96, lanes, 20, kind,
                                          version).hex())
            values.append(hash_secret(b"pass\\x00word", b"s" * 17, 1, 64, lanes, 9, kind,
                                      version).decode())
out["values"] = values
out["readme"] = hash_secret(b"password", b"somesalt", 2, 65536, 4, 24, Type.I).decode()
out["constants"] = [argon2.DEFAULT_TIME_COST, argon2.DEFAULT_MEMORY_COST,
                    argon2.DEFAULT_PARALLELISM, argon2.DEFAULT_HASH_LENGTH,
                    argon2.DEFAULT_RANDOM_SALT_LENGTH, ARGON2_VERSION,
                    [repr(t) for t in (Type.D, Type.I, Type.ID)]]
out["profiles"] = [repr(p) for p in (profiles.RFC_9106_HIGH_MEMORY, profiles.RFC_9106_LOW_MEMORY,
                                     profiles.PRE_21_2, profiles.CHEAPEST,
                                     profiles.get_default_parameters())]
ph = PasswordHasher()
made = ph.hash(PASSWORD)
out["made"] = [made, ph.hash(PASSWORD.encode()), ph.hash(PASSWORD, salt=b"sixteen bytes!!!")]
checks = []
for known in HOST_HASHES:
    checks.append(ph.verify(known, PASSWORD))
    checks.append(ph.verify(known.encode(), PASSWORD.encode()))
    try:
        ph.verify(known, "wrong horse")
        checks.append("verified")
    except VerifyMismatchError as error:
        checks.append(str(error))
    checks.append(repr(extract_parameters(known)))
    checks.append(ph.check_needs_rehash(known))
out["checks"] = checks
cheap = PasswordHasher.from_parameters(profiles.CHEAPEST)
out["rehash"] = [ph.check_needs_rehash(made), ph.check_needs_rehash(made.encode()),
                 cheap.check_needs_rehash(made), cheap.check_needs_rehash(cheap.hash("x")),
                 repr(extract_parameters(made))]
out["hasher"] = [cheap.time_cost, cheap.memory_cost, cheap.parallelism, cheap.hash_len,
                 cheap.salt_len, repr(cheap.type), cheap.encoding]
print(json.dumps(out))
"""


def _program() -> str:
    return f"PASSWORD = {PASSWORD!r}\nHOST_HASHES = {_host_hashes()!r}\n" + PROGRAM


@pytest.fixture(scope="module")
def expected() -> dict[str, object]:
    host = subprocess.run(
        [sys.executable, "-c", _program()], capture_output=True, text=True, check=True
    )  # the same program on the host, with argon2-cffi
    return dict(json.loads(host.stdout))


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_hashes_match_argon2_cffi_and_verify_both_ways(pylon, flag, expected):
    result = pylon(flag, "--cap", "crypto", "-c", _program(), timeout=300)
    assert result.status == 0, result.stderr
    got = json.loads(result.stdout)
    made = got.pop("made")
    assert got == {k: v for k, v in expected.items() if k != "made"}
    assert got["readme"] == README_HASH
    # The guest's PHC strings verify with argon2-cffi on the host; the salts
    # the host made for them are 16 random bytes, never the same twice.
    host = PasswordHasher()
    for string in made:
        assert host.verify(string, PASSWORD)
        with pytest.raises(VerifyMismatchError):
            host.verify(string, "wrong horse")
        assert not host.check_needs_rehash(string)
    assert made[2] == host.hash(PASSWORD, salt=b"sixteen bytes!!!")
    assert made[0].split("$")[4] != made[1].split("$")[4]
    assert len(made[0].split("$")[4]) == 22  # 16 bytes in unpadded base64


ERRORS = """
import argon2
from argon2 import PasswordHasher, Type, extract_parameters
from argon2.exceptions import (HashingError, InvalidHash, InvalidHashError, VerificationError,
                               VerifyMismatchError)
from argon2.low_level import hash_secret, hash_secret_raw, verify_secret

def attempt(f):
    try:
        print("ok", f())
    except Exception as error:
        print(type(error).__name__, error)

ph = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
attempt(lambda: hash_secret("pw", b"saltsalt", 1, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret(b"pw", "saltsalt", 1, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret(b"pw", b"salt", 1, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret(b"pw", b"saltsalt", 1, 8, 1, 16, Type.ID, 42))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 8, 1, 3, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 8, 1, -1, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", -1, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 2**32, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1.5, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 7, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 8, 2, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 0, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"pw", b"saltsalt", 1, 8, 0, 16, Type.ID))
attempt(lambda: verify_secret("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
                              b"pw", Type.ID))
attempt(lambda: verify_secret(I_HASH.encode(), b"pw", Type.ID))
attempt(lambda: verify_secret(I_HASH.encode() + b"\\x00 anything", b"pw", Type.I))
attempt(lambda: verify_secret(I_HASH.encode() + b"$", b"pw", Type.I))
attempt(lambda: ph.verify("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$xx", "x"))
attempt(lambda: ph.verify("$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$", "x"))
attempt(lambda: ph.verify("$argon2id$v=19$m=08,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", "x"))
attempt(lambda: ph.verify("$md5$abc", "x"))
attempt(lambda: ph.verify(I_HASH, "wrong"))
attempt(lambda: ph.hash("x", salt=b"short"))
attempt(lambda: ph.hash("x", pepper=b"no"))
attempt(lambda: PasswordHasher(time_cost="3", memory_cost=1.5))
attempt(lambda: PasswordHasher(type=2))
attempt(lambda: extract_parameters("$argon2id$v=19$m=8,t=1$abc$def"))
attempt(lambda: extract_parameters("$argon2x$v=19$m=8,t=1,p=1$abc$def"))
attempt(lambda: [isinstance(VerifyMismatchError("x"), VerificationError),
                 InvalidHash is InvalidHashError, issubclass(InvalidHashError, ValueError),
                 issubclass(HashingError, argon2.exceptions.Argon2Error),
                 issubclass(VerificationError, argon2.exceptions.Argon2Error)])
"""


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_errors_are_argon2_cffis(pylon, flag):
    code = f"I_HASH = {_host_hashes()[1]!r}\n" + ERRORS
    host = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = pylon(flag, "--cap", "crypto", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == host.stdout.splitlines()


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_an_import_without_the_grant_is_one_line_naming_the_crypto_cap(pylon, flag):
    result = pylon(flag, "-c", "from argon2 import PasswordHasher")
    assert result.status == 1
    assert result.stderr.strip().splitlines() == [
        "pylon: <string>:1: import of argon2 needs the crypto cap, which this plan does not grant; "
        "grant it with --cap crypto"
    ]


BOUNDS = """
from argon2 import PasswordHasher
from argon2.low_level import Type, hash_secret_raw, verify_secret

def attempt(f):
    try:
        print("ok", f())
    except Exception as error:
        print(type(error).__name__, error)

attempt(lambda: PasswordHasher(memory_cost=128 * 1024).hash("x"))
attempt(lambda: verify_secret(
    b"$argon2id$v=19$m=131072,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA", b"x", Type.ID))
attempt(lambda: hash_secret_raw(b"x", b"saltsalt", 1 << 21, 8, 1, 16, Type.ID))
attempt(lambda: hash_secret_raw(b"x", b"saltsalt", 1, 8, 1, 1 << 17, Type.ID))
attempt(lambda: PasswordHasher(salt_len=1 << 17).hash("x"))
# Salts are the host's: the guest's own randomness is never asked.
try:
    import os
    os.urandom = None
except Exception:
    pass
ph = PasswordHasher(time_cost=1, memory_cost=32 * 1024, parallelism=64)
made = [ph.hash("x") for _ in range(3)]
print(len(set(m.split("$")[4] for m in made)), ph.verify(made[0], "x"))
"""


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_costs_are_bounded_by_the_plan_and_salts_come_from_the_host(pylon, flag):
    result = pylon(flag, "--memory", "64", "--cap", "crypto", "-c", BOUNDS)
    assert result.stdout.splitlines() == [
        "HashingError Memory cost is too large for this plan: 131072 KiB is over the "
        "65536 KiB it lets the host spend (raise it with --memory)",
        "VerificationError Memory cost is too large for this plan: 131072 KiB is over the "
        "65536 KiB it lets the host spend (raise it with --memory)",
        "HashingError Time cost is too large: time_cost * memory_cost is 16777216, "
        "over pylon's bound of 8388608 (lower either)",
        "HashingError Output is too long (pylon bounds hash_len to 65536 bytes)",
        "HashingError Salt is too long (pylon makes at most 65536 bytes)",
        "3 True",
    ], result.stderr


@pytest.mark.runtime
def test_a_revoke_of_crypto_applies_to_the_next_argon2_call(built):
    plan = replace(shipped("default").with_runtime("micropython"), capabilities=("crypto",))
    session = Session(plan, Captured())
    try:
        rt = session.runtime
        code = "import argon2\nph = argon2.PasswordHasher(1, 8, 1)\nh = ph.hash('x')"
        assert rt.run_input(code) == Ok()
        session.grants.revoke("crypto")
        outcome = rt.run_input("ph.verify(h, 'x')")
        assert isinstance(outcome, Raised)
        assert outcome.type_name == "PermissionError"
        assert "crypto cap is not granted" in outcome.traceback
        session.grants.grant("crypto")
        assert rt.run_input("assert ph.verify(h, 'x')") == Ok()
    finally:
        session.close()


# -- the provider on the host, against argon2-cffi itself -----------------------


def _outcome(call: Callable[..., object], *args: object) -> tuple[str, object]:
    try:
        return ("ok", call(*args))
    except ProviderError as error:
        return (error.kind, error.message)
    except Exception as error:  # noqa: BLE001 - argon2-cffi's errors, compared by name
        return (type(error).__name__, str(error))


HASH_CASES = [
    (b"pw", b"saltsalt", 1, 8, 1, 16, 2, 19),
    (b"", b"saltsalt", 2, 64, 4, 32, 0, 0x10),
    (b"x" * 100, b"s" * 30, 1, 32, 2, 4, 1, 19),
    (b"pw", b"saltsalt", 3, 4096, 3, 1000, 2, 19),
    (b"pw", b"saltsalt", 1, 8, 1, 16, 2, 42),
    (b"pw", b"salt", 1, 8, 1, 16, 2, 19),
    (b"pw", b"saltsalt", 0, 8, 1, 16, 2, 19),
    (b"pw", b"saltsalt", 1, 7, 1, 16, 2, 19),
    (b"pw", b"saltsalt", 1, 8, 2, 16, 2, 19),
    (b"pw", b"saltsalt", 1, 8, 0, 16, 2, 19),
    (b"pw", b"saltsalt", 1, 8, 1, 3, 2, 19),
    (b"pw", b"saltsalt", -1, 8, 1, 16, 2, 19),
    (b"pw", b"saltsalt", 1, 2**32, 1, 16, 2, 19),
]


@pytest.mark.parametrize("case", HASH_CASES)
@pytest.mark.parametrize("raw", [False, True])
def test_the_provider_hashes_as_argon2_cffi(case, raw):
    secret, salt, t, m, p, length, kind, version = case
    library = hash_secret_raw if raw else hash_secret
    provider = Argon2Provider(grants=None, memory_mib=256)
    want = _outcome(lambda: library(secret, salt, t, m, p, length, Type(kind), version))
    got = _outcome(lambda: provider.hash(secret, salt, 0, t, m, p, length, kind, version, raw))
    assert got == want


def test_the_provider_reads_phc_strings_as_argon2_cffi():
    """Mutated PHC strings (digits, separators, base64's spare bits, NULs, a
    missing `v=`) get argon2-cffi's outcome: True, a mismatch or its error."""
    bases = [
        hash_secret(b"pw", b"saltsalt12", 1, 16, 2, 16, Type.ID),
        hash_secret(b"pw", b"saltsalt", 1, 8, 1, 12, Type.I, 0x10),
        hash_secret(b"pw", b"saltsalt", 2, 32, 1, 5, Type.D),
    ]
    bases.append(bases[1].replace(b"$v=16", b""))
    alphabet = b"$=,0123456789abcdmptvAZ+/\0 "
    rng = random.Random(16)
    provider = Argon2Provider(grants=None, memory_mib=64)
    seen = set()
    for base in bases:
        for _ in range(400):
            text = bytearray(base)
            for _ in range(rng.randint(0, 3)):
                i = rng.randrange(len(text))
                op = rng.random()
                if op < 0.4:
                    text[i] = rng.choice(alphabet)
                elif op < 0.7:
                    text.insert(i, rng.choice(alphabet))
                else:
                    del text[i]
            string = bytes(text)
            for kind in (0, 1, 2):
                for password in (b"pw", b"px"):
                    want = _outcome(verify_secret, string, password, Type(kind))
                    got = _outcome(provider.verify, string, password, kind)
                    assert got == want, string
                    seen.add(want[0] if want[0] != "VerificationError" else want)
    # The mutations reach every outcome, not only "Decoding failed".
    assert {"ok", "VerifyMismatchError", ("VerificationError", "Decoding failed")} <= seen
    assert len(seen) >= 6


def test_the_provider_runs_at_most_max_threads_whatever_the_lanes(monkeypatch):
    from pylon_shell.caps.argon2 import provider as module

    assert 1 <= MAX_THREADS <= 4
    monkeypatch.setattr(module, "MAX_THREADS", 1)
    provider = Argon2Provider(grants=None)
    made = provider.hash(b"pw", b"saltsalt", 0, 1, 1024, 32, 16, 2, 19, False)
    assert made == hash_secret(b"pw", b"saltsalt", 1, 1024, 32, 16, Type.ID)
    assert provider.verify(made, b"pw", 2) is True


def test_the_provider_bounds_what_the_guest_asks():
    provider = Argon2Provider(grants=None, memory_mib=1)
    assert provider.max_memory_kib == 1024
    with pytest.raises(ProviderError, match="Memory cost is too large for this plan: 2048 KiB"):
        provider.hash(b"pw", None, 16, 1, 2048, 1, 16, 2, 19, True)
    unbounded = Argon2Provider(grants=None)
    assert unbounded.max_memory_kib == 4096 << 10  # the provider process's default data limit
    for call, args in (
        (provider.hash, ("pw", None, 16, 1, 8, 1, 16, 2, 19, True)),
        (provider.hash, (b"pw", None, 16, 1, 8, 1.0, 16, 2, 19, True)),
        (provider.verify, (b"$argon2id$", b"pw", 2.0)),
        (provider.verify, ("$argon2id$", b"pw", 2)),
    ):
        assert _outcome(call, *args)[0] == "TypeError"
    assert _outcome(provider.hash, b"pw", None, -1, 1, 8, 1, 16, 2, 19, True)[0] == "OverflowError"
    salts = {provider.hash(b"pw", None, 16, 1, 8, 1, 16, 2, 19, False).split(b"$")[4]
             for _ in range(8)}  # fmt: skip
    assert len(salts) == 8
    assert phc.decode(phc.encode(phc.Context(2, 19, 8, 1, 1, b"s" * 8, b"o" * 4)), 2).out == b"oooo"
