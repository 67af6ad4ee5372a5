"""What `pip install .` (not editable) puts in place: every package of the
source tree, so no subcommand or cap is missing from a wheel."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_of_the_tree_is_listed_for_setuptools():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "packages"
    ])
    tree = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "pylon_shell").rglob("__init__.py")
        if "guest" not in init.relative_to(ROOT / "pylon_shell").parts[1:]
        and "__pycache__" not in init.parts
    }
    assert tree - listed == set()
