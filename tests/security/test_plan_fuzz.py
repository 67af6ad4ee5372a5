"""Bad plans, generated: every one is either a valid plan or one PlanError line
that names the JSON path, never another exception; on the command line,
status 2 and one line. Known-bad plans (unknown caps, bad digests, path tricks,
wrong types) must be refused with their own reason, the JSON path and the
problem; known-good ones must load with what they say."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pylon_shell.caps.catalog import CAPS
from pylon_shell.errors import PlanError
from pylon_shell.plan import RESERVED_GUEST_DIRS, parse, shipped

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
    ("tmp_size_mib",),
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


def _refusal(plan: dict[str, Any]) -> str:
    """The one line a plan that must be refused is refused with."""
    try:
        parse(json.dumps(plan), source="fuzz.json")
    except PlanError as error:
        message = str(error)
        assert "\n" not in message, message
        return message
    raise AssertionError(f"a bad plan loaded: {json.dumps(plan)[:300]}")


def _base() -> dict[str, Any]:
    plan = copy.deepcopy(VALID)
    plan["preopens"] = [{"host": "/tmp", "guest": "/data", "readonly": True}]
    plan["policy"]["capabilities"] = ["fs"]
    return plan


PREFIX = "invalid plan: fuzz.json: "
CAP_NAMES = st.sampled_from(sorted(CAPS))
UNKNOWN_CAPS = st.text(min_size=0, max_size=12).filter(lambda name: name not in CAPS)
KNOWN = ", ".join(sorted(CAPS))


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(CAP_NAMES, unique=True, max_size=4), UNKNOWN_CAPS, st.data())
def test_an_unknown_cap_is_refused_naming_it_and_its_place(caps, unknown, data):
    at = data.draw(st.integers(min_value=0, max_value=len(caps)))
    plan = _base()
    # Both spellings: PlanV1's {name, level} and pylon's older bare name (read as required).
    spelled = data.draw(st.sampled_from(["bare", "required"]))
    entry = unknown if spelled == "bare" else {"name": unknown, "level": "required"}
    plan["policy"]["capabilities"] = [*caps[:at], entry, *caps[at:]]
    where = f"$.policy.capabilities[{at}]" + ("" if spelled == "bare" else ".name")
    assert _refusal(plan) == (
        f"{PREFIX}{where}: the plan requires cap {unknown!r}, "
        f"which pylon does not have (known: {KNOWN})"
    )


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=255), max_size=64).filter(lambda d: len(d) != 32)
)
def test_a_digest_of_the_wrong_length_is_refused(digest):
    plan = _base()
    plan["components"][0]["digest"] = digest
    assert _refusal(plan) == (
        f"{PREFIX}$.components[0].digest: expected 32 byte values (SHA-256), got {len(digest)}"
    )


BAD_BYTES = st.one_of(
    st.integers().filter(lambda n: not 0 <= n <= 255),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=3),
    st.none(),
)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.integers(min_value=0, max_value=31), BAD_BYTES)
def test_a_digest_with_a_bad_byte_is_refused_at_that_byte(index, byte):
    plan = _base()
    digest: list[Any] = [7] * 32
    digest[index] = byte
    plan["components"][0]["digest"] = digest
    message = _refusal(plan)
    assert message.startswith(
        f"{PREFIX}$.components[0].digest[{index}]: expected a byte value 0-255, got "
    ), message


SEGMENT = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=6).filter(
    lambda s: s not in RESERVED_GUEST_DIRS and not s.isdigit()
)
#: (how a guest path is spoiled, the problem the refusal must say)
TRICKS = [
    (lambda p: p + "/..", "must not contain .."),
    (lambda p: p + "/../etc", "must not contain .."),
    (lambda p: "/../" + p.lstrip("/"), "must not contain .."),
    (lambda p: p.lstrip("/"), "must be an absolute guest path such as /data"),
    (lambda p: p + "/", "is not a normalized guest path; write it as "),
    (lambda p: p.replace("/", "//", 1), "is not a normalized guest path; write it as "),
    (lambda p: p + "/./x", "is not a normalized guest path; write it as "),
    (lambda p: p + "\x00", "must not contain control characters"),
    (lambda p: p + "\n", "must not contain control characters"),
    (lambda p: "/python" + p, "is reserved"),
    (lambda p: "/.pylon-bulk", "is reserved"),
    (lambda p: "/3" + p, "is reserved"),
    (lambda p: "/", "is reserved"),
]


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(SEGMENT, min_size=1, max_size=3), st.sampled_from(range(len(TRICKS))))
def test_path_tricks_in_a_preopen_are_refused_with_their_reason(segments, trick):
    spoil, problem = TRICKS[trick]
    guest = spoil("/" + "/".join(segments))
    plan = _base()
    plan["preopens"] = [{"host": "/tmp", "guest": guest}]
    message = _refusal(plan)
    assert message.startswith(f"{PREFIX}$.preopens[0].guest: {guest!r} "), message
    assert problem in message, message


#: (a place, a value of the wrong type, what the refusal says was expected)
WRONG_TYPES = [
    (
        ("policy", "capabilities"),
        st.one_of(st.text(), st.integers(), st.dictionaries(st.text(), st.none())),
        "a list",
    ),
    (
        ("policy", "capabilities", 0),
        st.one_of(st.integers(), st.none(), st.lists(st.none())),
        "an object {name, level}",
    ),
    (
        ("components", 0, "digest"),
        st.one_of(st.text(), st.integers(), st.booleans(), st.dictionaries(st.text(), st.none())),
        "a list of 32 byte values (SHA-256) or null",
    ),
    (
        ("preopens",),
        st.one_of(st.text(), st.integers(), st.dictionaries(st.text(), st.none())),
        "a list",
    ),
    (("preopens", 0), st.one_of(st.text(), st.integers(), st.lists(st.none())), "an object"),
    (("preopens", 0, "guest"), st.one_of(st.integers(), st.none(), st.booleans()), "a string"),
    (("preopens", 0, "host"), st.one_of(st.integers(), st.none(), st.booleans()), "a string"),
    (("preopens", 0, "readonly"), st.one_of(st.integers(), st.text(), st.none()), "true or false"),
    (("env",), st.one_of(st.text(), st.integers(), st.lists(st.none())), "an object of strings"),
    (
        ("hosts",),
        st.one_of(st.text(), st.integers(), st.dictionaries(st.text(), st.none())),
        "a list of HOST:PORT",
    ),
]


def _path_text(path: tuple[Any, ...]) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.data())
def test_a_value_of_the_wrong_type_is_refused_naming_its_path_and_type(data):
    path, values, expected = data.draw(st.sampled_from(WRONG_TYPES))
    value = data.draw(values)
    plan = _base()
    _set(plan, path, value)
    message = _refusal(plan)
    assert message.startswith(f"{PREFIX}{_path_text(path)}: expected {expected}, got "), message


@settings(max_examples=EXAMPLES, deadline=None)
@given(
    st.lists(CAP_NAMES, unique=True, max_size=len(CAPS)),
    st.one_of(st.none(), st.lists(st.integers(0, 255), min_size=32, max_size=32)),
    st.lists(st.lists(SEGMENT, min_size=1, max_size=3), max_size=3, unique_by=lambda s: s[0]),
    st.dictionaries(
        st.from_regex(r"[A-Z_][A-Z0-9_]{0,8}", fullmatch=True), st.text(max_size=8), max_size=3
    ),
)
def test_good_plans_load_with_what_they_say(caps, digest, guests, env):
    plan = _base()
    plan["policy"]["capabilities"] = caps
    plan["components"][0]["digest"] = digest
    plan["preopens"] = [
        {"host": "/tmp", "guest": "/" + "/".join(parts), "readonly": i % 2 == 0}
        for i, parts in enumerate(guests)
    ]
    plan["env"] = env
    loaded = parse(json.dumps(plan), source="fuzz.json")
    assert loaded.capabilities == tuple(caps)
    assert [(p.guest, p.readonly) for p in loaded.preopens] == [
        (g["guest"], g["readonly"]) for g in plan["preopens"]
    ]
    assert dict(loaded.env) == env
    assert loaded.components[0].digest == (None if digest is None else bytes(digest).hex())


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
