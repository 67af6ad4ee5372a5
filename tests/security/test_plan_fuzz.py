"""Bad plans, generated: every one is either a valid plan or one PlanError line
that names the JSON path, never another exception; on the command line,
status 2 and one line."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylon_shell.errors import PlanError
from pylon_shell.plan import parse, shipped

#: How many plans each property tries (docs/security.md reports the volume).
EXAMPLES = 400

VALID = json.loads(shipped("data").dumps())
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)
#: Every place in a plan, as a path of keys and indexes.
PATHS = [
    ("version",),
    ("name",),
    ("runtime",),
    ("root",),
    ("components",),
    ("components", 0),
    ("components", 0, "id"),
    ("components", 0, "path"),
    ("components", 0, "digest"),
    ("bindings",),
    ("secrets",),
    ("policy",),
    ("policy", "capabilities"),
    ("policy", "capabilities", 0),
    ("policy", "limits"),
    ("policy", "limits", "timeout_seconds"),
    ("policy", "limits", "memory_mib"),
    ("preopens",),
    ("preopens", 0),
    ("preopens", 0, "guest"),
    ("preopens", 0, "host"),
    ("preopens", 0, "readonly"),
    ("env",),
    ("providers",),
    ("hosts",),
]


def _set(plan: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    target: Any = plan
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value


def _outcome(text: str) -> None:
    try:
        parse(text, source="fuzz.json")
    except PlanError as error:
        message = str(error)
        assert message.startswith("invalid plan: fuzz.json: $"), message
        assert "\n" not in message


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(PATHS), JSON_VALUES)
def test_any_value_anywhere_is_a_plan_or_one_line_naming_its_path(path, value):
    plan = copy.deepcopy(VALID)
    plan["preopens"] = [{"host": "/tmp", "guest": "/data", "readonly": True}]
    plan["policy"]["capabilities"] = ["fs"]
    _set(plan, path, value)
    _outcome(json.dumps(plan))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_plan_or_one_line(text):
    _outcome(text)


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(st.sampled_from(["sqlite", "fs", "nope", "duckdb", "", "SQLITE"]), max_size=5),
    st.lists(st.integers(min_value=0, max_value=300), max_size=40),
    st.lists(st.sampled_from(["cpython", "cpython", "other", "x-y"]), min_size=1, max_size=3),
)
def test_caps_digests_and_ids_are_checked(caps, digest, ids):
    plan = copy.deepcopy(VALID)
    plan["policy"]["capabilities"] = caps
    plan["components"] = [
        {"id": ident, "path": "builtin:cpython", "digest": digest} for ident in ids
    ]
    plan["bindings"] = [
        {"consumer_id": "cpython", "import_name": "a", "provider_id": "missing", "export_name": "b"}
    ]
    _outcome(json.dumps(plan))


def test_bad_plans_on_the_command_line_are_status_2_and_one_line(pylon, tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_text(" " * (1 << 20) + "{}")
    cases = {
        huge: "the file is",
        tmp_path / "broken.json": "not JSON",
        tmp_path / "deep.json": "not JSON (nested too deeply)",
        tmp_path / "dup.json": "duplicate",
    }
    (tmp_path / "broken.json").write_text('{"version": "1",')
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    dup = copy.deepcopy(VALID)
    dup["components"].append(dict(dup["components"][0]))
    (tmp_path / "dup.json").write_text(json.dumps(dup))
    for path, fragment in cases.items():
        result = pylon("--plan", str(path), "-c", "print('ran')")
        assert result.status == 2, (path, result.stderr)
        assert result.stdout == ""
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert result.stderr.startswith(f"pylon: invalid plan: {path}: $")
        assert fragment in result.stderr
