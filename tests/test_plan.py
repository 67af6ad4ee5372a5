"""The plan model: shipped plans, round trips, and errors that name the JSON path."""

from __future__ import annotations

import json

import pytest

from pylon_shell import plan as plans
from pylon_shell.errors import PlanError


def base() -> dict:
    return json.loads(plans.shipped("minimal").dumps())


def test_shipped_plans_load():
    for name in ("default", "minimal", "data", "net"):
        plan = plans.shipped(name)
        assert plan.name == name
        assert plan.runtime == "cpython"
        assert plan.root_component.builtin == "cpython"


def test_round_trip_keeps_everything():
    data = base()
    data["components"][0]["digest"] = list(range(32))
    data["preopens"] = [{"host": "/tmp", "guest": "/data", "readonly": True}]
    data["env"] = {"A": "1"}
    data["policy"]["limits"] = {"timeout_seconds": 2, "memory_mib": 64}
    plan = plans.parse(json.dumps(data))
    assert plans.parse(plan.dumps()) == plan
    assert plan.root_component.digest == bytes(range(32)).hex()


def test_with_runtime_swaps_the_root_component():
    plan = plans.shipped("default").with_runtime("micropython")
    assert plan.runtime == "micropython" and plan.root == "micropython"
    # What pylon writes pins the digest of the builtin component it names.
    assert plans.parse(plan.dumps()) == plan.pinned()
    assert plan.pinned().root_component.digest is not None


def test_relative_preopen_is_relative_to_the_plan_file(tmp_path):
    data = base()
    data["preopens"] = [{"host": "shared", "guest": "/data"}]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    assert plans.load(path).preopens[0].host == tmp_path / "shared"


def mutate(edit) -> PlanError:
    data = base()
    edit(data)
    with pytest.raises(PlanError) as caught:
        plans.parse(json.dumps(data))
    return caught.value


@pytest.mark.parametrize(
    ("edit", "path", "fragment"),
    [
        (lambda d: d.pop("root"), "$.root", "is required"),
        (lambda d: d.update(version="2"), "$.version", "unsupported version"),
        (lambda d: d.update(root="nope"), "$.root", "names no component"),
        (lambda d: d.update(runtime="java"), "$.runtime", "unknown runtime"),
        (lambda d: d.update(runtime="micropython"), "$.root", "must be builtin:micropython"),
        (
            lambda d: d["components"][0].update(digest=[1] * 31),
            "$.components[0].digest",
            "expected 32 byte values (SHA-256), got 31",
        ),
        (
            lambda d: d["components"][0].update(digest=[256] * 32),
            "$.components[0].digest[0]",
            "byte value",
        ),
        (
            lambda d: d["components"][0].update(digest="abc"),
            "$.components[0].digest",
            "expected a list of 32 byte values",
        ),
        (
            lambda d: d["components"].append(dict(d["components"][0])),
            "$.components[1].id",
            "duplicate component id",
        ),
        (
            lambda d: d["components"].append({"id": "x", "path": "x.wasm", "digest": None}),
            "$.components[1].digest",
            "is required",
        ),
        (
            lambda d: d.update(
                bindings=[
                    {
                        "consumer_id": "cpython",
                        "import_name": "a:b/c@1.0.0",
                        "provider_id": "ghost",
                        "export_name": "a:b/c@1.0.0",
                    }
                ]
            ),
            "$.bindings[0].provider_id",
            "names no component",
        ),
        (
            lambda d: d["policy"].update(capabilities=["sqlite", "sqlite"]),
            "$.policy.capabilities[1]",
            "duplicate cap",
        ),
        (
            lambda d: d["policy"].update(capabilities=[3]),
            "$.policy.capabilities[0]",
            "expected an object {name, level}, got the number 3",
        ),
        (
            lambda d: d["policy"]["limits"].update(timeout_seconds=-1),
            "$.policy.limits.timeout_seconds",
            "positive",
        ),
        (
            lambda d: d["policy"]["limits"].update(memory_mib=True),
            "$.policy.limits.memory_mib",
            "got true",
        ),
        (
            lambda d: d.update(preopens=[{"host": "/tmp", "guest": "data"}]),
            "$.preopens[0].guest",
            "absolute guest path",
        ),
        (
            lambda d: d.update(preopens=[{"host": "/tmp", "guest": "/python"}]),
            "$.preopens[0].guest",
            "reserved",
        ),
        (
            lambda d: d.update(preopens=[{"host": "/tmp", "guest": "/world/x"}]),
            "$.preopens[0].guest",
            "reserved",
        ),
        (
            lambda d: d.update(preopens=[{"host": "/tmp", "guest": "/0"}]),
            "$.preopens[0].guest",
            "reserved",
        ),
        (lambda d: d.update(env={"A": 1}), "$.env.A", "expected a string"),
        (lambda d: d.update(extra=1), "$.extra", "unknown field"),
    ],
)
def test_errors_name_the_json_path(edit, path, fragment):
    error = mutate(edit)
    assert error.path == path
    assert fragment in str(error)
    assert "\n" not in str(error)


def test_not_json_and_wrong_top_level(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  'version': 1\n}")
    with pytest.raises(PlanError, match=r"bad.json: \$: not JSON \(line 2, column 3"):
        plans.load(bad)
    with pytest.raises(PlanError, match=r"\$: expected an object, got a list"):
        plans.parse("[]")


def test_huge_and_missing_files(tmp_path):
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (plans.MAX_PLAN_BYTES + 1))
    with pytest.raises(PlanError, match="a plan is at most 1 MiB"):
        plans.load(huge)
    with pytest.raises(PlanError, match="no such file"):
        plans.load(tmp_path / "missing.json")


def test_saving_a_plan_is_all_or_nothing(tmp_path, monkeypatch):
    import os

    target = tmp_path / "plan.json"
    plans.shipped("minimal").save(target)
    before = target.read_text()

    def broken_replace(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        plans.shipped("default").save(target)
    assert target.read_text() == before  # the old plan, whole
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left


def test_a_key_with_a_newline_is_named_on_one_line():
    data = base()
    data["policy"]["\n"] = None
    with pytest.raises(PlanError) as error:
        plans.parse(json.dumps(data), source="p.json")
    assert str(error.value) == (
        "invalid plan: p.json: $.policy.\\n: unknown field "
        "(known: capabilities, determinism, limits, tenant)"
    )


def test_a_plan_read_stops_past_the_limit_whatever_the_file_says(tmp_path, monkeypatch):
    """The limit applies to what is read (at most MAX_PLAN_BYTES + 1 bytes), not
    to the size a stat reports."""
    import os

    huge = tmp_path / "huge.json"
    with huge.open("wb") as out:
        out.truncate(64 * 1024 * 1024)  # sparse: 64 MiB of NULs
    monkeypatch.setattr(os, "fstat", _lying_fstat(os.fstat))
    read: list[int] = []
    real_read = os.read
    monkeypatch.setattr(os, "read", lambda fd, n: _counted(read, real_read(fd, n)))
    with pytest.raises(PlanError) as caught:
        plans.load(huge)
    assert str(caught.value) == (
        f"invalid plan: {huge}: $: the file is larger than {plans.MAX_PLAN_BYTES} bytes; "
        "a plan is at most 1 MiB"
    )
    assert sum(read) == plans.MAX_PLAN_BYTES + 1


def _lying_fstat(real):
    """fstat that says every file is empty, as a FIFO's or a growing file's would."""
    import os

    def fstat(fd: int) -> os.stat_result:
        result = list(real(fd))
        result[6] = 0  # st_size
        return os.stat_result(result)

    return fstat


def _counted(read: list[int], chunk: bytes) -> bytes:
    read.append(len(chunk))
    return chunk


def test_forty_thousand_hosts_are_checked_for_duplicates_in_linear_time(monkeypatch):
    """A list's `in` made 40,000 hosts take 11-18 s; counted, not timed."""
    count = 40_000
    compared = [0]

    class Counted(str):
        def __eq__(self, other: object) -> bool:
            compared[0] += 1
            if compared[0] > count:
                raise AssertionError("duplicate checks compare each host with the others")
            return str.__eq__(self, other)

        __hash__ = str.__hash__

    class Pattern:
        def __init__(self, spec: str) -> None:
            self.spec = spec

        def __str__(self) -> str:
            return Counted(self.spec)

    monkeypatch.setattr(plans, "parse_pattern", Pattern)
    data = base()
    data["hosts"] = [f"h{i}.example:443" for i in range(count)] + ["h0.example:443"]
    plan = plans.parse(json.dumps(data))
    assert len(plan.hosts) == count
    assert compared[0] <= count


def test_a_component_file_is_resolved_and_its_digest_checked(tmp_path):
    import hashlib

    component = tmp_path / "parts" / "provider.wasm"
    component.parent.mkdir()
    component.write_bytes(b"\0asm pretend")
    digest = list(hashlib.sha256(component.read_bytes()).digest())
    data = base()
    data["components"].append({"id": "provider", "path": "parts/../parts/provider.wasm"})
    data["components"][-1]["digest"] = digest
    (tmp_path / "plan.json").write_text(json.dumps(data))
    plan = plans.load(tmp_path / "plan.json")
    assert plan.components[-1].path == str(component)  # resolved, absolute

    for path, problem in (
        ("/dev/zero", "/dev/zero is a device, not a component file"),
        (str(tmp_path), f"{tmp_path} is a directory, not a component file"),
        ("missing.wasm", f"no such component file {tmp_path / 'missing.wasm'}"),
        ("a\nb.wasm", "'a\\nb.wasm' is not a file path"),
    ):
        data["components"][-1]["path"] = path
        (tmp_path / "plan.json").write_text(json.dumps(data))
        with pytest.raises(PlanError) as caught:
            plans.load(tmp_path / "plan.json")
        assert caught.value.path == "$.components[1].path"
        assert caught.value.problem == problem

    data["components"][-1]["path"] = "parts/provider.wasm"
    component.write_bytes(b"\0asm swapped")
    (tmp_path / "plan.json").write_text(json.dumps(data))
    with pytest.raises(PlanError) as caught:
        plans.load(tmp_path / "plan.json")
    assert caught.value.path == "$.components[1].digest"
    assert caught.value.problem.startswith(f"{component} does not match the digest")


@pytest.mark.parametrize(
    ("guest", "fragment"),
    [
        ("/.", "is reserved"),
        ("//", "is reserved"),
        ("/./", "is reserved"),
        ("/", "is reserved"),
        ("", "must be an absolute guest path"),
        ("/data/../x", "must not contain .."),
        ("/data\x00", "must not contain control characters"),
        ("/da\nta", "must not contain control characters"),
        ("/data/.", "write it as /data"),
    ],
)
def test_every_guest_path_spelling_is_one_problem_line(guest, fragment):
    problem = plans.guest_path_problem(guest)
    assert problem is not None and fragment in problem and "\n" not in problem


def test_a_plan_memory_limit_below_the_runtimes_minimum_is_refused():
    data = base()
    data["policy"]["limits"] = {"memory_mib": 13}
    with pytest.raises(PlanError) as caught:
        plans.parse(json.dumps(data))
    assert caught.value.path == "$.policy.limits.memory_mib"
    assert caught.value.problem == (
        "13 MiB is too little for CPython, which needs at least 14 MiB to start"
    )


def test_switching_runtimes_keeps_the_digest_a_plan_pins():
    data = base()
    data["components"].append(
        {"id": "micropython", "path": "builtin:micropython", "digest": [7] * 32}
    )
    plan = plans.parse(json.dumps(data)).with_runtime("micropython")
    assert plan.root_component.digest == bytes([7] * 32).hex()
    assert [c.id for c in plan.components] == ["micropython"]


def test_saving_over_a_shipped_plan_is_refused(tmp_path):
    from pylon_shell.errors import UsageError

    shipped_file = plans.shipped_dir() / "default.json"
    before = shipped_file.read_bytes()
    for target in (shipped_file, plans.shipped_dir() / "new.json"):
        with pytest.raises(UsageError):
            plans.shipped("default").save(target)
    link = tmp_path / "link.json"
    link.symlink_to(shipped_file)
    with pytest.raises(UsageError):
        plans.shipped("default").save(link)
    assert shipped_file.read_bytes() == before
    assert not (plans.shipped_dir() / "new.json").exists()
