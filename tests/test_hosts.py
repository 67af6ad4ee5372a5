"""The host allowlist of the net and tls caps: patterns, decisions, plans and flags."""

from __future__ import annotations

import json

import pytest

from pylon_shell.caps.grants import CapDenied, Grants
from pylon_shell.caps.hosts import HostNameError, HostSpecError, check_host, parse_pattern
from pylon_shell.plan import parse


@pytest.mark.parametrize(
    ("spec", "host", "port", "expected"),
    [
        ("example.com:443", "example.com", 443, True),
        ("example.com:443", "EXAMPLE.com.", 443, True),
        ("example.com:443", "example.com", 80, False),
        ("example.com:443", "api.example.com", 443, False),
        ("*.example.com:443", "api.example.com", 443, True),
        ("*.example.com:443", "example.com", 443, False),
        ("*.example.com:443", "badexample.com", 443, False),
        ("*:443", "anything.test", 443, True),
        ("localhost:*", "localhost", 8443, True),
        ("127.0.0.1:8443", "127.0.0.1", 8443, True),
        ("127.0.0.1:8443", "localhost", 8443, False),
        ("[::1]:8443", "0:0::1", 8443, True),
        ("*.example.com:443", "example.com.evil", 443, False),
        ("*.example.com:443", "localhost\x00.example.com", 443, False),
        ("*:443", "localhost\x00.example.com", 443, False),
        ("*:443", "2130706433", 443, False),
        ("*.xn--bcher-kva.example:443", "www.BÜCHER.example", 443, True),
    ],
)
def test_patterns_match_names_without_resolving_them(spec, host, port, expected):
    assert parse_pattern(spec).matches(host, port) is expected


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("example.com", "expected HOST:PORT"),
        ("example.com:0", "must be 1 to 65535 or '*'"),
        ("example.com:http", "must be 1 to 65535 or '*'"),
        ("::1:443", "write an IPv6 address in brackets"),
        ("[nope]:443", "is not an IPv6 address"),
        ("exa mple.com:443", "is not a host name"),
        ("a.*.com:443", "is not a host name"),
        ("127.1:443", "must be an IPv4 address written a.b.c.d"),
        ("a_b.test:443", "is not letters, digits and '-'"),
        ("*.10.0.0.1:443", "'*.' goes before a name, not an address"),
    ],
)
def test_bad_patterns_say_what_is_wrong(spec, problem):
    with pytest.raises(HostSpecError, match=problem.replace("*", r"\*")):
        parse_pattern(spec)


def test_a_grant_reaches_only_listed_hosts_and_says_which_is_missing():
    grants = Grants(["tls"], hosts=["localhost:8443"])
    with grants.call("tls", "connect", "localhost:8443") as how:
        assert how == "grant"
    with pytest.raises(CapDenied) as denied:
        with grants.call("tls", "connect", "example.com:443"):
            pass
    assert str(denied.value) == (
        "example.com:443 is not among the hosts this plan lets the tls cap reach "
        "(localhost:8443); allow it with --host example.com:443"
    )
    grants.revoke("tls")
    assert grants.denial("tls", "handshake", "localhost:8443") == (
        "the tls cap is not granted (handshake localhost:8443); grant it with --cap tls"
    )
    assert grants.denial("net", "connect", "example.com:80") == (
        "the net cap is not granted (connect example.com:80); "
        "grant it with --cap net --host example.com:80"
    )


def test_allowing_a_prompt_for_the_session_adds_the_host():
    asked: list[tuple[str, str, str]] = []

    def prompter(cap: str, operation: str, target: str) -> str:
        asked.append((cap, operation, target))
        return "session"

    grants = Grants(prompter=prompter)  # type: ignore[arg-type]
    with grants.call("tls", "connect", "example.com:443"):
        pass
    assert asked == [("tls", "connect", "example.com:443")]
    assert grants.reaches("tls", "example.com:443")
    assert not grants.reaches("tls", "example.com:80")


def test_a_revoke_stops_an_open_connection_that_the_grant_allowed():
    grants = Grants(["net"], hosts=["h.test:1"])
    assert grants.still_allows("net", "h.test:1", "grant")
    grants.revoke("net")
    assert not grants.still_allows("net", "h.test:1", "grant")
    # What the user allowed once, for this connection, stays allowed.
    assert grants.still_allows("net", "h.test:1", "prompt-once")


def _plan(hosts: object) -> str:
    return json.dumps(
        {
            "version": "1",
            "root": "cpython",
            "components": [{"id": "cpython", "path": "builtin:cpython", "digest": None}],
            "hosts": hosts,
        }
    )


def test_plans_keep_hosts_normalized_and_name_a_bad_one():
    plan = parse(_plan(["Example.COM:443", "[::0001]:8443", "example.com:443"]))
    assert plan.hosts == ("example.com:443", "[::1]:8443")
    assert parse(plan.dumps()).hosts == plan.hosts
    with pytest.raises(Exception, match=r"\$\.hosts\[1\]: the port of 'x.test:99999'"):
        parse(_plan(["a.test:1", "x.test:99999"]))


def test_the_host_flag_grants_tls_and_a_bad_one_is_a_usage_error(pylon):
    shown = pylon("plan", "show", "--no-caps", "--host", "api.example.com:443")
    assert shown.status == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert plan["policy"]["capabilities"] == [{"name": "tls", "level": "required"}]
    assert plan["hosts"] == ["api.example.com:443"]
    with_net = json.loads(pylon("plan", "show", "--cap", "net", "--host", "a.test:80").stdout)
    assert {"name": "tls", "level": "required"} not in with_net["policy"]["capabilities"]
    bad = pylon("--host", "example.com", "-c", "pass")
    assert bad.status == 2
    assert bad.stderr == (
        "pylon: --host example.com: expected HOST:PORT (e.g. example.com:443), got 'example.com'\n"
    )


@pytest.mark.parametrize(
    ("host", "normalized"),
    [
        ("Example.COM.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.example", "xn--bcher-kva.example"),
        ("[::1]", "::1"),
        ("0:0:0::0001", "::1"),
        ("127.0.0.1", "127.0.0.1"),
        ("a" * 63 + ".test", "a" * 63 + ".test"),
        (".".join(["a" * 49] * 5) + ".t", ".".join(["a" * 49] * 5) + ".t"),
    ],
)
def test_valid_hosts_are_normalized_to_what_is_matched_and_connected_to(host, normalized):
    assert check_host(host) == normalized


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ("", "bad host '': the name is empty"),
        ("a\x00b", "bad host 'a\\x00b': it contains the control character U+0000"),
        ("a\u00adb.test", "bad host 'a\\xadb.test': it contains the invisible character U+00AD"),
        ("a\u3000b", "bad host 'a\\u3000b': it contains a space (U+3000)"),
        ("a\uff61test", "bad host 'a｡test': labels are separated by '.', not U+FF61"),
        ("a" * 64 + ".test", f"bad host '{'a' * 64}.test': a label is longer than 63 characters"),
        (
            ".".join(["a" * 50] * 5) + ".t",
            f"bad host '{'a' * 50 + '.' + 'a' * 29}...': it is longer than 253 characters",
        ),
        (
            "-a.test",
            "bad host '-a.test': the label '-a' is not letters, digits and '-' (not at either end)",
        ),
        (
            "ab--c.test",
            "bad host 'ab--c.test': the label 'ab--c' has '--' in the 3rd and 4th places",
        ),
        ("xn--zz.test", "bad host 'xn--zz.test': the label 'xn--zz' is not valid IDNA (punycode)"),
        (
            "straße.de",
            "bad host 'straße.de': the label 'straße' is not in IDNA's normal form (that is "
            "'strasse')",
        ),
        (
            "fe80::1%eth0",
            "bad host 'fe80::1%eth0': '%' is not allowed (no percent-encoding, no IPv6 zone ids)",
        ),
        (
            "[fe80::1%25eth0]",
            "bad host '[fe80::1%25eth0]': '%' is not allowed (no percent-encoding, no IPv6 zone "
            "ids)",
        ),
        (
            "a%2eb.test",
            "bad host 'a%2eb.test': '%' is not allowed (no percent-encoding, no IPv6 zone ids)",
        ),
        ("[::1", "bad host '[::1': unbalanced brackets"),
        ("[::g]", "bad host '[::g]': it is not an IPv6 address"),
        (
            "[::ffff:7f00:1]",
            "bad host '[::ffff:7f00:1]': an IPv4-mapped IPv6 address; write the IPv4 address "
            "127.0.0.1",
        ),
        (
            "127.00.0.1",
            "bad host '127.00.0.1': a name ending in a number must be an IPv4 address written "
            "a.b.c.d (decimal, no leading zeros)",
        ),
        (
            "host.123",
            "bad host 'host.123': a name ending in a number must be an IPv4 address written "
            "a.b.c.d (decimal, no leading zeros)",
        ),
    ],
)
def test_bad_hosts_are_refused_with_one_line_naming_the_host_and_why(host, message):
    with pytest.raises(HostNameError) as error:
        check_host(host)
    assert str(error.value) == message
    assert "\n" not in str(error.value)
