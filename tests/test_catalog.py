"""The cap catalog: one table the guests, `pylon caps`, plans and the TUI all read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from pylon_shell.caps import describe
from pylon_shell.caps.catalog import (
    BOUNDARY,
    CAPS,
    POLICY,
    cap_for_module,
    choose_providers,
    unknown_caps,
)

WIT = Path(__file__).parent.parent / "pylon_shell" / "wit"


def test_modules_resolve_to_their_cap():
    assert cap_for_module("sqlite3").name == "sqlite"
    assert cap_for_module("sqlite3.dbapi2").name == "sqlite"
    assert cap_for_module("_sqlite3").name == "sqlite"
    assert cap_for_module("duckdb").name == "duckdb"
    assert cap_for_module("json") is None


def test_every_cap_interface_is_declared_in_the_wit():
    wit = "\n".join(p.read_text() for p in WIT.rglob("*.wit"))
    package = re.search(r"^package (\S+);", (WIT / "deps/cap/cap.wit").read_text(), re.M)
    assert package is not None
    for cap in CAPS.values():
        if cap.interface is None:
            continue
        name, version = cap.interface.split("/")[1].split("@")
        assert f"interface {name} {{" in wit, cap.interface
        assert package.group(1) == f"pylon:cap@{version}"


def test_the_plan_choice_wins_only_where_the_runtime_supports_it():
    assert choose_providers("cpython", {})["sqlite"] == "builtin"
    assert choose_providers("cpython", {"sqlite": "component"})["sqlite"] == "component"
    # MicroPython has no SQLite inside: the component serves it whatever the plan says.
    assert choose_providers("micropython", {"sqlite": "builtin"})["sqlite"] == "component"
    assert choose_providers("micropython", {})["duckdb"] == "host"


def test_enforcement_is_stated_honestly():
    sqlite = CAPS["sqlite"]
    assert sqlite.provider("builtin").enforcement == POLICY
    assert sqlite.provider("component").enforcement == BOUNDARY
    assert sqlite.default_provider.name == "builtin"
    with pytest.raises(KeyError):
        sqlite.provider("nope")


def test_unknown_caps_are_named():
    assert unknown_caps(["sqlite", "sqlit", "fs", "net", "clock"]) == ["sqlit", "clock"]


def test_catalog_json_lists_every_cap_with_providers():
    catalog = describe.catalog_json()
    assert [cap["name"] for cap in catalog] == list(CAPS)
    json.dumps(catalog)  # printable as --json
    sqlite = next(cap for cap in catalog if cap["name"] == "sqlite")
    assert sqlite["interface"] == "pylon:cap/sqlite@0.1.0"
    assert sqlite["runtimes"] == ["cpython", "micropython"]
    kinds = {p["name"]: (p["kind"], p["enforcement"]) for p in sqlite["providers"]}
    assert kinds == {"builtin": ("builtin", "policy"), "component": ("component", "boundary")}
    duck = next(cap for cap in catalog if cap["name"] == "duckdb")
    assert duck["providers"][0]["backing"].startswith("duckdb ")


def test_catalog_text_explains_the_enforcement_levels():
    text = describe.catalog_text()
    assert "pylon:cap/duckdb@0.1.0" in text
    assert "wasi:filesystem" in text
    assert "boundary: the host checks the grant on every call." in text
    assert "policy:" in text


CAPS_DIR = Path(__file__).parent.parent / "pylon_shell" / "caps"


def test_every_cap_is_a_package_of_its_own():
    """The catalog's caps, in the order `pylon caps` lists them, each defined by
    a folder of pylon_shell/caps/ that the registry finds with no install."""
    from pylon_shell.caps import registry

    assert list(CAPS)[:9] == [
        "fs", "env", "sqlite", "duckdb", "compression", "crypto", "net", "tls", "hash",
    ]  # fmt: skip
    own = {name for name, _target in registry._own()}
    for name in CAPS:
        package = registry.defining(name)
        assert package is not None and package.name in own, name
        assert (CAPS_DIR / package.name / "__init__.py").is_file()


def test_the_cap_layer_names_no_cap():
    """The layer, catalog, describe, grants, provider process and TUI hold no
    cap-specific branch: no cap's name is a string in their code."""
    import ast

    sources = [CAPS_DIR / f"{name}.py" for name in (
        "layer", "catalog", "describe", "grants", "process", "worker", "dispatch", "wiring",
    )] + sorted((CAPS_DIR.parent / "tui").rglob("*.py"))  # fmt: skip
    for source in sources:
        tree = ast.parse(source.read_text())
        named = {
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        } & set(CAPS)
        assert not named, f"{source.name} names {sorted(named)}"


def test_a_stand_in_is_served_only_by_its_name():
    """MicroPython asks for a shim by name: only a name a package offers is read."""
    from pylon_shell.caps import registry

    assert "def pbkdf2_hmac" in (registry.stand_in_source("micropython", "pylon") or "")
    for hostile in ("../crypto/provider", "/etc/passwd", "provider", "pylon_bz2", "", None):
        assert registry.stand_in_source("micropython", hostile) is None  # type: ignore[arg-type]
