"""Packages from PyPI: the unpacker against hostile wheels made here, the spec and
report checks, the plan's `packages` key, and real guests importing real wheels.

The tests marked by the `pylon` fixture that name a package reach pip's index
(CI reaches PyPI); they are few and small (attrs is ~60 KB). The offline replay
points pip at nothing (PYLON_PIP_PYTHON=/bin/false, PIP_NO_INDEX=1): any pip call
would fail it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import stat
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme
from test_net_tls import Server, _serve

from pylon_shell import packages
from pylon_shell.errors import DigestMismatch, PlanError, UsageError
from pylon_shell.packages import Pin, UnsafeWheel, unpack_wheel
from pylon_shell.plan import parse


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}\n"


def make_wheel(
    path: Path,
    files: dict[str, bytes] | None = None,
    *,
    raw: list[tuple[zipfile.ZipInfo, bytes]] = (),  # type: ignore[assignment]
    record_extra: str = "",
    name: str = "demo",
    version: str = "1.0",
) -> Path:
    """A wheel with `files` (each in RECORD) plus `raw` entries written as given."""
    files = {"demo/__init__.py": b"VALUE = 42\n", **(files or {})}
    dist = f"{name}-{version}.dist-info"
    files[f"{dist}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n".encode()
    )
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = "".join(_record_line(n, d) for n, d in files.items())
    record += "".join(_record_line(i.filename, d) for i, d in raw) + record_extra
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in files.items():
            archive.writestr(entry, data)
        for info, data in raw:
            archive.writestr(info, data)
        archive.writestr(f"{dist}/RECORD", record + f"{dist}/RECORD,,\n")
    return path


def _entry(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def _only(dest: Path) -> list[str]:
    """Everything under dest's parent: what unpacking left (nothing outside dest)."""
    return sorted(str(p.relative_to(dest.parent)) for p in dest.parent.rglob("*"))


# -- the unpacker -------------------------------------------------------------


def test_a_wheel_unpacks_as_a_sys_path_entry(tmp_path):
    wheel = make_wheel(
        tmp_path / "demo-1.0-py3-none-any.whl",
        {
            "single.py": b"X = 1\n",
            "demo-1.0.data/purelib/extra/__init__.py": b"",
            "demo-1.0.data/scripts/demo-cli": b"#!/bin/sh\n",
        },
    )
    unpacked = unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")
    assert (tmp_path / "out/demo/__init__.py").read_bytes() == b"VALUE = 42\n"
    assert (tmp_path / "out/extra/__init__.py").exists()
    assert not (tmp_path / "out/demo-1.0.data").exists()
    assert unpacked.top_level == ["demo", "extra", "single"]
    assert "demo-1.0.dist-info/METADATA" in unpacked.files


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../evil.py", "'..' component"),
        ("demo/../../evil.py", "'..' component"),
        ("/etc/evil.py", "absolute path"),
        ("C:/evil.py", "absolute path"),
        ("demo\\..\\evil.py", "backslash"),
        ("demo//evil.py", "'//' component"),
        ("demo/./evil.py", "'.' component"),
        ("demo/evil\x1b.py", "control character"),
        ("demo/" + "x" * 300 + ".py", "longer than 255 bytes"),
    ],
)
def test_entries_that_would_land_outside_are_refused(tmp_path, name, reason):
    info = zipfile.ZipInfo(name)
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", raw=[(info, b"boom")])
    with pytest.raises(UnsafeWheel, match=reason):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")
    assert _only(tmp_path / "out") == ["demo-1.0-py3-none-any.whl"]


@pytest.mark.parametrize(
    ("mode", "reason"),
    [
        (stat.S_IFLNK | 0o777, "symlink"),
        (stat.S_IFCHR | 0o666, "device"),
        (stat.S_IFBLK | 0o666, "device"),
        (stat.S_IFIFO | 0o666, "FIFO"),
    ],
)
def test_symlinks_and_devices_are_refused(tmp_path, mode, reason):
    wheel = make_wheel(
        tmp_path / "demo-1.0-py3-none-any.whl", raw=[(_entry("demo/link", mode), b"/etc/passwd")]
    )
    with pytest.raises(UnsafeWheel, match=reason):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "names",
    [
        ("demo/Mod.py", "demo/mod.py"),
        (unicodedata.normalize("NFC", "demo/é.py"), unicodedata.normalize("NFD", "demo/é.py")),
        ("demo/x", "demo/x/y.py"),
        ("demo/x/y.py", "demo/X"),
    ],
)
def test_names_that_collide_after_normalization_are_refused(tmp_path, names):
    raw = [(zipfile.ZipInfo(n), b"") for n in names]
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", raw=raw)
    with pytest.raises(UnsafeWheel, match="collide|inside a file"):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")


def test_a_zip_bomb_is_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(packages, "MAX_UNPACKED_BYTES", 1 << 20)
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo/zeros": bytes(4 << 20)})
    assert wheel.stat().st_size < 64 * 1024
    with pytest.raises(UnsafeWheel, match="more than 1048576 bytes"):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")
    assert not (tmp_path / "out").exists()


def _central_entry(blob: bytes, name: bytes) -> int:
    """Offset of `name`'s record in the zip's central directory."""
    at = blob.find(b"PK\x01\x02")
    while at != -1:
        length = int.from_bytes(blob[at + 28 : at + 30], "little")
        if blob[at + 46 : at + 46 + length] == name:
            return at
        at = blob.find(b"PK\x01\x02", at + 4)
    raise AssertionError(name)


def test_a_header_that_understates_its_size_is_caught(tmp_path):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl", {"demo/data": b"A" * 5000})
    blob = bytearray(wheel.read_bytes())
    at = _central_entry(bytes(blob), b"demo/data")
    blob[at + 24 : at + 28] = (10).to_bytes(4, "little")  # uncompressed size: 10
    wheel.write_bytes(bytes(blob))
    with pytest.raises(UnsafeWheel, match="demo/data"):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")


def test_every_file_must_be_in_record_with_its_hash(tmp_path):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    with zipfile.ZipFile(wheel, "a") as archive:
        archive.writestr("demo/sneaky.py", b"import os\n")
    with pytest.raises(UnsafeWheel, match="not in RECORD"):
        unpack_wheel(wheel, tmp_path / "out", "demo", "1.0")
    wheel = make_wheel(
        tmp_path / "demo-1.0-py3-none-any.whl",
        raw=[(zipfile.ZipInfo("demo/changed.py"), b"evil = True\n")],
    )
    good = _record_line("demo/changed.py", b"evil = True\n").encode()
    bad = tmp_path / "bad" / "demo-1.0-py3-none-any.whl"
    bad.parent.mkdir()
    with zipfile.ZipFile(bad, "w") as archive, zipfile.ZipFile(wheel) as source:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("RECORD"):
                assert good in data
                data = data.replace(good, _record_line("demo/changed.py", b"ok\n").encode())
            archive.writestr(info, data)
    with pytest.raises(UnsafeWheel, match="does not match its RECORD hash"):
        unpack_wheel(bad, tmp_path / "out2", "demo", "1.0")


def test_metadata_must_name_the_pinned_project(tmp_path):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    with pytest.raises(UnsafeWheel, match="not demo 2.0"):
        unpack_wheel(wheel, tmp_path / "out", "demo", "2.0")


@pytest.mark.parametrize(
    ("filename", "ok"),
    [
        ("demo-1.0-py3-none-any.whl", True),
        ("demo-1.0-py2.py3-none-any.whl", True),
        ("demo-1.0-cp314-none-any.whl", True),
        ("demo-1.0-cp314-cp314-manylinux_2_28_x86_64.whl", False),
        ("demo-1.0-cp39-abi3-any.whl", False),
        ("demo-1.0-py2-none-any.whl", False),
        ("demo-1.0.tar.gz", False),
        ("other-1.0-py3-none-any.whl", False),
    ],
)
def test_only_pure_wheel_tags_are_taken(filename, ok):
    assert (packages.wheel_name_problem(filename, "demo", "1.0") is None) is ok


# -- the store ------------------------------------------------------------------


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("PYLON_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache" / "packages"


def _pin_of(wheel: Path) -> Pin:
    return Pin("demo", "1.0", hashlib.sha256(wheel.read_bytes()).hexdigest())


def test_a_wheel_is_stored_once_read_only_and_checked_at_each_mount(tmp_path, store):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    pin = _pin_of(wheel)
    entry = packages.add_wheel(wheel, pin)
    assert entry == store / pin.sha256
    assert packages.add_wheel(wheel, pin) == entry  # once
    module = entry / "files/demo/__init__.py"
    assert not module.stat().st_mode & 0o222
    (mount,) = packages.mounts((pin,))
    assert (mount.host, mount.guest, mount.readonly) == (
        entry / "files",
        "/.pylon-packages/demo",
        True,
    )
    assert packages.top_level_names(pin) == {"demo"}
    module.chmod(0o644)
    module.write_text("VALUE = 43\n")
    with pytest.raises(DigestMismatch, match="changed since pylon checked them") as caught:
        packages.mounts((pin,))
    assert "\n" not in str(caught.value)


def test_a_wheel_whose_hash_differs_from_the_pin_is_refused(tmp_path, store):
    wheel = make_wheel(tmp_path / "demo-1.0-py3-none-any.whl")
    pin = Pin("demo", "1.0", "0" * 64)
    with pytest.raises(DigestMismatch, match="not the sha256:000000000000… its plan trusts"):
        packages.add_wheel(wheel, pin)
    assert not (store / pin.sha256).exists()


def test_an_unsafe_wheel_leaves_nothing_in_the_store(tmp_path, store):
    wheel = make_wheel(
        tmp_path / "demo-1.0-py3-none-any.whl", raw=[(zipfile.ZipInfo("../../escape.py"), b"x")]
    )
    with pytest.raises(packages.PackageError, match="refused: entry '../../escape.py'"):
        packages.add_wheel(wheel, _pin_of(wheel))
    assert [p.name for p in store.iterdir()] == [".lock"]
    assert not (tmp_path / "escape.py").exists()


# -- specs, requirements files and pip's report (hostile input) ---------------------


@pytest.mark.parametrize(
    "spec", ["attrs", "attrs>=25,<27", "requests[socks]==2.32.3", "a; python_version>='3'"]
)
def test_plain_requirements_are_taken(spec):
    assert packages.check_spec(spec, "--with") == spec


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ("--index-url=http://evil/", "pip option"),
        ("-e .", "pip option"),
        ("demo @ https://evil.example/demo-1.0-py3-none-any.whl", "names a URL or a path"),
        ("git+https://evil.example/demo", "not a requirement"),
        ("./local/dir", "not a requirement"),
        ("demo\nother", "not a requirement"),
        ("", "not a requirement"),
    ],
)
def test_urls_paths_and_pip_options_never_reach_pip(spec, reason):
    with pytest.raises(UsageError, match=reason):
        packages.check_spec(spec, "--with")


def test_a_requirements_file_gives_specs_and_no_pip_options(tmp_path):
    good = tmp_path / "req.txt"
    good.write_text("# tools\nattrs>=25  # pinned later\n\nidna\n")
    assert packages.read_requirements(good) == ["attrs>=25", "idna"]
    for line in ("--index-url http://evil/", "-r other.txt", "--extra-index-url=http://x/"):
        bad = tmp_path / "bad.txt"
        bad.write_text(f"attrs\n{line}\n")
        with pytest.raises(UsageError, match=r"bad.txt:2: .* is a pip option"):
            packages.read_requirements(bad)
    with pytest.raises(UsageError, match="no such file"):
        packages.read_requirements(tmp_path / "missing.txt")


def _report(url: str, sha: str | None = "a" * 64, name: str = "demo") -> dict:
    info: dict = {"url": url, "archive_info": {"hashes": {"sha256": sha}} if sha else {}}
    return {
        "install": [{"metadata": {"name": name, "version": "1.0"}, "download_info": info}],
        "environment": packages.TARGET_MARKERS,
    }


def test_pips_report_is_checked_before_it_is_believed():
    pins, files = packages._pins_from_report(
        _report("https://x/demo-1.0-py3-none-any.whl"), "--with demo"
    )
    assert pins == (Pin("demo", "1.0", "a" * 64),)
    assert files == {"a" * 64: "demo-1.0-py3-none-any.whl"}
    refusals = [
        (_report("https://x/demo-1.0-cp314-cp314-linux_x86_64.whl"), "native or foreign wheel"),
        (_report("https://x/demo-1.0.tar.gz"), "not a wheel"),
        (_report("https://x/demo-1.0-py3-none-any.whl", sha=None), "without a wheel hash"),
        (_report("https://x/demo-1.0-py3-none-any.whl", sha="zz"), "64 lowercase hex"),
        (_report("https://x/demo-1.0-py3-none-any.whl", name="../x"), "not a normalized"),
        ({"install": "nope"}, "no install list"),
    ]
    for report, reason in refusals:
        with pytest.raises(packages.PackageError, match=reason):
            packages._pins_from_report(report, "--with demo")


# -- the plan's packages key ------------------------------------------------------


def _plan(packages_value: object) -> str:
    return json.dumps(
        {
            "version": "1",
            "root": "cpython",
            "components": [{"id": "cpython", "path": "builtin:cpython", "digest": None}],
            "packages": packages_value,
        }
    )


def test_the_plan_pins_packages_and_round_trips():
    entry = {"name": "attrs", "version": "25.3.0", "sha256": "b" * 64}
    plan = parse(_plan([entry]))
    assert plan.packages == (Pin("attrs", "25.3.0", "b" * 64),)
    assert plan.to_json()["packages"] == [entry]
    # Writing also pins the runtime's digest (PlanV1 has no null digests): the
    # packages come back as they were.
    assert parse(plan.dumps()).packages == plan.packages
    assert "packages" not in parse(_plan([])).to_json()


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({}, "$.packages: expected a list"),
        ([{"name": "attrs", "version": "1"}], "$.packages[0].sha256: is required"),
        ([{"name": "Attrs", "version": "1", "sha256": "b" * 64}], "$.packages[0].name:"),
        ([{"name": "attrs", "version": "1 2", "sha256": "b" * 64}], "$.packages[0].version:"),
        ([{"name": "attrs", "version": "1", "sha256": "B" * 64}], "$.packages[0].sha256:"),
        ([{"name": "attrs", "version": "1", "sha256": "b" * 64, "url": "x"}], "unknown field"),
        ([{"name": "a", "version": "1", "sha256": "b" * 64}] * 2, "$.packages[1].name: duplicate"),
    ],
)
def test_a_bad_packages_entry_names_its_json_path(value, where):
    with pytest.raises(PlanError, match=None) as caught:
        parse(_plan(value))
    assert where in str(caught.value)
    assert "\n" not in str(caught.value)


def test_the_package_mount_point_is_reserved():
    from pylon_shell.plan import guest_path_problem

    assert "reserved" in (guest_path_problem("/.pylon-packages") or "")


# -- real guests (these reach pip's index once, then the store) -----------------


def test_with_attrs_runs_and_the_guest_sees_it_read_only(pylon):
    code = (
        "import attrs, sys\n"
        "@attrs.define\n"
        "class P:\n"
        "    x: int\n"
        "    y: int = 0\n"
        "print(P(1), [p for p in sys.path if 'pylon-packages' in p])\n"
        "try:\n"
        "    open(attrs.__file__, 'a')\n"
        "except OSError as e:\n"
        "    print('read-only', type(e).__name__)\n"
        "import importlib.metadata as m\n"
        "print(m.version('attrs') == attrs.__version__)\n"
    )
    result = pylon("--no-caps", "--with", "attrs", "-c", code)
    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "P(x=1, y=0) ['/.pylon-packages/attrs']"
    assert lines[1].startswith("read-only ")
    assert lines[2] == "True"


def test_a_pinned_plan_replays_offline_and_refuses_a_changed_digest(pylon, tmp_path):
    plan = tmp_path / "attrs.json"
    built = pylon("plan", "build", "--with", "attrs", "-o", str(plan))
    assert built.status == 0, built.stderr
    (pinned,) = json.loads(plan.read_text())["packages"]
    assert pinned["name"] == "attrs" and len(pinned["sha256"]) == 64
    offline = {"PYLON_PIP_PYTHON": "/bin/false", "PIP_NO_INDEX": "1"}
    replay = pylon("--plan", str(plan), "-c", "import attrs; print(attrs.__version__)", env=offline)
    assert replay.status == 0, replay.stderr
    assert replay.stdout == f"{pinned['version']}\n"
    again = pylon("--with", "attrs", "-c", "import attrs", env=offline)  # resolved before
    assert again.status == 0, again.stderr
    data = json.loads(plan.read_text())
    data["packages"][0]["sha256"] = "0" * 64
    plan.write_text(json.dumps(data))
    offline_refusal = pylon("--plan", str(plan), "-c", "import attrs", env=offline)
    assert offline_refusal.status == 2
    assert offline_refusal.stderr.splitlines()[-1].startswith(
        f"pylon: package attrs {pinned['version']}: not in pylon's store, and pip could not"
    )
    refused = pylon("--plan", str(plan), "-c", "import attrs")  # the index has another hash
    assert refused.status == 2
    last = refused.stderr.splitlines()[-1]
    assert last.startswith(f"pylon: package attrs {pinned['version']}: ")
    assert "sha256" in last and "Traceback" not in refused.stderr


def test_trace_keeps_only_the_packages_a_script_imported(pylon, tmp_path):
    uses = tmp_path / "uses.py"
    uses.write_text("import attr\nprint('ok')\n")
    idle = tmp_path / "idle.py"
    idle.write_text("print('ok')\n")
    for script, expected in ((uses, ["attrs"]), (idle, [])):
        out = tmp_path / f"{script.stem}.json"
        result = pylon("trace", "--with", "attrs", str(script), "-o", str(out))
        assert result.status == 0, result.stderr
        names = [p["name"] for p in json.loads(out.read_text()).get("packages", [])]
        assert names == expected


def test_micropython_refuses_with_in_one_line(pylon):
    result = pylon("--mp", "--with", "attrs", "-c", "pass")
    assert result.status == 2
    assert result.stderr == f"pylon: --with: {packages.MICROPYTHON_REFUSAL}\n"


def test_a_native_only_package_is_refused_naming_it(pylon):
    result = pylon("--with", "numpy", "-c", "pass")
    assert result.status == 2, result.stderr
    last = result.stderr.splitlines()[-1]  # after the progress lines
    assert last.startswith("pylon: --with numpy: numpy has only native wheels")
    assert "Traceback" not in result.stderr


def test_the_target_markers_are_the_guests(pylon):
    code = (
        "import json, os, platform, sys\n"
        "print(json.dumps({'sys_platform': sys.platform, 'os_name': os.name,\n"
        "  'platform_machine': platform.machine(), 'platform_system': platform.system(),\n"
        "  'python_full_version': platform.python_version(),\n"
        "  'implementation_name': sys.implementation.name}))\n"
    )
    result = pylon("--no-caps", "-c", code)
    assert result.status == 0, result.stderr
    for key, value in json.loads(result.stdout).items():
        assert packages.TARGET_MARKERS[key] == value, key


@pytest.fixture(scope="module")
def https(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    import ssl

    ca = trustme.CA()
    certs = tmp_path_factory.mktemp("certs")
    ca.cert_pem.write_to_path(str(certs / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    server, port = _serve(context)
    yield Server(port, certs)
    server.shutdown()


def test_requests_fetches_from_a_granted_https_host(pylon, https):
    code = (
        "import requests\n"
        f"r = requests.get('https://{https.target}/page', verify='/certs/ca.pem', timeout=20)\n"
        "print(r.status_code, r.text, r.headers['X-Pylon-Test'])\n"
    )
    args = ("--dir", f"{https.certs}:/certs:ro", "--with", "requests", "-c", code)
    result = pylon("--host", https.target, *args)
    assert result.status == 0, result.stderr
    assert result.stdout == "200 hello /page yes\n"
    refused = pylon(*args)  # no --host: the tls cap refuses, in one line
    assert refused.status == 1
    assert "tls" in refused.stderr.splitlines()[-1]
