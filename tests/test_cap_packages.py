"""A cap package from outside pylon: docs/caps/writing-a-cap.md's `rot` example,
written to a folder of its own, found through PYLON_CAP_PACKAGES, run on both
runtimes; and a broken package left out with a note instead of stopping pylon."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "caps" / "writing-a-cap.md"


def _doc_block(after: str) -> str:
    """The first ```python block of the doc after the heading `after`."""
    text = DOC.read_text()
    section = text[text.index(after) :]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, f"no python block after {after!r}"
    return found.group(1)


@pytest.fixture
def rot_package(tmp_path):
    """The doc's example package, exactly as the doc writes it."""
    package = tmp_path / "mycaps" / "rot"
    (package / "guest").mkdir(parents=True)
    (tmp_path / "mycaps" / "__init__.py").write_text("")
    (package / "__init__.py").write_text(_doc_block("## 2. The package"))
    (package / "provider.py").write_text(_doc_block("## 3. The provider"))
    (package / "guest" / "rot13.py").write_text(_doc_block("## 4. The guest module"))
    return {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PYLON_CAP_PACKAGES": "rot=mycaps.rot:PACKAGE",
    }


@pytest.mark.runtime
@pytest.mark.parametrize("flag", ["--cp", "--mp"])
def test_the_docs_example_cap_runs_on_both_runtimes(pylon, rot_package, flag):
    result = pylon(flag, "--cap", "rot", "-c", "import rot13; print(rot13.encode('pylon'))",
                   env=rot_package)  # fmt: skip
    assert result.stdout == "clyba\n", result.stderr
    refused = pylon(flag, "-c", "import rot13", env=rot_package)
    assert refused.status == 1
    assert refused.stderr.strip() == (
        "pylon: <string>:1: import of rot13 needs the rot cap, which this plan does not grant; "
        "grant it with --cap rot"
    )


@pytest.mark.runtime
def test_the_provider_refuses_what_the_doc_says_it_refuses(pylon, rot_package):
    code = (
        "import rot13\n"
        "try:\n    rot13.encode('x' * (2 << 20))\nexcept ValueError as e:\n    print(e)\n"
        "from wit_world.imports import dispatch as d\n"
        "from componentize_py_types import Err\n"
        "try:\n    d.call('rot', 'encode', [d.Arg_Integer(1)])\n"
        "except Err as err:\n    print(err.value.kind, err.value.message)\n"
    )
    result = pylon("--cap", "rot", "-c", code, env=rot_package)
    assert result.stdout.splitlines() == ["at most 1 MiB a call", "TypeError encode() takes a str"]


def test_the_docs_example_is_listed_by_pylon_caps(pylon, rot_package):
    result = pylon("caps", env=rot_package)
    assert "rot  ROT13 on the host\n  modules     rot13\n" in result.stdout
    assert "  interface   pylon:cap/dispatch@0.1.0\n" in result.stdout


def test_a_broken_package_is_left_out_and_said_so(pylon, tmp_path):
    (tmp_path / "broken_cap.py").write_text("raise RuntimeError('no luck')\n")
    env = {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
        "PYLON_CAP_PACKAGES": "broken=broken_cap:PACKAGE",
    }
    result = pylon("caps", env=env)
    assert result.status == 0
    assert (
        "warning:  cap package 'broken' (broken_cap:PACKAGE) left out: "
        "RuntimeError('no luck')" in result.stdout
    )
    assert pylon("--no-caps", "-c", "print(6 * 7)", env=env).stdout == "42\n"
