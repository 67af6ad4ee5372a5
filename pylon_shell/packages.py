"""Packages from PyPI for the CPython guest: resolved and downloaded by pip, checked,
unpacked once into a content-addressed store, mounted read-only on the guest's sys.path.

Everything that comes from an index is hostile input: the requirement specs a user
(or a requirements file) gives are checked before pip sees them, pip's report is
checked before it is believed, every wheel's SHA-256 is compared with the one pip
reported (or the plan pins), its file name must carry a pure-Python tag, and its
zip is unpacked by `unpack_wheel` below, which writes nothing outside the entry it
builds. Nothing from a wheel or an sdist ever runs on the host: pip resolves with
`--only-binary=:all:`, so it never builds one.

The store, in the user cache dir:

    <cache>/packages/<sha256>/files/          the unpacked wheel (read-only files)
    <cache>/packages/<sha256>/manifest.json   name, version, top-level names, files; written last
    <cache>/packages/resolved/<key>.json      the pins a set of --with specs resolved to

A warm start reads one resolution file and each entry's manifest and stats its
files (no pip, no hashing of the tree): what changed since unpacking (a size or a
modification time, a missing file) refuses to start with one line.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pylon_shell import paths
from pylon_shell.errors import DigestMismatch, PylonError, UsageError

if TYPE_CHECKING:
    from pylon_shell.options import Preopen
    from pylon_shell.progress import Progress

#: Where the guest sees package directories (one preopen per package).
GUEST_ROOT = "/.pylon-packages"
#: The store's layout version: a change makes every entry be unpacked again.
STORE_RECIPE = 1
#: What the wasm guest is, for pip's environment markers (checked against the
#: guest itself by tests/test_packages.py).
TARGET_MARKERS = {
    "implementation_name": "cpython",
    "implementation_version": "3.14.0",
    "os_name": "posix",
    "platform_machine": "wasm32",
    "platform_release": "0.0.0",
    "platform_system": "wasi",
    "platform_version": "0.0.0",
    "python_full_version": "3.14.0",
    "platform_python_implementation": "CPython",
    "python_version": "3.14",
    "sys_platform": "wasi",
}
#: pip's target: CPython 3.14, pure-Python wheels only.
PIP_TARGET = [
    "--only-binary=:all:",
    "--platform",
    "any",
    "--implementation",
    "cp",
    "--python-version",
    "3.14",
    "--abi",
    "none",
]
#: Interpreter tags a `none-any` wheel may carry and the guest still import.
PURE_INTERPRETERS = frozenset({"py3", "cp314", *(f"py3{minor}" for minor in range(15))})
PURE_HINT = "pylon takes pure-Python wheels (py3-none-any) only"

#: Bounds on one wheel: its download, its unpacked bytes and its files.
MAX_WHEEL_BYTES = 256 * 1024 * 1024
MAX_UNPACKED_BYTES = 512 * 1024 * 1024
MAX_FILES = 50_000
MAX_PATH_BYTES = 1024
MAX_DEPTH = 48
MAX_PACKAGES = 256
MAX_REQUIREMENTS_BYTES = 1024 * 1024

#: NAME[extras] and version clauses, nothing else: taken without a parser.
_SIMPLE_SPEC = re.compile(
    r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
    r"(?:\[[A-Za-z0-9._-]+(?:,[A-Za-z0-9._-]+)*\])?"
    r"(?:(?:==|!=|<=|>=|<|>|~=)[0-9][A-Za-z0-9.*+!_-]{0,63}"
    r"(?:,(?:==|!=|<=|>=|<|>|~=)[0-9][A-Za-z0-9.*+!_-]{0,63})*)?\Z"
)
_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,98}[a-z0-9])?\Z")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")


MICROPYTHON_REFUSAL = (
    "packages from PyPI need CPython (--cp): MicroPython cannot import them "
    "(they are written for CPython and its stdlib)"
)


def progress_for(progress: Progress | None) -> Progress | None:
    """A progress display for fetching packages: on the terminal when the caller
    shows one there (without the runtime build's first-run line), else none."""
    from pylon_shell.progress import TerminalProgress

    return TerminalProgress(intro=None) if isinstance(progress, TerminalProgress) else None


class PackageError(PylonError):
    """A package cannot be resolved, fetched or used; the message names it."""

    status = 2


@dataclass(frozen=True)
class Pin:
    """One package of a plan: the exact wheel, by its SHA-256."""

    name: str
    version: str
    sha256: str

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


def canonical_name(name: str) -> str:
    """PEP 503's normalized project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pin_problem(name: Any, version: Any, sha256: Any) -> str | None:
    """Why these cannot be a package pin (the plan's validation uses it), or None."""
    if not isinstance(name, str) or not _NAME.match(name):
        return f"name {_shown(name)} is not a normalized project name (lowercase, digits, -)"
    if not isinstance(version, str) or not _VERSION.match(version):
        return f"version {_shown(version)} of {name} is not a version"
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        return f"sha256 of {name} must be 64 lowercase hex digits"
    return None


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def store_dir() -> Path:
    return paths.cache_dir() / "packages"


def entry_dir(sha256: str) -> Path:
    assert _SHA256.match(sha256)
    return store_dir() / sha256


def guest_path(pin: Pin) -> str:
    return f"{GUEST_ROOT}/{pin.name}"


# -- requirement specs (hostile: a command line, a requirements file) ---------


def check_spec(spec: str, where: str) -> str:
    """`spec` if it is a plain requirement (NAME[extras] [specifier] [; marker]),
    else UsageError: no URL, path, VCS reference or pip option ever reaches pip."""
    text = spec.strip()
    if _SIMPLE_SPEC.match(text):
        return text  # the common case, without importing packaging (start-up time)
    from packaging.requirements import InvalidRequirement, Requirement

    if not text or any(not c.isprintable() for c in text) or len(text) > 1000:
        raise UsageError(
            f"{where}: {_shown(spec)} is not a requirement such as attrs or 'attrs>=25'"
        )
    if text.startswith("-"):
        raise UsageError(
            f"{where}: {_shown(spec)} is a pip option; pylon passes none to pip "
            "(pip's own configuration chooses the index)"
        )
    try:
        requirement = Requirement(text)
    except InvalidRequirement as error:
        reason = str(error).splitlines()[0]
        raise UsageError(f"{where}: {_shown(spec)} is not a requirement ({reason})") from None
    if requirement.url:
        raise UsageError(
            f"{where}: {_shown(spec)} names a URL or a path; pylon takes packages from "
            "pip's index only (NAME or NAME==VERSION)"
        )
    return text


def read_requirements(path: Path) -> list[str]:
    """The requirement specs of a requirements file: one a line, `#` comments;
    pip options (-r, -i, --index-url, -e, ...) are refused, not obeyed."""
    from pylon_shell.files import NotRegular, TooLarge, read_regular_file

    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(path))
    try:
        text = read_regular_file(path, MAX_REQUIREMENTS_BYTES, what="requirements file").decode(
            "utf-8"
        )
    except NotRegular as error:
        raise UsageError(f"--requirements {shown}: {error}") from None
    except TooLarge:
        raise UsageError(f"--requirements {shown}: larger than 1 MiB") from None
    except FileNotFoundError:
        raise UsageError(f"--requirements {shown}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise UsageError(f"--requirements {shown}: cannot be read ({reason})") from None
    specs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", line).strip()
        if not line:
            continue
        if line.endswith("\\"):
            raise UsageError(f"{shown}:{number}: line continuations are not supported")
        specs.append(check_spec(line, f"{shown}:{number}"))
    return specs


# -- pip ------------------------------------------------------------------------

#: Runs pip with its environment markers evaluated for the guest (pip has no
#: option for that: --python-version moves tags and Requires-Python only).
_PIP_WRAPPER = """\
import json, sys
env = json.loads(sys.argv[1])
try:
    from pip._vendor.packaging import markers
    markers.default_environment = lambda: dict(env)
    from pip._internal.models import installation_report
    installation_report.default_environment = markers.default_environment
except Exception:
    pass
from pip._internal.cli.main import main
sys.argv = ["pip", *sys.argv[2:]]
sys.exit(main(sys.argv[1:]))
"""


def _pip(args: list[str]) -> tuple[int, str]:
    """Run pip (that of PYLON_PIP_PYTHON, else pylon's own Python) with its own
    index configuration; its status and stderr."""
    import subprocess

    python = os.environ.get("PYLON_PIP_PYTHON") or sys.executable
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PIP_REQUIRE_VIRTUALENV": "0",
    }
    command = [python, "-c", _PIP_WRAPPER, json.dumps(TARGET_MARKERS), *args]
    try:
        done = subprocess.run(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=1800,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PackageError(f"cannot run pip ({error})") from None
    if done.returncode != 0 and "No module named pip" in done.stderr:
        raise PackageError(f"{python} has no pip; pylon needs pip to fetch packages")
    return done.returncode, done.stderr


def _pip_failure(stderr: str, what: str) -> PackageError:
    """pip's failure as one line, explaining a requirement no pure wheel satisfies."""
    missing = re.findall(r"No matching distribution found for (\S+)", stderr)
    if missing:
        return _no_pure_wheel(missing[-1], stderr, what)
    errors = [line.strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
    detail = errors[-1][6:].strip() if errors else (stderr.strip().splitlines() or ["failed"])[-1]
    return PackageError(f"{what}: pip failed: {_oneline(detail)}")


def _oneline(text: str) -> str:
    text = "".join(c if c.isprintable() else " " for c in text)
    return text if len(text) <= 300 else text[:297] + "..."


def _no_pure_wheel(requirement: str, stderr: str, what: str) -> PackageError:
    """Why pip found nothing for `requirement`: only native wheels, only an sdist,
    no version that fits, or no such project (asked of the index, never built)."""
    name = re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0]
    versions = re.search(r"\(from versions: ([^)]*)\)", stderr)
    if versions and versions.group(1).strip() not in ("", "none"):
        return PackageError(
            f"{what}: no pure-Python wheel of {_oneline(requirement)} fits CPython 3.14 "
            f"(pure versions: {_oneline(versions.group(1))}); {PURE_HINT}"
        )
    native, _ = _pip(["index", "versions", "--only-binary=:all:", "--", name])
    if native == 0:
        why = "has only native wheels, which the wasm guest cannot load"
    else:
        anything, _ = _pip(["index", "versions", "--", name])
        why = (
            "has no wheel for it, only an sdist, which pylon never builds"
            if anything == 0
            else "is not on pip's index"
        )
    dependency = "" if what.endswith(name) else f" (needed by {what.split(' ', 1)[-1]})"
    return PackageError(f"{what}: {name}{dependency} {why}; {PURE_HINT}")


def resolve(
    specs: list[str], pinned: tuple[Pin, ...] = (), progress: Progress | None = None
) -> tuple[Pin, ...]:
    """The pins `specs` (plus the plan's own pins) resolve to, each unpacked in the store.

    A set resolved before is remembered: it is reused without pip as long as
    every pin is in the store."""
    what = "--with " + " ".join(specs)
    key_data = {
        "specs": specs,
        "pinned": [[p.name, p.version, p.sha256] for p in pinned],
        "target": [PIP_TARGET, TARGET_MARKERS, STORE_RECIPE],
    }
    key = hashlib.sha256(json.dumps(key_data, sort_keys=True).encode()).hexdigest()
    remembered = store_dir() / "resolved" / f"{key}.json"
    pins = _read_resolution(remembered)
    if pins is not None and all(_manifest(p.sha256) is not None for p in pins):
        return pins
    progress = progress or _quiet()
    progress.step(1, 3, f"resolving {' '.join(specs)} with pip")
    pins, urls = _resolve_with_pip([*specs, *(f"{p.name}=={p.version}" for p in pinned)], what)
    for pin in pinned:
        chosen = next((p for p in pins if p.name == pin.name), None)
        if chosen is not None and chosen.sha256 != pin.sha256:
            raise DigestMismatch(
                f"package {pin.label}: the index serves a wheel with sha256:{chosen.sha256[:12]}…, "
                f"not the sha256:{pin.sha256[:12]}… the plan trusts"
            )
    ensure(pins, progress, urls=urls, steps=(2, 3))
    _write_json(remembered, [[p.name, p.version, p.sha256] for p in pins])
    progress.finish("packages: " + ", ".join(p.label for p in pins))
    return pins


def _quiet() -> Progress:
    from pylon_shell.progress import QuietProgress

    return QuietProgress()


def _read_resolution(path: Path) -> tuple[Pin, ...] | None:
    try:
        items = json.loads(path.read_text())
        pins = tuple(Pin(*item) for item in items)
    except (OSError, ValueError, TypeError):
        return None
    if any(pin_problem(p.name, p.version, p.sha256) for p in pins):
        return None
    return pins


def _resolve_with_pip(requirements: list[str], what: str) -> tuple[tuple[Pin, ...], dict[str, str]]:
    """pip's resolution of `requirements` for the guest: the pins and each wheel's file name."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="pylon-resolve-") as work:
        report = Path(work) / "report.json"
        status, stderr = _pip(
            [
                "install",
                "--dry-run",
                "--ignore-installed",
                "--quiet",
                "--report",
                str(report),
                *PIP_TARGET,
                "--",
                *requirements,
            ]
        )
        if status != 0:
            raise _pip_failure(stderr, what)
        try:
            data = json.loads(report.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PackageError(f"{what}: pip wrote no readable report ({error})") from None
    return _pins_from_report(data, what)


def _pins_from_report(data: Any, what: str) -> tuple[tuple[Pin, ...], dict[str, str]]:
    """The pins of a pip installation report, each checked: a name, a version, a
    SHA-256 from the index, and a wheel whose tags the guest can import."""
    if not isinstance(data, dict) or not isinstance(data.get("install"), list):
        raise PackageError(f"{what}: pip's report has no install list")
    environment = data.get("environment")
    if isinstance(environment, dict) and environment.get("sys_platform") != "wasi":
        print(
            "pylon: warning: pip evaluated environment markers for this host, not for the "
            "wasm guest; the set may hold packages the guest does not need",
            file=sys.stderr,
        )
    pins: list[Pin] = []
    files: dict[str, str] = {}
    if len(data["install"]) > MAX_PACKAGES:
        raise PackageError(f"{what}: resolves to more than {MAX_PACKAGES} packages")
    for item in data["install"]:
        try:
            metadata = item["metadata"]
            name = canonical_name(str(metadata["name"]))
            version = str(metadata["version"])
            info = item["download_info"]
            url = str(info["url"])
            sha256 = str(info["archive_info"]["hashes"]["sha256"]).lower()
        except (KeyError, TypeError):
            raise PackageError(
                f"{what}: pip's report names a package without a wheel hash"
            ) from None
        problem = pin_problem(name, version, sha256)
        if problem:
            raise PackageError(f"{what}: pip's report: {problem}")
        filename = url.rsplit("/", 1)[-1].split("#", 1)[0]
        tag_problem = wheel_name_problem(filename, name, version)
        if tag_problem:
            raise PackageError(f"{what}: {name} {version}: {tag_problem}; {PURE_HINT}")
        pins.append(Pin(name, version, sha256))
        files[sha256] = filename
    return tuple(sorted(pins, key=lambda p: p.name)), files


def wheel_name_problem(filename: str, name: str, version: str) -> str | None:
    """Why a wheel of this file name is not one of `name` `version` the guest can import."""
    from urllib.parse import unquote

    filename = unquote(filename)
    if not filename.endswith(".whl"):
        return f"{_shown(filename)} is not a wheel (pylon never builds an sdist)"
    parts = filename[:-4].split("-")
    if len(parts) not in (5, 6):
        return f"{_shown(filename)} is not a wheel file name"
    interpreters, abis, platforms = (set(p.split(".")) for p in parts[-3:])
    if canonical_name(parts[0]) != name:
        return f"{_shown(filename)} is not a wheel of {name}"
    if abis != {"none"} or platforms != {"any"} or not interpreters & PURE_INTERPRETERS:
        return f"{_shown(filename)} is a native or foreign wheel, which the wasm guest cannot load"
    return None


# -- fetching into the store ------------------------------------------------------


def ensure(
    pins: tuple[Pin, ...],
    progress: Progress | None = None,
    *,
    urls: dict[str, str] | None = None,
    steps: tuple[int, int] = (1, 2),
) -> None:
    """Every pin unpacked in the store: those missing are downloaded by pip (each
    by its name, version and hash; no resolution) and unpacked."""
    missing = [p for p in pins if _manifest(p.sha256) is None]
    if not missing:
        return
    import tempfile

    progress = progress or _quiet()
    first, total = steps
    progress.step(first, total, f"downloading {', '.join(p.label for p in missing)}")
    store = store_dir()
    store.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pylon-wheels-", dir=store) as work:
        requirements = Path(work) / "pins.txt"
        requirements.write_text(
            "".join(f"{p.name}=={p.version} --hash=sha256:{p.sha256}\n" for p in missing)
        )
        downloads = Path(work) / "wheels"
        status, stderr = _pip(
            [
                "download",
                "--no-deps",
                "--require-hashes",
                "--quiet",
                *PIP_TARGET,
                "--dest",
                str(downloads),
                "-r",
                str(requirements),
            ]
        )
        if status != 0:
            if "DO NOT MATCH THE HASHES" in stderr:
                raise DigestMismatch(
                    f"package {missing[0].label if len(missing) == 1 else 'set'}: the wheel "
                    "pip downloaded does not match the sha256 the plan trusts; "
                    + _oneline(stderr.strip().splitlines()[-1])
                )
            errors = [line[6:].strip() for line in stderr.splitlines() if line.startswith("ERROR:")]
            detail = errors[-1] if errors else f"pip exited with status {status}"
            raise PackageError(
                f"package {', '.join(p.label for p in missing)}: not in pylon's store, and pip "
                f"could not download it ({_oneline(detail)})"
            )
        found = {}
        for wheel in sorted(downloads.iterdir()) if downloads.is_dir() else []:
            if wheel.is_file() and not wheel.is_symlink():
                found[_sha256_file(wheel, MAX_WHEEL_BYTES)] = wheel
        progress.step(first + 1 if first < total else first, total, "unpacking")
        for pin in missing:
            downloaded = found.get(pin.sha256)
            if downloaded is None:
                raise DigestMismatch(
                    f"package {pin.label}: pip downloaded no wheel with the sha256:"
                    f"{pin.sha256[:12]}… the plan trusts"
                )
            add_wheel(downloaded, pin)


def _sha256_file(path: Path, limit: int) -> str:
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb") as source:
        while chunk := source.read(1 << 20):
            read += len(chunk)
            if read > limit:
                raise PackageError(f"{path.name}: the wheel is larger than {limit} bytes")
            digest.update(chunk)
    return digest.hexdigest()


def add_wheel(wheel: Path, pin: Pin) -> Path:
    """Unpack `wheel` (whose SHA-256 must be the pin's) into the store; its entry.

    The wheel is unpacked into a temporary directory beside the entry, its
    manifest written last, and the whole renamed into place under the store's
    lock, so a crash or a second pylon never sees half an entry."""
    import fcntl
    import tempfile

    found = _sha256_file(wheel, MAX_WHEEL_BYTES)
    if found != pin.sha256:
        raise DigestMismatch(
            f"package {pin.label}: the wheel {wheel.name} has sha256:{found[:12]}…, "
            f"not the sha256:{pin.sha256[:12]}… its plan trusts"
        )
    problem = wheel_name_problem(wheel.name, pin.name, pin.version)
    if problem:
        raise PackageError(f"package {pin.label}: {problem}; {PURE_HINT}")
    store = store_dir()
    store.mkdir(parents=True, exist_ok=True)
    target = entry_dir(pin.sha256)
    with open(store / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _manifest(pin.sha256) is not None:
            return target
        _remove_tree(target)  # a damaged entry (no manifest)
        work = Path(tempfile.mkdtemp(prefix=f".unpack-{pin.sha256[:12]}-", dir=store))
        try:
            files = work / "files"
            try:
                unpacked = unpack_wheel(wheel, files, pin.name, pin.version)
            except UnsafeWheel as error:
                raise PackageError(f"package {pin.label}: refused: {error}") from None
            manifest = {
                "recipe": STORE_RECIPE,
                "name": pin.name,
                "version": pin.version,
                "sha256": pin.sha256,
                "wheel": wheel.name,
                "top_level": unpacked.top_level,
                "files": _stat_files(files, unpacked.files),
            }
            _make_readonly(files)
            _write_json(work / "manifest.json", manifest)
            os.replace(work, target)
        except BaseException:
            _remove_tree(work)
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps(data, separators=(",", ":")))
    os.replace(temporary, path)


def _stat_files(root: Path, names: list[str]) -> list[list[Any]]:
    out = []
    for name in names:
        info = os.stat(root / name, follow_symlinks=False)
        out.append([name, info.st_size, info.st_mtime_ns])
    return out


def _make_readonly(root: Path) -> None:
    for directory, _dirnames, filenames in os.walk(root):
        for name in filenames:
            os.chmod(os.path.join(directory, name), 0o444, follow_symlinks=False)
    for directory, _dirs, _files in os.walk(root, topdown=False):
        os.chmod(directory, 0o555)


def _remove_tree(path: Path) -> None:
    import shutil

    if not path.exists() and not path.is_symlink():
        return
    if path.is_dir() and not path.is_symlink():
        for directory, _dirs, _files in os.walk(path):
            try:
                os.chmod(directory, 0o755)
            except OSError:
                pass
    shutil.rmtree(path, ignore_errors=True)
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)


def _manifest(sha256: str) -> dict[str, Any] | None:
    """The entry's manifest, if the entry is complete and of this recipe."""
    try:
        data = json.loads((entry_dir(sha256) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("recipe") != STORE_RECIPE:
        return None
    if data.get("sha256") != sha256:
        return None
    return data


def top_level_names(pin: Pin) -> frozenset[str] | None:
    """The top-level modules a package provides, or None if it is not in the store."""
    manifest = _manifest(pin.sha256)
    if manifest is None:
        return None
    return frozenset(str(name) for name in manifest.get("top_level", []))


def mounts(pins: tuple[Pin, ...], progress: Progress | None = None) -> list[Preopen]:
    """Read-only preopens of `pins` for the guest: each fetched if missing, each
    checked against its pin and for changes since it was unpacked."""
    from pylon_shell.options import Preopen

    if not pins:
        return []
    ensure(pins, progress)
    out = []
    for pin in pins:
        manifest = _manifest(pin.sha256)
        if manifest is None:
            raise PackageError(f"package {pin.label}: not in the store after fetching it")
        if manifest.get("name") != pin.name or manifest.get("version") != pin.version:
            raise DigestMismatch(
                f"package {pin.label}: the wheel with sha256:{pin.sha256[:12]}… is "
                f"{manifest.get('name')} {manifest.get('version')}, not what the plan says"
            )
        files = entry_dir(pin.sha256) / "files"
        changed = _changed(files, manifest.get("files"))
        if changed:
            raise DigestMismatch(
                f"package {pin.label}: its unpacked files in {entry_dir(pin.sha256)} changed "
                f"since pylon checked them ({changed}); remove that directory to fetch it again"
            )
        out.append(Preopen(files, guest_path(pin), True))
    return out


def _changed(root: Path, files: Any) -> str | None:
    """What differs between `root` and the manifest's file list, or None."""
    if not isinstance(files, list):
        return "no file list"
    for item in files:
        try:
            name, size, mtime = item
            info = os.stat(os.path.join(root, name), follow_symlinks=False)
        except (OSError, TypeError, ValueError):
            return f"{_shown(item[0] if isinstance(item, list) and item else item)} is missing"
        if not stat.S_ISREG(info.st_mode) or info.st_size != size or info.st_mtime_ns != mtime:
            return f"{name} was modified"
    return None


# -- unpacking an untrusted wheel --------------------------------------------------


class UnsafeWheel(Exception):
    """The wheel is refused; the message says which entry and why."""


@dataclass
class Unpacked:
    files: list[str]
    top_level: list[str]


def _check_entry_name(name: str) -> list[str]:
    """The parts of a zip entry's name, or UnsafeWheel if it could land outside."""
    if not name or any(not c.isprintable() for c in name) or "\\" in name:
        raise UnsafeWheel(f"entry {_shown(name)} has a control character or a backslash")
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise UnsafeWheel(f"entry {_shown(name)} is an absolute path")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_PATH_BYTES:
        raise UnsafeWheel(f"entry {_shown(name)} has a name longer than {MAX_PATH_BYTES} bytes")
    parts = name.rstrip("/").split("/")
    if len(parts) > MAX_DEPTH:
        raise UnsafeWheel(f"entry {_shown(name)} is nested deeper than {MAX_DEPTH}")
    for part in parts:
        if part in ("", ".", ".."):
            raise UnsafeWheel(f"entry {_shown(name)} has a '{part or '//'}' component")
        if len(part.encode("utf-8", "surrogateescape")) > 255:
            raise UnsafeWheel(f"entry {_shown(name)} has a component longer than 255 bytes")
    return parts


def _record_hashes(archive: Any, dist_info: str) -> dict[str, tuple[str, int | None]]:
    """RECORD's hash and size of each file (the wheel's own integrity list)."""
    import csv
    import io

    try:
        info = archive.getinfo(f"{dist_info}/RECORD")
    except KeyError:
        raise UnsafeWheel(f"it has no {dist_info}/RECORD") from None
    if info.file_size > 16 * 1024 * 1024:
        raise UnsafeWheel("its RECORD is larger than 16 MiB")
    text = archive.read(info).decode("utf-8", "replace")
    out: dict[str, tuple[str, int | None]] = {}
    for row in csv.reader(io.StringIO(text)):
        if not row:
            continue
        path = row[0]
        digest = row[1] if len(row) > 1 else ""
        size = row[2] if len(row) > 2 else ""
        out[path] = (digest, int(size) if size.isdigit() else None)
    return out


def unpack_wheel(wheel: Path, dest: Path, name: str, version: str) -> Unpacked:
    """Unpack `wheel` into the new directory `dest` as a sys.path entry, or raise
    UnsafeWheel. Only regular files are written, each by a name checked part by
    part, created exclusively in directories made here (so no symlink is ever
    followed), within MAX_UNPACKED_BYTES and MAX_FILES; every file must match its
    hash in RECORD. `<dist>.data/purelib` and `platlib` join the top; the other
    `.data` parts (scripts, headers, data) are left out."""
    import base64
    import unicodedata
    import zipfile

    try:
        archive = zipfile.ZipFile(wheel)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnsafeWheel(f"not a zip archive ({error})") from None
    with archive:
        infos = archive.infolist()
        if len(infos) > MAX_FILES:
            raise UnsafeWheel(f"it has more than {MAX_FILES} entries")
        dist_infos = {
            info.filename.split("/", 1)[0]
            for info in infos
            if info.filename.split("/", 1)[0].endswith(".dist-info")
        }
        wanted = [
            d
            for d in dist_infos
            if canonical_name(d[: -len(".dist-info")].rsplit("-", 1)[0]) == name
        ]
        if len(wanted) != 1:
            raise UnsafeWheel(f"it has {len(wanted)} .dist-info directories for {name}, not one")
        dist_info = wanted[0]
        data_dir = dist_info[: -len(".dist-info")] + ".data"
        record = _record_hashes(archive, dist_info)
        declared = 0
        plan: list[tuple[Any, str]] = []
        seen: dict[str, str] = {}
        dirs: set[str] = set()
        for info in infos:
            parts = _check_entry_name(info.filename)
            mode = info.external_attr >> 16
            kind = stat.S_IFMT(mode)
            if info.is_dir():
                if kind not in (0, stat.S_IFDIR):
                    raise UnsafeWheel(f"entry {_shown(info.filename)} is not a directory or file")
                continue
            if kind == stat.S_IFLNK:
                raise UnsafeWheel(f"entry {_shown(info.filename)} is a symlink")
            if kind not in (0, stat.S_IFREG):
                raise UnsafeWheel(f"entry {_shown(info.filename)} is a device, FIFO or socket")
            if info.flag_bits & 0x1:
                raise UnsafeWheel(f"entry {_shown(info.filename)} is encrypted")
            if parts[0] == data_dir:
                if len(parts) < 3:
                    continue
                if parts[1] not in ("purelib", "platlib"):
                    continue  # scripts, headers, data: nothing the guest imports
                parts = parts[2:]
            elif parts[0].endswith(".data"):
                raise UnsafeWheel(f"entry {_shown(info.filename)} is in a foreign .data directory")
            target = "/".join(parts)
            key = unicodedata.normalize("NFC", target).casefold()
            if key in seen or key in dirs:
                raise UnsafeWheel(
                    f"entries {_shown(seen.get(key, target))} and {_shown(info.filename)} "
                    "collide (same name after case and Unicode normalization)"
                )
            for depth in range(1, len(parts)):
                prefix = unicodedata.normalize("NFC", "/".join(parts[:depth])).casefold()
                if prefix in seen:
                    raise UnsafeWheel(f"entry {_shown(info.filename)} is inside a file")
                dirs.add(prefix)
            seen[key] = info.filename
            declared += info.file_size
            if declared > MAX_UNPACKED_BYTES:
                raise UnsafeWheel(f"it unpacks to more than {MAX_UNPACKED_BYTES} bytes")
            plan.append((info, target))

        dest.mkdir(mode=0o755)
        written = 0
        files: list[str] = []
        top: dict[str, None] = {}
        exempt = {f"{dist_info}/RECORD", f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
        for info, target in plan:
            parts = target.split("/")
            directory = dest
            for part in parts[:-1]:
                directory = directory / part
                try:
                    os.mkdir(directory, 0o755)
                except FileExistsError:
                    pass
                if not stat.S_ISDIR(os.lstat(directory).st_mode):
                    raise UnsafeWheel(f"entry {_shown(info.filename)} is inside a file")
            expected = record.get(info.filename)
            if expected is None and info.filename not in exempt:
                raise UnsafeWheel(f"entry {_shown(info.filename)} is not in RECORD")
            digest = hashlib.sha256()
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
            fd = os.open(directory / parts[-1], flags, 0o644)
            size = 0
            try:
                with archive.open(info) as source, os.fdopen(fd, "wb") as out:
                    while chunk := source.read(1 << 16):
                        size += len(chunk)
                        written += len(chunk)
                        if size > info.file_size or written > MAX_UNPACKED_BYTES:
                            raise UnsafeWheel(
                                f"entry {_shown(info.filename)} holds more than it declares"
                            )
                        digest.update(chunk)
                        out.write(chunk)
            except (
                zipfile.BadZipFile,
                OSError,
                EOFError,
                ValueError,
                NotImplementedError,
            ) as error:
                raise UnsafeWheel(
                    f"entry {_shown(info.filename)} cannot be read ({error})"
                ) from None
            if expected is not None and info.filename not in exempt:
                want, want_size = expected
                got = "sha256=" + base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
                if want != got or (want_size is not None and want_size != size):
                    raise UnsafeWheel(
                        f"entry {_shown(info.filename)} does not match its RECORD hash"
                    )
            files.append(target)
            first = parts[0]
            if not first.endswith(".dist-info"):
                if len(parts) > 1:
                    top[first] = None
                elif first.endswith(".py"):
                    top[first[:-3]] = None
        _check_metadata(dest / dist_info, name, version)
    return Unpacked(files, sorted(top))


def _check_metadata(dist_info: Path, name: str, version: str) -> None:
    """METADATA names the project and version the pin says."""
    try:
        with open(dist_info / "METADATA", "rb") as source:
            head = source.read(64 * 1024).decode("utf-8", "replace")
    except OSError:
        raise UnsafeWheel("it has no METADATA") from None
    found = {}
    for line in head.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        if key in ("Name", "Version") and key not in found:
            found[key] = value.strip()
    if canonical_name(found.get("Name", "")) != name or found.get("Version") != version:
        raise UnsafeWheel(
            f"its METADATA says {found.get('Name')} {found.get('Version')}, not {name} {version}"
        )
