"""Host-name spellings and TLS downgrade knobs, tried by real guests on both runtimes.

A host the guest names is checked as a name before it is matched against the
plan's patterns, and the checked form is what the host connects to: a NUL, a
control character, a fullwidth dot or a numeric spelling of 127.0.0.1 is one
line in the guest, whatever the grant. A guest's TLS settings can only tighten
the host's policy: every knob that loosened it (anonymous and NULL ciphers,
@SECLEVEL=0, old versions, no time check, partial chains, the common name) is
refused or dropped, with the one line the user sees pinned here. The servers
are host Python on 127.0.0.1 with certificates from a trustme CA.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import trustme
from test_net_tls import _serve

from pylon_shell.caps.grants import Grants
from pylon_shell.caps.net.provider import NetProvider
from pylon_shell.caps.tls.provider import TLSProvider
from pylon_shell.caps.values import ProviderError

#: (host as the guest writes it, why it is refused). Every one of these is read
#: by libc or IDNA as a name or address that a pattern did not see.
SPELLINGS = [
    ("localhost\x00.example.com", "it contains the control character U+0000"),
    ("localhost\t.example.com", "it contains the control character U+0009"),
    ("localhost\n.example.com", "it contains the control character U+000A"),
    ("local\u200dhost.example.com", "it contains the invisible character U+200D"),
    ("localhost .example.com", "it contains a space (U+0020)"),
    ("localhost\uff0eexample.com", "labels are separated by '.', not U+FF0E"),
    ("localhost\u3002example.com", "labels are separated by '.', not U+3002"),
    (
        "\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54.example.com",
        "the label 'ｌｏｃａｌｈｏｓｔ' is not in IDNA's normal form (that is 'localhost')",
    ),
    ("localhost..example.com", "it has an empty label"),
    ("a.example.com..", "it has an empty label"),
    ("localhost%00.example.com", "'%' is not allowed (no percent-encoding, no IPv6 zone ids)"),
    ("fe80::1%lo", "'%' is not allowed (no percent-encoding, no IPv6 zone ids)"),
    ("::ffff:127.0.0.1", "an IPv4-mapped IPv6 address; write the IPv4 address 127.0.0.1"),
    ("*.example.com", "the label '*' is not letters, digits and '-' (not at either end)"),
]
NUMERIC = (
    "a name ending in a number must be an IPv4 address written a.b.c.d (decimal, no leading zeros)"
)
#: Spellings of 127.0.0.1 that getaddrinfo accepts; only a.b.c.d is an address here.
NUMERIC_SPELLINGS = ["2130706433", "0x7f.1", "127.1", "0177.0.0.1", "0x7f000001", "127.0.0.1."]


def refused(host: str, why: str) -> str:
    return f"ValueError: bad host {host!r}: {why}"


ALL_SPELLINGS = SPELLINGS + [(host, NUMERIC) for host in NUMERIC_SPELLINGS]

#: Defined in the guest: one line per attempt, the error as the user sees it.
CONNECT = """
import json, socket
for host in json.loads({hosts!r}):
    try:
        socket.socket().connect((host, {port}))
        print("CONNECTED", ascii(host))
    except Exception as error:
        print(type(error).__name__ + ": " + str(error))
"""


@pytest.fixture(scope="module")
def plain() -> Iterator[int]:
    server, port = _serve(None)
    yield port
    server.shutdown()


@pytest.mark.parametrize("grant", [("--cap", "net"), ()], ids=["net", "tls-only"])
def test_odd_spellings_of_a_host_are_refused_before_any_match(pylon, plain, grant):
    hosts = [host for host, _ in ALL_SPELLINGS]
    code = CONNECT.format(hosts=json.dumps(hosts), port=plain)
    # A grant for every subdomain of example.com, and for any host at all on
    # the server's port: neither lets a spelling through.
    allow = ("--host", f"*.example.com:{plain}", "--host", f"*:{plain}")
    result = pylon(*grant, *allow, "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [refused(host, why) for host, why in ALL_SPELLINGS]


SUFFIXES = """
import socket
for host in ("evilexample.com", "example.com.evil", "example.com", "127.0.0.1"):
    try:
        socket.socket().connect((host, {port}))
    except Exception as error:
        print(type(error).__name__ + ": " + str(error))
print(socket.create_connection(("LOCALHOST.", {port})).getpeername()[0])
"""


def test_a_subdomain_pattern_matches_subdomains_only_and_names_are_normalized(pylon, plain):
    grants = ("--cap", "net", "--host", f"*.example.com:{plain}", "--host", f"localhost:{plain}")
    result = pylon(*grants, "-c", SUFFIXES.format(port=plain))
    assert result.status == 0, result.stderr
    allowlist = f"*.example.com:{plain}, localhost:{plain}"
    assert result.stdout.splitlines() == [
        f"PermissionError: {host}:{plain} is not among the hosts this plan lets the net cap "
        f"reach ({allowlist}); allow it with --host {host}:{plain}"
        for host in ("evilexample.com", "example.com.evil", "example.com", "127.0.0.1")
    ] + ["127.0.0.1"]


# -- TLS servers -------------------------------------------------------------


@dataclass
class Servers:
    certs: Path  # ca.pem (trusts good, expired and cn-only), leaf.pem (good's certificate)
    good: int
    expired: int
    cn_only: int
    anonymous: int


def _tls_server(configure: object) -> tuple[object, int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    configure(context)  # type: ignore[operator]
    return _serve(context)


def _anonymous(context: ssl.SSLContext) -> None:
    """What the attack connected to: TLS 1.2 with no certificate at all."""
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("aNULL:@SECLEVEL=0")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    ca = trustme.CA()
    certs = tmp_path_factory.mktemp("tls-certs")
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    good = ca.issue_cert("localhost", "127.0.0.1")
    good.cert_chain_pems[0].write_to_path(str(certs / "leaf.pem"))
    past = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    expired = ca.issue_cert(
        "localhost", not_before=past, not_after=past + datetime.timedelta(days=1)
    )
    cn_only = ca.issue_cert(common_name="localhost")
    running = [
        _tls_server(good.configure_cert),
        _tls_server(expired.configure_cert),
        _tls_server(cn_only.configure_cert),
        _tls_server(_anonymous),
    ]
    yield Servers(certs, *(port for _, port in running))
    for server, _ in running:
        server.shutdown()  # type: ignore[attr-defined]


#: Each attempt: a context made as the guest's code makes it, a handshake with
#: `localhost` on one of the servers, one line printed.
KNOBS = """
import socket, ssl
def attempt(port, setup):
    ctx = ssl.create_default_context(cafile="/certs/ca.pem")
    try:
        # set_ciphers refuses at the call, the rest at the handshake.
        setup(ctx)
        sock = ctx.wrap_socket(socket.create_connection(("localhost", port)),
                               server_hostname="localhost")
        print("connected", sock.version())
        sock.close()
    except ssl.SSLCertVerificationError as error:
        print("SSLCertVerificationError", error.verify_code, error.verify_message)
    except Exception as error:
        print(type(error).__name__ + ": " + str(error))
def ciphers(text, maximum=None):
    def setup(ctx):
        ctx.set_ciphers(text)
        if maximum:
            ctx.maximum_version = maximum
    return setup
def setting(name, value):
    return lambda ctx: setattr(ctx, name, value)
def add_flags(flags):
    def setup(ctx):
        ctx.verify_flags |= flags
    return setup
def add_options(options):
    def setup(ctx):
        ctx.options |= options
    return setup
S = {servers}
TLS12 = ssl.TLSVersion.TLSv1_2
attempt(S["anonymous"], ciphers("aNULL:@SECLEVEL=0", TLS12))
attempt(S["anonymous"], ciphers("eNULL:NULL:@SECLEVEL=0"))
attempt(S["anonymous"], ciphers("ADH-AES256-GCM-SHA384:@SECLEVEL=1"))
attempt(S["good"], ciphers("ECDHE-ECDSA-AES128-GCM-SHA256:aNULL:@SECLEVEL=0", TLS12))
attempt(S["good"], setting("maximum_version", ssl.TLSVersion.TLSv1_1))
attempt(S["good"], setting("maximum_version", ssl.TLSVersion.TLSv1))
attempt(S["good"], setting("minimum_version", ssl.TLSVersion.TLSv1))
attempt(S["good"], add_options(ssl.OP_NO_TLSv1_3))
attempt(S["good"], add_options(0x4))
attempt(S["expired"], lambda ctx: None)
attempt(S["expired"], add_flags(0x200000))
attempt(S["good"], add_flags(ssl.VERIFY_ALLOW_PROXY_CERTS))
def lax(common_name):
    # trustme's CN-only certificate has an empty subjectAltName, which
    # VERIFY_X509_STRICT (CPython's default) refuses by itself.
    def setup(ctx):
        ctx.verify_flags &= ~ssl.VERIFY_X509_STRICT
        ctx.hostname_checks_common_name = common_name
    return setup
attempt(S["cn_only"], lambda ctx: None)
attempt(S["cn_only"], lax(False))
attempt(S["cn_only"], lax(True))
print(ssl.create_default_context().hostname_checks_common_name)
leaf = ssl.create_default_context(cafile="/certs/leaf.pem")
print(bool(leaf.verify_flags & ssl.VERIFY_X509_PARTIAL_CHAIN))
try:
    leaf.wrap_socket(socket.create_connection(("localhost", S["good"])),
                     server_hostname="localhost")
except ssl.SSLCertVerificationError as error:
    print("SSLCertVerificationError", error.verify_code, error.verify_message)
"""

NO_CIPHER = (
    "SSLError: No cipher can be selected: the tls cap allows none of the ciphers {!r} "
    "names (never anonymous, NULL or weak ones)"
)
OLD_VERSION = (
    "PermissionError: the tls cap never uses TLS older than 1.2 (maximum_version is {}); "
    "raise maximum_version or leave it unset"
)
LOOSER = (
    "PermissionError: the tls cap never loosens TLS ({} asks for {}); "
    "settings may only make it stricter"
)


def test_tls_knobs_only_ever_tighten_the_host_policy(pylon, servers):
    ports = {
        "good": servers.good,
        "expired": servers.expired,
        "cn_only": servers.cn_only,
        "anonymous": servers.anonymous,
    }
    code = KNOBS.format(servers=ports)
    result = pylon("--dir", f"{servers.certs}:/certs:ro", "--host", "localhost:*", "-c", code)
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        NO_CIPHER.format("aNULL:@SECLEVEL=0"),
        NO_CIPHER.format("eNULL:NULL:@SECLEVEL=0"),
        NO_CIPHER.format("ADH-AES256-GCM-SHA384:@SECLEVEL=1"),
        # The anonymous suite is dropped from the guest's list, the other one kept.
        "connected TLSv1.2",
        OLD_VERSION.format("TLSv1_1"),
        OLD_VERSION.format("TLSv1"),
        # A lower minimum is raised to TLS 1.2, not refused.
        "connected TLSv1.3",
        "connected TLSv1.2",
        LOOSER.format("options", "OP_LEGACY_SERVER_CONNECT"),
        "SSLCertVerificationError 10 certificate has expired",
        LOOSER.format("verify_flags", "X509_V_FLAG_NO_CHECK_TIME"),
        LOOSER.format("verify_flags", "VERIFY_ALLOW_PROXY_CERTS"),
        "SSLCertVerificationError 87 Empty Subject Alternative Name extension",
        "SSLCertVerificationError 62 Hostname mismatch, certificate is not valid for 'localhost'.",
        "PermissionError: the tls cap never matches a host name against a certificate's common "
        "name (hostname_checks_common_name is True); the certificate must name the host in "
        "subjectAltName",
        # What the guest reads is the policy, not OpenSSL's default.
        "False",
        # CPython 3.13+ asks for partial chains itself; the host drops the flag, so a
        # leaf trusted on its own is not a trust anchor.
        "True",
        "SSLCertVerificationError 20 unable to get local issuer certificate",
    ]


MP_HOSTS = """
from pylon import https
for url in {urls!r}:
    try:
        https.get(url, cafile="/certs/ca.pem")
        print("CONNECTED", url)
    except Exception as error:
        print(type(error).__name__ + ": " + str(error))
"""


def test_micropython_https_checks_the_url_host_as_a_name(pylon, servers):
    port = servers.good
    hosts = [
        "localhost%00.example.com",
        "2130706433",
        "0x7f.1",
        "127.1",
        "127.0.0.1.",
        "[::ffff:127.0.0.1]",
        "[::1%25lo]",
        "a..example.com",
    ]
    urls = [f"https://{host}:{port}/" for host in hosts]
    urls += [
        f"https://localhost\x00.example.com:{port}/",
        f"https://local\thost:{port}/",
        f"https://user@localhost:{port}/",
        f"https://LOCALHOST.:{port}/ok",
    ]
    code = MP_HOSTS.format(urls=urls)
    grants = ("--host", f"*.example.com:{port}", "--host", f"localhost:{port}")
    result = pylon("--mp", "--dir", f"{servers.certs}:/certs:ro", *grants, "-c", code)
    assert result.status == 0, result.stderr
    why = {
        "localhost%00.example.com": "'%' is not allowed (no percent-encoding, no IPv6 zone ids)",
        "[::ffff:127.0.0.1]": "an IPv4-mapped IPv6 address; write the IPv4 address 127.0.0.1",
        "[::1%25lo]": "'%' is not allowed (no percent-encoding, no IPv6 zone ids)",
        "a..example.com": "it has an empty label",
    }
    expected = [refused(host, why.get(host, NUMERIC)) for host in hosts]
    expected += [
        f"ValueError: bad URL {urls[-4]!r}: it contains the character U+0000",
        f"ValueError: bad URL {urls[-3]!r}: it contains the character U+0009",
        f"ValueError: bad URL {urls[-2]!r}: no credentials or backslashes in an https URL",
        f"CONNECTED {urls[-1]}",
    ]
    assert result.stdout.splitlines() == expected


#: MicroPython reaches the tls provider through its bridge with any settings it
#: likes: the same policy applies to them.
MP_SETTINGS = """
import json, pylon
def request(port, **settings):
    base = {{"verify_mode": 2, "check_hostname": True, "default_certs": False,
             "cadata": [{{"pem": open("/certs/ca.pem").read()}}]}}
    base.update(settings)
    try:
        out = pylon._bridge_bytes("https.request", ["GET", "https://localhost:%d/" % port, {{}},
                                  json.dumps(base), 10], b"")
        print("CONNECTED", out[:20])
    except pylon.BridgeError as error:
        print(error.kind.split("/")[0] + ": " + error.message)
    except PermissionError as error:  # a refusal comes back as PermissionError
        print("PermissionError: " + str(error))
request({anonymous}, ciphers="aNULL:@SECLEVEL=0", maximum_version=771)
request({expired}, verify_flags=0x200000)
request({good}, maximum_version=769)
request({cn_only}, host_flags=0)
"""


def test_micropython_settings_through_the_bridge_meet_the_same_policy(pylon, servers):
    code = MP_SETTINGS.format(
        anonymous=servers.anonymous,
        expired=servers.expired,
        good=servers.good,
        cn_only=servers.cn_only,
    )
    result = pylon(
        "--mp", "--dir", f"{servers.certs}:/certs:ro", "--host", "localhost:*", "-c", code
    )
    assert result.status == 0, result.stderr
    assert result.stdout.splitlines() == [
        NO_CIPHER.format("aNULL:@SECLEVEL=0"),
        LOOSER.format("verify_flags", "X509_V_FLAG_NO_CHECK_TIME"),
        OLD_VERSION.format("TLSv1"),
        "PermissionError: the tls cap never matches a host name against a certificate's common "
        "name (hostname_checks_common_name is True); the certificate must name the host in "
        "subjectAltName",
    ]


def test_the_provider_connects_to_the_checked_name_not_the_guest_string(plain, monkeypatch):
    """What reaches the resolver is the normalized name that was matched."""
    seen: list[tuple[str, int]] = []
    real = socket.create_connection

    def spy(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        seen.append(address)
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", spy)
    net = NetProvider(Grants(["net"], hosts=[f"localhost:{plain}"]))
    try:
        net.close(net.connect("LocalHost.", plain, 5))
        with pytest.raises(ProviderError) as error:
            net.connect("localhost\x00.example.com", plain, 5)
    finally:
        net.close_all()
    assert seen == [("localhost", plain)]
    assert (error.value.kind, error.value.message) == (
        "ValueError",
        refused("localhost\x00.example.com", SPELLINGS[0][1]).removeprefix("ValueError: "),
    )


def test_the_handshake_name_is_checked_too(plain):
    grants = Grants(["net", "tls"], hosts=[f"localhost:{plain}"])
    net = NetProvider(grants)
    tls = TLSProvider(grants, net)
    settings = json.dumps({"verify_mode": 2, "check_hostname": True})
    try:
        handle = net.connect("localhost", plain, 5)
        with pytest.raises(ProviderError) as error:
            tls.handshake(handle, settings, "localhost\x00.example.com")
    finally:
        net.close_all()
    assert error.value.message == (
        "bad host 'localhost\\x00.example.com': it contains the control character U+0000"
    )
