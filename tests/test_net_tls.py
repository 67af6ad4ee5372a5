"""The net and tls caps against real servers on loopback, with a test CA made here.

The guest's own stdlib clients (urllib.request, http.client, ssl, socket) run in
the real CPython component; MicroPython's pylon.https runs in the real
MicroPython module. The servers are host Python on 127.0.0.1.
"""

from __future__ import annotations

import _ssl
import http.server
import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import trustme
from conftest import Captured

from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent
from pylon_shell.options import Preopen
from pylon_shell.plan import shipped
from pylon_shell.runtimes.base import Ok, Raised
from pylon_shell.session import Session


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Pylon-Test", "yes")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._reply(200, b"hello " + self.path.encode())

    def do_POST(self) -> None:  # noqa: N802
        data = self.rfile.read(int(self.headers["Content-Length"]))
        self._reply(201, data[::-1])

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Server:
    port: int
    certs: Path  # holds ca.pem (and other.pem: a CA that signed nothing here)

    @property
    def target(self) -> str:
        return f"localhost:{self.port}"


def _serve(context: ssl.SSLContext | None) -> tuple[http.server.ThreadingHTTPServer, int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    ca = trustme.CA()
    certs = tmp_path_factory.mktemp("certs")
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    trustme.CA().cert_pem.write_to_path(str(certs / "other.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server, port = _serve(context)
    yield Server(port, certs)
    server.shutdown()


@pytest.fixture(scope="module")
def plain() -> Iterator[int]:
    server, port = _serve(None)
    yield port
    server.shutdown()


def fetch(url: str, ca: str = "/certs/ca.pem") -> str:
    return (
        "import ssl, urllib.request\n"
        f"ctx = ssl.create_default_context(cafile={ca!r})\n"
        f"print(urllib.request.urlopen({url!r}, context=ctx).read().decode())\n"
    )


def test_urlopen_gets_the_page_with_the_ca_granted(pylon, https):
    url = f"https://{https.target}/page"
    result = pylon("--dir", f"{https.certs}:/certs:ro", "--host", https.target, "-c", fetch(url))
    assert result.status == 0, result.stderr
    assert result.stdout == "hello /page\n"


def test_without_the_tls_grant_urlopen_fails_with_one_line(pylon, https):
    url = f"https://{https.target}/page"
    result = pylon("--dir", f"{https.certs}:/certs:ro", "-c", fetch(url))
    assert result.status == 1
    assert result.stderr == (
        f"pylon: <string>:3: PermissionError: the tls cap is not granted (connect {https.target}); "
        f"grant it with --host {https.target} (or --cap net for plaintext connections too)\n"
    )


def test_a_host_outside_the_allowlist_is_refused_naming_host_and_cap(pylon, https):
    url = f"https://{https.target}/page"
    result = pylon(
        "--dir", f"{https.certs}:/certs:ro", "--host", "example.com:443", "-c", fetch(url)
    )
    assert result.status == 1
    assert result.stderr == (
        "pylon: <string>:3: "
        f"PermissionError: {https.target} is not among the hosts this plan lets the "
        f"tls cap reach (example.com:443); allow it with --host {https.target}\n"
    )


def test_the_same_host_on_another_port_is_another_grant(pylon, https):
    url = f"https://{https.target}/page"
    result = pylon("--dir", f"{https.certs}:/certs:ro", "--host", "localhost:1", "-c", fetch(url))
    assert result.status == 1
    assert f"{https.target} is not among the hosts" in result.stderr


SESSION_DETAILS = """
import http.client, socket, ssl
ctx = ssl.create_default_context()
ctx.load_verify_locations("/certs/ca.pem")
conn = http.client.HTTPSConnection("localhost", {port}, context=ctx, timeout=10)
conn.request("POST", "/echo", body=b"abcdef")
response = conn.getresponse()
print(response.status, response.read(), response.getheader("X-Pylon-Test"))
conn.close()
sock = ctx.wrap_socket(socket.create_connection(("localhost", {port})),
                       server_hostname="localhost")
print(sock.version() in ("TLSv1.2", "TLSv1.3"))
cipher = sock.cipher()
print(type(cipher).__name__, len(cipher), cipher[1] == sock.version())
cert = sock.getpeercert()
print(cert["subjectAltName"])
print(type(cert["subject"]).__name__, isinstance(cert["notAfter"], str))
der = sock.getpeercert(binary_form=True)
print(ssl.DER_cert_to_PEM_cert(der).startswith("-----BEGIN CERTIFICATE-----"))
print(sock.getpeername()[1] == {port})
sock.close()
"""


def test_http_client_and_the_session_details_as_cpython_shows_them(pylon, https):
    code = SESSION_DETAILS.format(port=https.port)
    result = pylon("--dir", f"{https.certs}:/certs:ro", "--host", https.target, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "201 b'fedcba' yes",
        "True",
        "tuple 3 True",
        "(('DNS', 'localhost'), ('IP Address', '127.0.0.1'))",
        "tuple True",
        "True",
        "True",
    ]


VERIFY = """
import socket, ssl
def attempt(ctx, name):
    try:
        ctx.wrap_socket(socket.create_connection(("localhost", {port})), server_hostname=name)
    except ssl.SSLCertVerificationError as error:
        print(error.verify_code, error.reason, error.verify_message)
attempt(ssl.create_default_context(cafile="/certs/other.pem"), "localhost")
attempt(ssl.create_default_context(cafile="/certs/ca.pem"), "elsewhere.test")
"""


def test_certificates_are_verified_against_the_trusted_ca_and_the_name(pylon, https):
    code = VERIFY.format(port=https.port)
    result = pylon("--dir", f"{https.certs}:/certs:ro", "--host", "localhost:*", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "20 CERTIFICATE_VERIFY_FAILED unable to get local issuer certificate",
        "62 CERTIFICATE_VERIFY_FAILED Hostname mismatch, certificate is not valid for "
        "'elsewhere.test'.",
    ]


@pytest.mark.parametrize(
    "make",
    [
        "ssl._create_unverified_context()",
        "ssl.create_default_context(cafile='/certs/ca.pem'); ctx.check_hostname = False",
    ],
)
def test_certificate_checks_are_never_silently_off(pylon, https, make):
    code = (
        "import socket, ssl\n"
        f"ctx = {make}\n"
        f"ctx.wrap_socket(socket.create_connection(('localhost', {https.port})), "
        "server_hostname='localhost')\n"
    )
    result = pylon("--dir", f"{https.certs}:/certs:ro", "--host", https.target, "-c", code)
    assert result.status == 1
    assert result.stderr.startswith(
        "pylon: <string>:3: PermissionError: the tls cap never turns certificate checks off"
    )
    assert len(result.stderr.splitlines()) == 1


PLAIN = """
import socket, urllib.request
print(urllib.request.urlopen("http://127.0.0.1:{port}/plain").read())
try:
    socket.create_connection(("127.0.0.1", {closed}), timeout=5)
except ConnectionRefusedError as error:
    print("refused", error.errno)
"""


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_plain_tcp_needs_the_net_cap(pylon, plain):
    closed = _closed_port()
    code = PLAIN.format(port=plain, closed=closed)
    hosts = ("--host", f"127.0.0.1:{plain}", "--host", f"127.0.0.1:{closed}")
    granted = pylon("--cap", "net", *hosts, "-c", code)
    assert granted.status == 0, granted.stderr
    assert granted.stdout == "b'hello /plain'\nrefused 111\n"
    tls_only = pylon(*hosts, "-c", code)
    assert tls_only.status == 1
    assert tls_only.stderr == (
        f"pylon: <string>:3: PermissionError: the net cap is not granted (send 127.0.0.1:{plain}); "
        "grant it with --cap net\n"
    )


def test_sockets_are_tcp_clients_only(pylon):
    code = (
        "import socket\n"
        "for make in (lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM),\n"
        "             lambda: socket.socket().bind(('127.0.0.1', 0))):\n"
        "    try:\n"
        "        make()\n"
        "    except PermissionError as error:\n"
        "        print(error)\n"
    )
    result = pylon("--cap", "net", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        "pylon's net cap makes TCP client connections only; a socket that is not "
        "SOCK_STREAM (UDP, raw) is not supported",
        "pylon's net cap makes TCP client connections only; bind is not supported",
    ]


MICROPYTHON = """
from pylon import https
r = https.get("https://{target}/mp", cafile="/certs/ca.pem")
print(r.status, r.body, r.header("x-pylon-test"))
r = https.post("https://{target}/mp", b"12345", cafile="/certs/ca.pem")
print(r.status, r.body)
try:
    https.get("https://{target}/mp", cafile="/certs/other.pem")
except OSError as error:
    print(str(error).split(":")[0])
"""


@pytest.mark.parametrize("flag", ["--mp", "--cp"])
def test_the_https_helper_in_both_runtimes(pylon, https, flag):
    code = MICROPYTHON.format(target=https.target)
    certs = ("--dir", f"{https.certs}:/certs:ro")
    result = pylon(flag, *certs, "--host", https.target, "-c", code)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == ["200 b'hello /mp' yes", "201 b'54321'"]
    # MicroPython has no ssl module: the helper's error is an OSError naming the kind.
    assert lines[2] == ("SSLCertVerificationError" if flag == "--mp" else "[SSL")
    denied = pylon(flag, *certs, "-c", code)
    assert denied.status == 1
    # The first https.get, on line 3 of the program, is the call refused.
    assert denied.stderr.startswith(
        "pylon: <string>:3: PermissionError: the tls cap is not granted"
    )


def session_for(runtime: str, hosts: tuple[str, ...], certs: Path) -> Session:
    plan = shipped("minimal").with_runtime(runtime)
    plan = replace(
        plan,
        capabilities=("tls", "fs"),
        hosts=hosts,
        preopens=(Preopen(certs, "/certs", True),),
    )
    return Session(plan, Captured())


def test_a_revoke_applies_to_an_open_connection_and_events_say_what_happened(built, https):
    session = session_for("cpython", (https.target,), https.certs)
    events: list[Event] = []
    session.grants.subscribe(events.append)
    try:
        rt = session.runtime
        code = (
            "import http.client, ssl\n"
            "ctx = ssl.create_default_context(cafile='/certs/ca.pem')\n"
            f"conn = http.client.HTTPSConnection('localhost', {https.port}, context=ctx)\n"
            "conn.request('GET', '/one'); body = conn.getresponse().read()\n"
        )
        assert rt.run_input(code) == Ok()
        session.grants.revoke("tls")
        outcome = rt.run_input("conn.request('GET', '/two'); conn.getresponse().read()")
        assert isinstance(outcome, Raised) and outcome.type_name == "PermissionError"
        assert "the tls cap is not granted (send" in outcome.traceback
        assert rt is session.runtime
    finally:
        session.close()
    calls = [
        (e.cap, e.operation, e.target, e.granted) for e in events if isinstance(e, CapCallEvent)
    ]
    assert ("tls", "connect", https.target, True) in calls
    assert ("tls", "handshake", https.target, True) in calls
    # Importing ssl and socket needs no grant, but the monitor says whose they are.
    imports = {e.module: (e.cap, e.granted) for e in events if isinstance(e, ImportEvent)}
    assert imports["ssl"] == ("tls", True)
    assert imports["socket"] == ("net", True)


def test_trace_learns_the_hosts_and_that_https_needs_tls_only(pylon, https, tmp_path):
    script = tmp_path / "fetch.py"
    script.write_text(fetch(f"https://{https.target}/traced"))
    out = tmp_path / "plan.json"
    traced = pylon("trace", "--dir", f"{https.certs}:/certs:ro", str(script), "-o", str(out))
    assert traced.status == 0, traced.stderr
    plan = json.loads(out.read_text())
    assert plan["policy"]["capabilities"] == [
        {"name": "tls", "level": "required"},
        {"name": "fs", "level": "required"},
    ]
    assert plan["hosts"] == [https.target]
    replay = pylon("--plan", str(out), str(script))
    assert replay.status == 0, replay.stderr
    assert replay.stdout == "hello /traced\n"


def test_trace_of_plaintext_needs_net_alone(pylon, plain, tmp_path):
    script = tmp_path / "plain.py"
    script.write_text(
        f"import urllib.request\nurllib.request.urlopen('http://127.0.0.1:{plain}/').read()\n"
    )
    out = tmp_path / "plan.json"
    assert pylon("trace", str(script), "-o", str(out)).status == 0
    plan = json.loads(out.read_text())
    assert plan["policy"]["capabilities"] == [{"name": "net", "level": "required"}]
    assert plan["hosts"] == [f"127.0.0.1:{plain}"]


def test_the_shipped_net_plan_reaches_any_host_on_443_only(pylon):
    result = pylon(
        "--plan", "net", "-c", "import socket; socket.create_connection(('localhost', 80))"
    )
    assert result.status == 1
    assert "localhost:80 is not among the hosts this plan lets the tls cap reach (*:443)" in (
        result.stderr
    )


def test_the_host_policy_holds_whatever_the_settings_ask():
    from pylon_shell.caps.tls.provider import PolicyError, build_context, constants

    loose = build_context(
        {
            "minimum_version": int(ssl.TLSVersion.SSLv3),
            "verify_flags": int(ssl.VERIFY_X509_PARTIAL_CHAIN),
            "options": int(ssl.OP_NO_TICKET),
            "ciphers": "ECDHE-RSA-AES128-GCM-SHA256:ADH-AES128-GCM-SHA256:NULL-SHA256:@SECLEVEL=0",
        }
    )
    assert loose.minimum_version == ssl.TLSVersion.TLSv1_2
    assert loose.security_level == 2
    assert not loose.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN
    assert loose.options & ssl.OP_NO_TICKET
    assert (loose.verify_mode, loose.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert loose.hostname_checks_common_name is False
    tls12 = [c["name"] for c in loose.get_ciphers() if c["protocol"] != "TLSv1.3"]
    assert tls12 == ["ECDHE-RSA-AES128-GCM-SHA256"]
    assert build_context({"ciphers": "ECDHE-RSA-AES128-GCM-SHA256:@SECLEVEL=3"}).security_level == 3
    assert constants()["_defaults"]["host_flags"] & _ssl.HOSTFLAG_NEVER_CHECK_SUBJECT
    with pytest.raises(PolicyError) as error:
        build_context({"verify_flags": 0x10})
    assert (error.value.kind, str(error.value)) == (
        "PermissionError",
        "the tls cap never loosens TLS (verify_flags asks for X509_V_FLAG_IGNORE_CRITICAL); "
        "settings may only make it stricter",
    )
    with pytest.raises(PolicyError, match=r"^bad TLS settings: options is not an integer$"):
        build_context({"options": "0x4"})


@pytest.fixture(scope="module")
def chained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, list[bytes]]]:
    """A server whose certificate comes from an intermediate CA: leaf, intermediate, root."""
    root = trustme.CA()
    intermediate = root.create_child_ca()
    leaf = intermediate.issue_cert("localhost")
    certs = tmp_path_factory.mktemp("chain-certs")
    root.cert_pem.write_to_path(str(certs / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    leaf.configure_cert(context)
    server, port = _serve(context)
    pems = [blob.bytes().decode() for blob in leaf.cert_chain_pems]
    pems.append(root.cert_pem.bytes().decode())
    yield Server(port, certs), [ssl.PEM_cert_to_DER_cert(pem) for pem in pems]
    server.shutdown()


CHAIN = """
import socket, ssl
ctx = ssl.create_default_context(cafile="/certs/ca.pem")
sock = ctx.wrap_socket(socket.create_connection(("localhost", {port})), server_hostname="localhost")
print([der.hex() for der in sock.get_unverified_chain()])
print([der.hex() for der in sock.get_verified_chain()])
print(sock.getpeercert(binary_form=True).hex())
cert = sock._sslobj.get_verified_chain()[1]
print(cert.public_bytes() == ssl.DER_cert_to_PEM_cert(cert.public_bytes(ssl._ssl.ENCODING_DER)))
print(dict(x[0] for x in cert.get_info()["subject"]).get("organizationName"))
try:
    ssl._ssl.Certificate()
except TypeError as error:
    print(error)
sock.close()
"""


def test_the_peer_certificate_chain_as_cpython_314_gives_it(pylon, chained):
    server, ders = chained
    code = CHAIN.format(port=server.port)
    result = pylon("--dir", f"{server.certs}:/certs:ro", "--host", server.target, "-c", code)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    leaf, intermediate, root = (der.hex() for der in ders)
    assert lines[0] == str([leaf, intermediate])  # as the server sent it
    assert lines[1] == str([leaf, intermediate, root])  # as OpenSSL verified it, to the anchor
    assert lines[2] == leaf
    assert lines[3] == "True"
    assert lines[4].startswith("trustme")  # the intermediate, decoded by get_info()
    assert lines[5:] == ["cannot create '_ssl.Certificate' instances"]
