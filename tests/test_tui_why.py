"""The why view's words for each kind of denial (tui/why.py); the pilot tests
in test_tui_imports.py show it on screen."""

from __future__ import annotations

import json

from pylon_shell.caps.grants import Grants
from pylon_shell.tui.why import explain


def test_a_granted_cap_whose_host_is_not_listed_misses_the_host_only():
    grants = Grants(["net"], hosts=["pypi.org:443"])
    why = explain(grants, "net", "connect", "example.com:80")
    assert why.missing == (
        "example.com:80 is not among the hosts the net cap may reach (pypi.org:443)"
    )
    assert why.host == "example.com:80"
    assert json.loads(why.plan_change) == {"hosts": ["pypi.org:443", "example.com:80"]}
    assert "the command line: --host example.com:80" in why.now


def test_a_listed_host_adds_no_hosts_to_the_plan_change():
    grants = Grants([], hosts=["example.com:443"])
    why = explain(grants, "tls", "connect", "example.com:443")
    assert why.missing == "the tls cap is not granted"
    assert json.loads(why.plan_change) == {
        "policy": {"capabilities": [{"name": "tls", "level": "required"}]}
    }
    assert why.host is None


def test_granted_since_says_so():
    grants = Grants(["compression"])
    why = explain(grants, "compression", "import", "lzma", is_import=True)
    assert why.missing == ""
    assert "granted since: run it again" in why.text()
