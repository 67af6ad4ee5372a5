"""The hash cap (pylon_shell/caps/hash): xxhash and blake3 in both runtimes, against
the reference packages' own values on the host, and the generic dispatch's checks."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
import xxhash
from conftest import Captured

from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session

FLAGS = ["--cp", "--mp"]
ALGORITHMS = ("xxh32", "xxh64", "xxh3_64", "xxh3_128")
#: Sizes on both sides of the stand-ins' 1 MiB streaming threshold.
SIZES = (0, 1, 31, 4096, (1 << 20) - 1, (1 << 20) + 7, 3 << 20)

# Guest and host run this same program: its data is generated from a seed, so
# the guest's digests are compared with the reference packages'.
PROGRAM = """
import json, xxhash, blake3

def data(n, seed):
    # A deterministic byte pattern (MicroPython has no random.randbytes).
    out = bytearray(n)
    x = seed
    for i in range(0, n, 4096):
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        out[i] = x & 0xFF
    return bytes(out)

out = {}
for algorithm in ALGORITHMS:
    cls = getattr(xxhash, algorithm)
    for size in SIZES:
        blob = data(size, size)
        h = cls(blob[: size // 2], seed=size * 7)
        h.update(blob[size // 2 :])
        early = h.copy()
        h.update(b"tail")
        out["%s-%d" % (algorithm, size)] = [h.hexdigest(), h.intdigest(), early.hexdigest()]
    out[algorithm + "-fn"] = [
        getattr(xxhash, algorithm + "_hexdigest")(b"abc", 2**64 + 3),
        getattr(xxhash, algorithm + "_intdigest")(b"abc", -1),
    ]
    reset = cls(b"zzz")
    reset.reset()
    reset.update(b"abc")
    out[algorithm + "-reset"] = reset.hexdigest()
out["xxh128"] = xxhash.xxh128(b"abc").hexdigest()
for size in SIZES:
    blob = data(size, size + 1)
    b = blake3.blake3(blob[:5])
    b.update(blob[5:])
    out["blake3-%d" % size] = [b.hexdigest(), b.digest(length=100, seek=7).hex(),
                               b.copy().update(b"x").hexdigest()]
key = bytes(range(32))
out["blake3-keyed"] = blake3.blake3(b"abc", key=key).hexdigest(length=16)
out["blake3-derive"] = blake3.blake3(b"abc", derive_key_context="pylon 2026 tests").hexdigest()
print(json.dumps(out))
"""


def _program() -> str:
    return f"ALGORITHMS = {ALGORITHMS!r}\nSIZES = {SIZES!r}\n" + PROGRAM


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_the_reference_values(pylon, flag):
    code = (
        "import xxhash, blake3\n"
        "print(xxhash.xxh64(b'abc').hexdigest())\n"
        "print(blake3.blake3(b'abc').hexdigest()[:16])\n"
    )
    result = pylon(flag, "--cap", "hash", "-c", code)
    assert result.stdout == "44bc2cf5ad770999\n6437b3ac38465133\n", result.stderr


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_digests_match_the_reference_packages(pylon, flag):
    host = subprocess.run(
        [sys.executable, "-c", _program()], capture_output=True, text=True, check=True
    )  # the same program on the host, with the reference packages
    expected = json.loads(host.stdout)
    result = pylon(flag, "--cap", "hash", "-c", _program(), timeout=300)
    assert result.status == 0, result.stderr
    assert json.loads(result.stdout) == expected


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_an_import_without_the_grant_is_one_line_naming_the_cap(pylon, flag):
    result = pylon(flag, "-c", "import blake3")
    assert result.status == 1
    assert result.stderr.strip().splitlines() == [
        "pylon: <string>:1: import of blake3 needs the hash cap, which this plan does not grant; "
        "grant it with --cap hash"
    ]


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_errors_are_the_reference_packages(pylon, flag):
    code = """
import xxhash, blake3
def attempt(f):
    try:
        f()
    except Exception as error:
        print(type(error).__name__, error)
attempt(lambda: xxhash.xxh64("abc"))
attempt(lambda: xxhash.xxh64(123))
attempt(lambda: xxhash.xxh64(b"a", "seed"))
attempt(lambda: blake3.blake3("abc"))
attempt(lambda: blake3.blake3(b"", key=b"short"))
attempt(lambda: blake3.blake3(b"", key=bytes(32), derive_key_context="x"))
attempt(lambda: blake3.blake3(max_threads=0))
attempt(lambda: blake3.blake3(b"a").digest(length=-1))
"""
    result = pylon(flag, "--cap", "hash", "-c", code)
    assert result.stdout.splitlines() == [
        "TypeError Strings must be encoded before hashing",
        "TypeError a bytes-like object is required, not 'int'",
        "TypeError 'str' object cannot be interpreted as an integer",
        "TypeError a bytes-like object is required, not 'str'",
        "ValueError expected a 32-byte key, found 5",
        "ValueError cannot use key and derive_key_context at the same time",
        "ValueError not a valid number of threads",
        "OverflowError can't convert negative int to unsigned",
    ], result.stderr


@pytest.mark.runtime
@pytest.mark.parametrize("flag", FLAGS)
def test_many_small_hashers_hold_nothing_on_the_host(pylon, flag):
    """The stand-ins buffer below 1 MiB: 10,000 hashers (MicroPython never
    frees them) make 10,000 one-shot calls and no host object."""
    code = (
        "import xxhash\n"
        "keep = [xxhash.xxh64(b'%d' % i) for i in range(10000)]\n"
        "print(len({h.hexdigest() for h in keep}))\n"
    )
    result = pylon(flag, "--cap", "hash", "-c", code, timeout=300)
    assert result.stdout == "10000\n", result.stderr


@pytest.mark.runtime
def test_a_blake3_digest_is_bounded(pylon):
    code = (
        "import blake3\n"
        "try:\n    blake3.blake3(b'a').digest(length=1 << 40)\n"
        "except ValueError as e:\n    print(e)\n"
    )
    result = pylon("--cap", "hash", "-c", code)
    assert result.stdout == "a digest of at most 16777216 bytes a call\n", result.stderr


@pytest.mark.runtime
def test_the_dispatch_interface_serves_only_declared_calls_of_cap_packages(pylon):
    """A guest calling pylon:cap/dispatch itself reaches no built-in cap, no
    undeclared or private method, and gets one line for a misfit."""
    code = """
from wit_world.imports import dispatch as d
from componentize_py_types import Err
def attempt(*args):
    try:
        print(d.call(*args))
    except Err as err:
        print(err.value.kind, err.value.message)
attempt("duckdb", "connect", [d.Arg_Text(":memory:"), d.Arg_Boolean(False)])
attempt("hash", "_make", [])
attempt("hash", "__init__", [])
attempt("hash", "oneshot", [d.Arg_Text("xxh64")])
attempt("hash", "drop", [d.Arg_Integer(1)] * 33)
attempt("hash", "oneshot", [d.Arg_Text("md5"), d.Arg_Bytes(""), d.Arg_Integer(0),
                            d.Arg_None_(), d.Arg_None_(), d.Arg_Integer(0), d.Arg_Integer(0)])
attempt("hash", "new", [d.Arg_Text("xxh64"), d.Arg_Text("not bytes"), d.Arg_Integer(0),
                        d.Arg_None_(), d.Arg_None_()])
attempt("hash", "oneshot", [d.Arg_Text("xxh64"), d.Arg_Bytes("YWJj"), d.Arg_BigInteger("9" * 65),
                            d.Arg_None_(), d.Arg_None_(), d.Arg_Integer(0), d.Arg_Integer(0)])
print(d.guest_source("../../etc/passwd"), d.guest_source("duckdb"))
"""
    result = pylon("--cap", "hash", "-c", code)
    assert result.stdout.splitlines() == [
        "ValueError no cap package serves 'duckdb'",
        "ValueError the hash package has no call '_make'",
        "ValueError the hash package has no call '__init__'",
        "TypeError hash.oneshot: missing a required argument: 'data'",
        "TypeError a hash call takes at most 32 arguments",
        "ValueError unknown hash algorithm 'md5'",
        "TypeError data must be bytes, not str",
        "TypeError a malformed dispatch argument",
        "None None",
    ], result.stderr


@pytest.mark.runtime
def test_the_micropython_bridge_refuses_malformed_dispatch_calls(pylon):
    code = """
import host, json
for payload in ['not json', json.dumps(["hash", "oneshot", [["bytes", [0, 99]]]]) + "\\n00",
                json.dumps(["hash", "oneshot", "x"]) + "\\n", json.dumps(["sqlite", "open", []])]:
    print(json.loads(host.call("dispatch", payload))["err"])
"""
    result = pylon("--mp", "--cap", "hash", "-c", code)
    assert result.stdout.splitlines() == [
        "['TypeError', 'malformed bridge arguments']",
        "['TypeError', 'a malformed dispatch argument']",
        "['TypeError', 'malformed bridge arguments']",
        "['ValueError', \"no cap package serves 'sqlite'\"]",
    ], result.stderr


@pytest.mark.runtime
@pytest.mark.parametrize("runtime_name", ["cpython", "micropython"])
def test_a_revoke_applies_to_the_next_hash_call(built, runtime_name):
    plan = replace(shipped("default").with_runtime(runtime_name), capabilities=("hash",))
    session = Session(plan, Captured())
    try:
        rt = session.runtime
        assert rt.run_input("import xxhash\nh = xxhash.xxh64(b'a' * 2000000)") == Ok()
        session.grants.revoke("hash")
        outcome = rt.run_input("h.hexdigest()")
        assert isinstance(outcome, Raised)
        assert outcome.type_name == "PermissionError"
        assert "hash cap is not granted" in outcome.traceback
        session.grants.grant("hash")
        want = xxhash.xxh64(b"a" * 2000000).hexdigest()
        assert rt.run_input(f"assert h.hexdigest() == {want!r}") == Ok()
    finally:
        session.close()


def test_the_host_provider_bounds_what_the_guest_asks():
    from pylon_shell.caps.hash.provider import MAX_OBJECTS, HashProvider
    from pylon_shell.caps.values import ProviderError

    provider = HashProvider(grants=None)
    handles = [provider.new("xxh3_64", b"", 0, None, None) for _ in range(MAX_OBJECTS)]
    with pytest.raises(ProviderError, match="more than 4096 hash objects"):
        provider.new("xxh64", b"", 0, None, None)
    provider.drop(handles[0])
    provider.copy(handles[1])
    assert provider.oneshot("xxh64", b"abc", 2**64 + 5, None, None, 0, 0) == xxhash.xxh64(
        b"abc", 5
    ).digest()
    with pytest.raises(ProviderError, match="the seed must be an int"):
        provider.oneshot("xxh64", b"abc", True, None, None, 0, 0)
    with pytest.raises(ProviderError, match="seek does not fit"):
        provider.oneshot("blake3", b"", 0, None, None, 1, 1 << 64)
