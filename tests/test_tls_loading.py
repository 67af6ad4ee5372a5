"""What the guest's ssl loads is checked at the call, as CPython checks it.

The guest reads its certificate, key and DH files itself; the host's OpenSSL
(in the provider process) loads their bytes on a scratch context, so a
malformed file, a mismatched key, a wrong password, a cipher string or curve
the policy leaves nothing of fail at load_cert_chain / load_verify_locations /
set_ciphers / set_ecdh_curve, and cert_store_stats, get_ca_certs,
get_ciphers and _ssl._test_decode_cert answer what OpenSSL answers. Each test
runs real pylon; the expected values come from host CPython's own ssl where
they can.
"""

from __future__ import annotations

import _ssl
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization
from test_net_tls import Server, _serve


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("certs")
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(folder / "ca.pem"))
    leaf = ca.issue_cert("localhost", "127.0.0.1")
    leaf.cert_chain_pems[0].write_to_path(str(folder / "leaf.pem"))
    leaf.private_key_pem.write_to_path(str(folder / "leaf.key"))
    key = serialization.load_pem_private_key(leaf.private_key_pem.bytes(), None)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"sesame"),
    )
    (folder / "leaf.enc.key").write_bytes(encrypted)
    binary = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"\xff\x00pw"),
    )
    (folder / "leaf.bin.key").write_bytes(binary)
    trustme.CA().issue_cert("other").private_key_pem.write_to_path(str(folder / "other.key"))
    (folder / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                                     "-----END CERTIFICATE-----\n")
    (folder / "big.pem").write_bytes(b"#" * (5 << 20))
    return folder


def run(pylon, certs: Path, code: str, *args: str) -> list[str]:
    result = pylon("--cap", "tls", "--dir", f"{certs}:/certs:ro", *args, "-c", code)
    assert result.status == 0, result.stderr
    return result.stdout.splitlines()


LOADS = """
import ssl
def attempt(what, call):
    try:
        call()
        print(what, "ok")
    except Exception as error:
        print(what, type(error).__name__ + ":", str(error).split(" (_ssl.c")[0])
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
def chain(cert, key=None, password=None):
    return lambda: ctx.load_cert_chain("/certs/" + cert, key and "/certs/" + key, password)
def never():
    raise RuntimeError("asked for a password")
attempt("chain", chain("leaf.pem", "leaf.key"))
attempt("no key", chain("leaf.pem"))
attempt("junk", chain("junk.pem", "leaf.key"))
attempt("mismatch", chain("leaf.pem", "other.key"))
attempt("password", chain("leaf.pem", "leaf.enc.key", "sesame"))
attempt("wrong password", chain("leaf.pem", "leaf.enc.key", b"x"))
attempt("plain key, callback", chain("leaf.pem", "leaf.key", never))
attempt("encrypted, callback", chain("leaf.pem", "leaf.enc.key", never))
attempt("long password", chain("leaf.pem", "leaf.enc.key", "p" * 2000))
attempt("cafile junk", lambda: ctx.load_verify_locations("/certs/junk.pem"))
attempt("cafile huge", lambda: ctx.load_verify_locations("/certs/big.pem"))
attempt("cadata text", lambda: ctx.load_verify_locations(cadata="broken"))
attempt("cadata bytes", lambda: ctx.load_verify_locations(cadata=b"broken"))
der = ssl.PEM_cert_to_DER_cert(open("/certs/ca.pem").read())
attempt("cadata trailing", lambda: ctx.load_verify_locations(cadata=der + b"A"))
attempt("ciphers", lambda: ctx.set_ciphers("aNULL:eNULL"))
attempt("curve", lambda: ctx.set_ecdh_curve("no-such-curve"))
attempt("dh params", lambda: ctx.load_dh_params("/certs/leaf.pem"))
print(ctx.cert_store_stats())
"""


def test_what_is_loaded_is_checked_at_the_call(pylon, certs):
    assert run(pylon, certs, LOADS) == [
        "chain ok",
        "no key SSLError: [SSL] PEM lib",
        "junk SSLError: [SSL] PEM lib",
        "mismatch SSLError: [X509: KEY_VALUES_MISMATCH] key values mismatch",
        "password ok",
        "wrong password SSLError: [SSL] PEM lib",
        # The callback is asked only for an encrypted key, as OpenSSL asks.
        "plain key, callback ok",
        "encrypted, callback RuntimeError: asked for a password",
        "long password ValueError: password cannot be longer than 1024 bytes",
        "cafile junk SSLError: [X509] PEM lib",
        "cafile huge ValueError: /certs/big.pem is larger than 4 MiB, the most pylon's tls cap "
        "loads; split it or load a smaller file",
        "cadata text SSLError: no start line: cadata does not contain a certificate",
        "cadata bytes SSLError: not enough data: cadata does not contain a certificate",
        "cadata trailing SSLError: not enough data: cadata has 1 bytes after its last DER "
        "certificate",
        "ciphers SSLError: No cipher can be selected: the tls cap allows none of the ciphers "
        "'aNULL:eNULL' names (never anonymous, NULL or weak ones)",
        "curve ValueError: unknown elliptic curve name 'no-such-curve'",
        "dh params SSLError: [PEM: NO_START_LINE] no start line",
        # Nothing of the failed loads is in the store.
        "{'x509': 0, 'crl': 0, 'x509_ca': 0}",
    ]


STORE = """
import json, ssl, _ssl
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.load_verify_locations("/certs/leaf.pem")
print(ctx.cert_store_stats(), ctx.get_ca_certs())
ctx.load_verify_locations("/certs/ca.pem")
ctx.load_verify_locations(cadata=open("/certs/ca.pem").read())  # the same one: counted once
print(ctx.cert_store_stats())
print(json.dumps(ctx.get_ca_certs()))
print(ctx.get_ca_certs(True)[0] == ssl.PEM_cert_to_DER_cert(open("/certs/ca.pem").read()))
print(json.dumps(_ssl._test_decode_cert("/certs/leaf.pem")))
names = [c["name"] for c in ctx.get_ciphers()]
print(json.dumps(names))
ctx.set_ciphers("ECDHE+AESGCM:aNULL")
print(json.dumps([c["name"] for c in ctx.get_ciphers()]))
"""


def _host_policy_ciphers(ciphers: str | None) -> list[str]:
    from pylon_shell.caps.tls.provider import build_context

    return [c["name"] for c in build_context({"ciphers": ciphers}).get_ciphers()]


def test_the_store_and_the_decoded_certificates_are_openssls(pylon, certs):
    lines = run(pylon, certs, STORE)
    assert lines[0] == "{'x509': 1, 'crl': 0, 'x509_ca': 0} []"
    assert lines[1] == "{'x509': 2, 'crl': 0, 'x509_ca': 1}"
    host = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    host.load_verify_locations(str(certs / "ca.pem"))
    assert json.loads(lines[2]) == json.loads(json.dumps(host.get_ca_certs()))
    assert lines[3] == "True"
    decoded = _ssl._test_decode_cert(str(certs / "leaf.pem"))  # type: ignore[attr-defined]
    assert json.loads(lines[4]) == json.loads(json.dumps(decoded))
    assert ["DNS", "localhost"] in json.loads(lines[4])["subjectAltName"]
    # get_ciphers is the host's policy context: what it offers, never an anonymous suite.
    assert json.loads(lines[5]) == _host_policy_ciphers(None)
    narrowed = json.loads(lines[6])
    assert narrowed == _host_policy_ciphers("ECDHE+AESGCM:aNULL")
    assert narrowed and not any("ADH" in n or "AECDH" in n for n in narrowed)


@pytest.fixture(scope="module")
def https(certs: Path) -> Iterator[Server]:
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(certs / "server-ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(context)
    server, port = _serve(context)
    yield Server(port, certs)
    server.shutdown()


HANDSHAKE = """
import ssl, urllib.request
ctx = ssl.create_default_context(cafile="/certs/server-ca.pem")
ctx.load_cert_chain("/certs/leaf.pem", "/certs/leaf.enc.key", lambda: "sesame")
ctx.set_ecdh_curve("prime256v1")
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
print(urllib.request.urlopen("https://localhost:{port}/x", context=ctx).read().decode())
# A password that is not UTF-8 reaches the handshake as the same bytes.
ctx = ssl.create_default_context(cafile="/certs/server-ca.pem")
ctx.load_cert_chain("/certs/leaf.pem", "/certs/leaf.bin.key", b"\\xff\\x00pw")
print(urllib.request.urlopen("https://localhost:{port}/y", context=ctx).read().decode())
"""


def test_a_context_with_an_encrypted_client_key_and_a_curve_still_connects(pylon, https):
    lines = run(
        pylon, https.certs, HANDSHAKE.format(port=https.port), "--host", https.target
    )
    assert lines == ["hello /x", "hello /y"]


WARNINGS = """
import gc, socket, ssl, warnings
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    s = socket.socket()
    shown = repr(s)
    del s
    gc.collect()
    with socket.socket() as closed:
        pass
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.options |= ssl.OP_NO_TLSv1_1
    ctx.minimum_version = ssl.TLSVersion.TLSv1
for w in caught:
    print(w.category.__name__, str(w.message) == "unclosed " + shown or str(w.message))
try:
    ssl._ssl._SSLContext.x = 1
except TypeError as error:
    print(error)
try:
    ssl._ssl.Certificate()
except TypeError as error:
    print(error)
"""


def test_warnings_and_types_are_cpythons(pylon, certs):
    assert run(pylon, certs, WARNINGS) == [
        "ResourceWarning True",
        "DeprecationWarning ssl.OP_NO_SSL*/ssl.OP_NO_TLS* options are deprecated",
        "DeprecationWarning ssl.TLSVersion.TLSv1 is deprecated",
        "cannot set 'x' attribute of immutable type '_ssl._SSLContext'",
        "cannot create '_ssl.Certificate' instances",
    ]


HOSTILE = """
from wit_world.imports import tls
import pylon_caps
for args in ((pylon_caps.octets(b"x"), "evil"), (pylon_caps.octets(b"x" * (5 << 20)), "pem"),
             ("not base64!", "pem")):
    try:
        tls.parse(*args)
    except Exception as error:
        print(type(error).__name__, error.value.message)
try:
    tls.check_cert_chain(pylon_caps.octets(b"x"), None, pylon_caps.octets(b"p" * 5000))
except Exception as error:
    print(type(error).__name__, error.value.message)
try:
    tls.context_info("[1, 2]")
except Exception as error:
    print(type(error).__name__, error.value.message)
"""


def test_the_interface_refuses_what_a_hostile_guest_sends(pylon, certs):
    lines = run(pylon, certs, HOSTILE)
    assert lines == [
        "Err bad certificate form 'evil'",
        "Err the data is 5242880 bytes; the tls cap parses at most 4194304 bytes",
        lines[2],
        "Err password cannot be longer than 1024 bytes",
        "Err bad TLS settings: not an object",
    ]
    assert lines[2].startswith("Err ")


DEFAULT_PATHS = """
import os, ssl, urllib.request
os.environ["SSL_CERT_FILE"] = "/certs/server-ca.pem"
ctx = ssl.create_default_context()
print(ctx.cert_store_stats())
print(urllib.request.urlopen("https://localhost:{port}/env", context=ctx).read().decode())
"""


def test_ssl_cert_file_in_the_guest_environment_replaces_the_host_trust_store(pylon, https):
    code = DEFAULT_PATHS.format(port=https.port)
    lines = run(pylon, https.certs, code, "--host", https.target)
    # The host's trust store would not know this test CA: the guest's file is what was used.
    assert lines == ["{'x509': 1, 'crl': 0, 'x509_ca': 1}", "hello /env"]
