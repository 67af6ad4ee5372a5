"""The plan: which runtime, which components (trusted by SHA-256), which caps, what it may see.

The shape is pylon's own (`version`, `root`, `components` with digests as 32
byte values, `bindings`, `secrets`, `policy`), plus the fields the launcher
needs: `name`, `runtime`, a component `path`, `preopens`, `env`, and limits
inside `policy`. See docs/plan-format.md.

Validation is written out here rather than with a schema library: it runs on
every start, and every error must name the JSON path of the problem in one
line.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import re
import stat
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.hosts import HostSpecError, parse_pattern
from pylon_shell.errors import PlanError, UsageError
from pylon_shell.runtimes.base import Preopen, RuntimeOptions

if TYPE_CHECKING:
    # pylon_shell.packages (resolution, the store, the wheel unpacker) is
    # imported only by a plan that pins packages: every start reads plans.
    from pylon_shell.packages import Pin

PLAN_VERSION = "1"
RUNTIMES = ("cpython", "micropython")
#: The provider components pylon builds, by the cap they serve.
PROVIDER_COMPONENTS = {"sqlite": "sqlite-provider"}
#: Components pylon builds or ships itself: the runtimes and the provider components.
BUILTIN_COMPONENTS = (*RUNTIMES, *PROVIDER_COMPONENTS.values())
BUILTIN_PREFIX = "builtin:"
MAX_PLAN_BYTES = 1024 * 1024
#: The largest component file a plan may name (the CPython component is ~40 MB).
MAX_COMPONENT_BYTES = 1024 * 1024 * 1024
#: The smallest --memory (MiB) each runtime starts in, measured with `pylon -c pass`:
#: CPython's component declares 216 pages (13.5 MiB) of linear memory at least;
#: MicroPython needs its 8 MiB of stacks and static data beside a 9 MiB heap (at
#: 16 the session's 8 MiB reply buffer does not fit).
MIN_MEMORY_MIB = {"cpython": 14, "micropython": 17}
RUNTIME_NAMES = {"cpython": "CPython", "micropython": "MicroPython"}
_ID = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_NUMBER_LIST = re.compile(r"\[((?:\s*\d+,)*\s*\d+)\s*\]")
_ENV_KEY = re.compile(r"^[^=\x00]+$")


@dataclass(frozen=True)
class Component:
    id: str
    path: str
    #: SHA-256 as 64 hex digits; None only for pylon's builtin runtimes, whose
    #: digest comes from the build pylon made itself.
    digest: str | None = None

    @property
    def builtin(self) -> str | None:
        return self.path[len(BUILTIN_PREFIX) :] if self.path.startswith(BUILTIN_PREFIX) else None


@dataclass(frozen=True)
class Binding:
    consumer_id: str
    import_name: str
    provider_id: str
    export_name: str


@dataclass(frozen=True)
class Plan:
    name: str
    runtime: str
    root: str
    components: tuple[Component, ...]
    bindings: tuple[Binding, ...] = ()
    secrets: tuple[str, ...] = ()
    determinism: str = "none"
    capabilities: tuple[str, ...] = ()
    timeout_seconds: float | None = None
    memory_mib: int | None = None
    preopens: tuple[Preopen, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    #: Which provider serves a cap, where the plan chooses (e.g. sqlite: component).
    providers: tuple[tuple[str, str], ...] = ()
    #: The host:port patterns the net and tls caps may reach.
    hosts: tuple[str, ...] = ()
    #: Packages from PyPI on the guest's sys.path, each a wheel pinned by SHA-256.
    packages: tuple[Pin, ...] = ()
    version: str = PLAN_VERSION
    #: Where it was loaded from, for messages; not part of the JSON.
    source: str | None = field(default=None, compare=False)
    #: Started from a plan pylon ships: saving it never writes back there.
    shipped: bool = field(default=False, compare=False)

    @property
    def root_component(self) -> Component:
        return next(c for c in self.components if c.id == self.root)

    def builtin_component(self, name: str) -> Component | None:
        """The plan's entry for one of pylon's own components, if it names it."""
        return next((c for c in self.components if c.builtin == name), None)

    def runtime_options(
        self, *, inherit_stdin: bool = False, granted: frozenset[str] | None = None
    ) -> RuntimeOptions:
        """Options for the runtime. WASI caps (fs, env) apply only when granted."""
        granted = frozenset(self.capabilities) if granted is None else granted
        return RuntimeOptions(
            preopens=list(self.preopens) if "fs" in granted else [],
            env=dict(self.env) if "env" in granted else {},
            timeout=self.timeout_seconds,
            memory_mib=self.memory_mib,
            inherit_stdin=inherit_stdin,
        )

    def with_runtime(self, runtime: str) -> Plan:
        """The same plan on the other interpreter (its root component swapped).

        A plan that already names that runtime's component keeps its entry, and
        so the digest it pins: a replay with --mp checks it like the root's."""
        root = self.builtin_component(runtime) or Component(runtime, BUILTIN_PREFIX + runtime)
        others = tuple(c for c in self.components if c.id not in (self.root, root.id))
        return replace(self, runtime=runtime, root=root.id, components=(root,) + others)

    def with_provider_components(self) -> Plan:
        """The plan naming the provider components its granted caps load, each
        bound to the root's import of the cap's interface, so `plan build` pins
        their digests and a replay checks them."""
        from pylon_shell.caps.catalog import CAPS, choose_providers

        chosen = choose_providers(self.runtime, dict(self.providers))
        components = [c for c in self.components if c.builtin not in PROVIDER_COMPONENTS.values()]
        bindings = [b for b in self.bindings if b.provider_id in {c.id for c in components}]
        for cap, builtin in PROVIDER_COMPONENTS.items():
            if cap in self.capabilities and chosen.get(cap) == "component":
                kept = self.builtin_component(builtin)
                components.append(kept or Component(builtin, BUILTIN_PREFIX + builtin))
                interface = CAPS[cap].interface or cap
                bindings.append(Binding(self.root, interface, builtin, interface))
        return replace(self, components=tuple(components), bindings=tuple(bindings))

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "name": self.name,
            "runtime": self.runtime,
            "root": self.root,
            "components": [
                {
                    "id": c.id,
                    "path": c.path,
                    "digest": list(bytes.fromhex(c.digest)) if c.digest else None,
                }
                for c in self.components
            ],
            "bindings": [
                {
                    "consumer_id": b.consumer_id,
                    "import_name": b.import_name,
                    "provider_id": b.provider_id,
                    "export_name": b.export_name,
                }
                for b in self.bindings
            ],
            "secrets": list(self.secrets),
            "policy": {
                "determinism": self.determinism,
                "capabilities": list(self.capabilities),
                "limits": {
                    "timeout_seconds": self.timeout_seconds,
                    "memory_mib": self.memory_mib,
                },
            },
            "preopens": [
                {"host": str(p.host), "guest": p.guest, "readonly": p.readonly}
                for p in self.preopens
            ],
            "env": dict(self.env),
            "providers": dict(self.providers),
            "hosts": list(self.hosts),
            **(
                {
                    "packages": [
                        {"name": p.name, "version": p.version, "sha256": p.sha256}
                        for p in self.packages
                    ]
                }
                if self.packages
                else {}
            ),
        }

    def save(self, path: Path) -> None:
        """Write the plan to `path` whole or not at all: a crash mid-write (a
        killed pylon, a full disk) leaves the file as it was.

        A plan shipped with pylon is never overwritten (UsageError): it is the
        starting point of every later run, and writing a session's grants into
        it would widen the sandbox of all of them."""
        import tempfile

        path = Path(path)
        if is_shipped_path(path):
            raise UsageError(
                f"{path} is a plan shipped with pylon and is never overwritten; "
                "save to a file of your own, e.g. ./pylon-plan.json"
            )
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(self.dumps())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def dumps(self) -> str:
        text = json.dumps(self.to_json(), indent=2)
        # A digest is 32 numbers: one line each would bury the plan.
        return _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text) + "\n"


# -- loading -----------------------------------------------------------------


def is_shipped(name: str) -> bool:
    return files("pylon_shell.plans").joinpath(f"{name}.json").is_file()


def shipped_dir() -> Path:
    """The directory of the plans pylon ships (the pylon_shell.plans package)."""
    return Path(str(files("pylon_shell.plans"))).resolve()


def is_shipped_path(path: Path) -> bool:
    """Whether `path` (followed through symlinks) is inside the shipped plans'
    directory: such a file is read-only to pylon."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):
        return False
    return resolved.is_relative_to(shipped_dir())


def save_target(plan: Plan, requested: str | Path | None = None) -> Path:
    """Where saving `plan` writes: the path the user gave; else the file the
    plan came from, unless that is a shipped plan; else `<name>.json` in the
    current directory. Absolute, so the message that names it is unambiguous."""
    if requested:
        return Path(requested).expanduser().absolute()
    source = plan.source
    if source and source.endswith(".json") and not plan.shipped:
        if not is_shipped_path(Path(source)):
            return Path(source).expanduser().absolute()
    name = plan.name if _ID.match(plan.name) else "pylon-plan"
    return Path.cwd() / f"{name}.json"


def shipped(name: str) -> Plan:
    """One of the plans in plans/ (default, minimal, data); relative host paths
    in them are relative to the directory pylon runs in."""
    resource = files("pylon_shell.plans").joinpath(f"{name}.json")
    if not resource.is_file():
        raise PlanError("$", f"no shipped plan named {name!r}", source=f"plans/{name}.json")
    plan = parse(resource.read_text(), source=f"plans/{name}.json", base=Path.cwd())
    return replace(plan, shipped=True)


def load(path: Path) -> Plan:
    """A plan file; relative host paths in it are relative to the file's folder.

    Only a regular file is read (a FIFO or a device could deliver without end),
    and at most MAX_PLAN_BYTES + 1 bytes of it, whatever its size said."""
    source = str(path)
    try:
        data = read_regular_file(path, MAX_PLAN_BYTES, what="plan file")
        text = data.decode("utf-8")
    except _NotRegular as error:
        raise PlanError("$", str(error), source=source) from None
    except _TooLarge:
        raise PlanError(
            "$",
            f"the file is larger than {MAX_PLAN_BYTES} bytes; a plan is at most 1 MiB",
            source=source,
        ) from None
    except FileNotFoundError:
        raise PlanError("$", "no such file", source=source) from None
    except UnicodeDecodeError as error:
        raise PlanError("$", f"cannot be read ({error})", source=source) from None
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise PlanError("$", f"cannot be read ({reason})", source=source) from None
    return parse(text, source=source, base=path.resolve().parent)


class _NotRegular(Exception):
    """The path is not a regular file; the message says what it is."""


class _TooLarge(Exception):
    """The file holds more than the limit."""


def _open_regular(path: Path, what: str) -> int:
    """A read-only descriptor of `path`, which must be a regular file. Opened
    non-blocking so a FIFO with no writer cannot hang pylon before fstat says
    what it is."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a directory"
                if stat.S_ISDIR(mode)
                else "a FIFO"
                if stat.S_ISFIFO(mode)
                else "a device"
                if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file"
            )
            raise _NotRegular(f"is {kind}, not a {what}" if kind[0] == "a" else f"is {kind}")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular_file(path: Path, limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file `path`; _TooLarge past `limit` bytes,
    found by reading at most limit + 1 of them (a size stat can lie: the file
    may grow while it is read)."""
    fd = _open_regular(path, what)
    try:
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    if left <= 0:
        raise _TooLarge
    return b"".join(chunks)


def _file_sha256(path: Path, limit: int) -> str:
    """SHA-256 of the regular file `path`, read at most limit + 1 bytes."""
    fd = _open_regular(path, "component file")
    digest = hashlib.sha256()
    read = 0
    try:
        while read <= limit:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            digest.update(chunk)
            read += len(chunk)
    finally:
        os.close(fd)
    if read > limit:
        raise _TooLarge
    return digest.hexdigest()


def parse(text: str, *, source: str | None = None, base: Path | None = None) -> Plan:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise PlanError(
            "$", f"not JSON (line {error.lineno}, column {error.colno}: {error.msg})", source=source
        ) from None
    except RecursionError:
        raise PlanError("$", "not JSON (nested too deeply)", source=source) from None
    return _Validator(source, base).plan(data)


class _Validator:
    """Turns parsed JSON into a Plan, or raises PlanError naming the path."""

    def __init__(self, source: str | None, base: Path | None) -> None:
        self.source = source
        self.base = base

    def fail(self, path: str, problem: str) -> PlanError:
        return PlanError(path, problem, source=self.source)

    def kind(self, value: Any, expected: type | tuple[type, ...], path: str, what: str) -> Any:
        bad_bool = isinstance(value, bool) and bool not in (
            expected if isinstance(expected, tuple) else (expected,)
        )
        if not isinstance(value, expected) or bad_bool:
            raise self.fail(path, f"expected {what}, got {_describe(value)}")
        return value

    def keys(self, obj: dict[str, Any], path: str, required: set[str], allowed: set[str]) -> None:
        for key in sorted(required - obj.keys()):
            raise self.fail(f"{path}.{key}", "is required")
        for key in sorted(obj.keys() - allowed):
            raise self.fail(f"{path}.{key}", f"unknown field (known: {', '.join(sorted(allowed))})")

    def string(self, value: Any, path: str) -> str:
        return self.kind(value, str, path, "a string")

    def plan(self, data: Any) -> Plan:
        obj = self.kind(data, dict, "$", "an object")
        self.keys(
            obj,
            "$",
            {"version", "root", "components"},
            {
                "version",
                "name",
                "runtime",
                "root",
                "components",
                "bindings",
                "secrets",
                "policy",
                "preopens",
                "env",
                "providers",
                "hosts",
                "packages",
            },
        )
        version = self.string(obj["version"], "$.version")
        if version != PLAN_VERSION:
            raise self.fail("$.version", f'unsupported version {version!r} (this pylon reads "1")')
        components = self.components(obj["components"])
        ids = {c.id for c in components}
        root = self.string(obj["root"], "$.root")
        if root not in ids:
            raise self.fail("$.root", f"names no component (components: {', '.join(sorted(ids))})")
        root_component = next(c for c in components if c.id == root)
        runtime = obj.get("runtime", root_component.builtin or "cpython")
        runtime = self.string(runtime, "$.runtime")
        if runtime not in RUNTIMES:
            raise self.fail(
                "$.runtime", f"unknown runtime {runtime!r} (use cpython or micropython)"
            )
        if root_component.builtin != runtime:
            raise self.fail(
                "$.root",
                f"the root component must be {BUILTIN_PREFIX}{runtime} for runtime {runtime}",
            )
        policy = self.kind(obj.get("policy", {}), dict, "$.policy", "an object")
        self.keys(policy, "$.policy", set(), {"determinism", "capabilities", "limits"})
        limits = self.kind(policy.get("limits", {}), dict, "$.policy.limits", "an object")
        self.keys(limits, "$.policy.limits", set(), {"timeout_seconds", "memory_mib"})
        memory_mib = self.memory(limits.get("memory_mib"))
        problem = memory_problem(runtime, memory_mib)
        if problem:
            raise self.fail("$.policy.limits.memory_mib", problem)
        return Plan(
            name=self.string(obj.get("name", "unnamed"), "$.name"),
            runtime=runtime,
            root=root,
            components=components,
            bindings=self.bindings(obj.get("bindings", []), ids),
            secrets=tuple(
                self.string(s, f"$.secrets[{i}]")
                for i, s in enumerate(
                    self.kind(obj.get("secrets", []), list, "$.secrets", "a list")
                )
            ),
            determinism=self.string(policy.get("determinism", "none"), "$.policy.determinism"),
            capabilities=self.capabilities(policy.get("capabilities", [])),
            timeout_seconds=self.timeout(limits.get("timeout_seconds")),
            memory_mib=memory_mib,
            preopens=self.preopens(obj.get("preopens", [])),
            env=self.env(obj.get("env", {})),
            providers=self.providers(obj.get("providers", {})),
            hosts=self.hosts(obj.get("hosts", [])),
            packages=self.packages(obj.get("packages", [])),
            source=self.source,
        )

    def components(self, value: Any) -> tuple[Component, ...]:
        items = self.kind(value, list, "$.components", "a list")
        if not items:
            raise self.fail("$.components", "must name at least the root component")
        seen: set[str] = set()
        out = []
        for i, item in enumerate(items):
            path = f"$.components[{i}]"
            comp = self.kind(item, dict, path, "an object")
            self.keys(comp, path, {"id", "digest"}, {"id", "path", "digest", "kind"})
            cid = self.string(comp["id"], f"{path}.id")
            if not _ID.match(cid):
                raise self.fail(
                    f"{path}.id", f"{cid!r} is not an id (lowercase letters, digits, -)"
                )
            if cid in seen:
                raise self.fail(f"{path}.id", f"duplicate component id {cid!r}")
            seen.add(cid)
            location = self.string(comp.get("path", BUILTIN_PREFIX + cid), f"{path}.path")
            digest = self.digest(comp["digest"], f"{path}.digest")
            if digest is None and not location.startswith(BUILTIN_PREFIX):
                raise self.fail(
                    f"{path}.digest", "is required (32 byte values) for a component file"
                )
            if (
                location.startswith(BUILTIN_PREFIX)
                and location[len(BUILTIN_PREFIX) :] not in BUILTIN_COMPONENTS
            ):
                known = ", ".join(BUILTIN_PREFIX + name for name in BUILTIN_COMPONENTS)
                raise self.fail(
                    f"{path}.path", f"unknown builtin component {location!r} (known: {known})"
                )
            if not location.startswith(BUILTIN_PREFIX):
                assert digest is not None
                location = self.component_file(location, digest, path)
            out.append(Component(cid, location, digest))
        return tuple(out)

    def component_file(self, location: str, digest: str, path: str) -> str:
        """A component file, resolved like any host path of the plan (relative
        to its folder, symlinks and `..` followed to the real file), which must
        be a regular file whose bytes have the digest the plan trusts: it is
        checked here, before anything can use it, not when it is loaded."""
        if not location or any(not c.isprintable() for c in location):
            raise self.fail(f"{path}.path", f"{location!r} is not a file path")
        file = Path(location).expanduser()
        if not file.is_absolute():
            file = (self.base or Path.cwd()) / file
        try:
            file = file.resolve()
            found = _file_sha256(file, MAX_COMPONENT_BYTES)
        except _NotRegular as error:
            raise self.fail(f"{path}.path", f"{file} {error}") from None
        except _TooLarge:
            raise self.fail(
                f"{path}.path", f"{file} is larger than {MAX_COMPONENT_BYTES} bytes"
            ) from None
        except FileNotFoundError:
            raise self.fail(f"{path}.path", f"no such component file {file}") from None
        except (OSError, RuntimeError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            raise self.fail(f"{path}.path", f"{file} cannot be read ({reason})") from None
        if found != digest:
            raise self.fail(
                f"{path}.digest",
                f"{file} does not match the digest the plan trusts "
                f"(plan sha256:{digest[:12]}…, file sha256:{found[:12]}…)",
            )
        return str(file)

    def digest(self, value: Any, path: str) -> str | None:
        if value is None:
            return None
        items = self.kind(value, list, path, "a list of 32 byte values (SHA-256) or null")
        if len(items) != 32:
            raise self.fail(path, f"expected 32 byte values (SHA-256), got {len(items)}")
        for i, byte in enumerate(items):
            if isinstance(byte, bool) or not isinstance(byte, int) or not 0 <= byte <= 255:
                raise self.fail(
                    f"{path}[{i}]", f"expected a byte value 0-255, got {_describe(byte)}"
                )
        return bytes(items).hex()

    def bindings(self, value: Any, ids: set[str]) -> tuple[Binding, ...]:
        out = []
        names = ("consumer_id", "import_name", "provider_id", "export_name")
        for i, item in enumerate(self.kind(value, list, "$.bindings", "a list")):
            path = f"$.bindings[{i}]"
            obj = self.kind(item, dict, path, "an object")
            self.keys(obj, path, set(names), set(names))
            fields = {n: self.string(obj[n], f"{path}.{n}") for n in names}
            for ref in ("consumer_id", "provider_id"):
                if fields[ref] not in ids:
                    raise self.fail(f"{path}.{ref}", f"names no component: {fields[ref]!r}")
            out.append(Binding(**fields))
        return tuple(out)

    def providers(self, value: Any) -> tuple[tuple[str, str], ...]:
        from pylon_shell.caps.catalog import CAPS

        obj = self.kind(value, dict, "$.providers", "an object of cap: provider")
        for cap, name in obj.items():
            if cap not in CAPS:
                raise self.fail(f"$.providers.{cap}", f"unknown cap {cap!r}")
            name = self.string(name, f"$.providers.{cap}")
            known = [p.name for p in CAPS[cap].providers]
            if name not in known:
                raise self.fail(
                    f"$.providers.{cap}", f"unknown provider {name!r} (known: {', '.join(known)})"
                )
        return tuple(sorted(obj.items()))

    def capabilities(self, value: Any) -> tuple[str, ...]:
        from pylon_shell.caps.catalog import CAPS

        out: list[str] = []
        items = self.kind(value, list, "$.policy.capabilities", "a list")
        for i, item in enumerate(items):
            name = self.string(item, f"$.policy.capabilities[{i}]")
            if name not in CAPS:
                known = ", ".join(sorted(CAPS))
                raise self.fail(
                    f"$.policy.capabilities[{i}]", f"unknown cap {name!r} (known: {known})"
                )
            if name in out:
                raise self.fail(f"$.policy.capabilities[{i}]", f"duplicate cap {name!r}")
            out.append(name)
        return tuple(out)

    def timeout(self, value: Any) -> float | None:
        if value is None:
            return None
        number = self.kind(value, (int, float), "$.policy.limits.timeout_seconds", "a number")
        if not 0 < number < 10**9:
            raise self.fail(
                "$.policy.limits.timeout_seconds", "must be a positive number of seconds"
            )
        return float(number)

    def memory(self, value: Any) -> int | None:
        if value is None:
            return None
        number = self.kind(value, int, "$.policy.limits.memory_mib", "a whole number of MiB")
        if not 1 <= number <= 4096:
            raise self.fail("$.policy.limits.memory_mib", "must be between 1 and 4096 MiB")
        return number

    def preopens(self, value: Any) -> tuple[Preopen, ...]:
        out = []
        guests: set[str] = set()
        for i, item in enumerate(self.kind(value, list, "$.preopens", "a list")):
            path = f"$.preopens[{i}]"
            obj = self.kind(item, dict, path, "an object")
            self.keys(obj, path, {"host", "guest"}, {"host", "guest", "readonly"})
            host = Path(self.string(obj["host"], f"{path}.host"))
            if not host.is_absolute() and self.base is not None:
                host = self.base / host
            guest = self.string(obj["guest"], f"{path}.guest")
            problem = guest_path_problem(guest)
            if problem:
                raise self.fail(f"{path}.guest", problem)
            if guest in guests:
                raise self.fail(f"{path}.guest", f"{guest} is preopened twice")
            guests.add(guest)
            readonly = self.kind(
                obj.get("readonly", False), bool, f"{path}.readonly", "true or false"
            )
            out.append(Preopen(host, guest, readonly))
        return tuple(out)

    def hosts(self, value: Any) -> tuple[str, ...]:
        # A dict as an ordered set: a list's `in` made 40,000 hosts take 11-18 s.
        out: dict[str, None] = {}
        for i, item in enumerate(self.kind(value, list, "$.hosts", "a list of HOST:PORT")):
            try:
                pattern = str(parse_pattern(self.string(item, f"$.hosts[{i}]")))
            except HostSpecError as error:
                raise self.fail(f"$.hosts[{i}]", str(error)) from None
            out[pattern] = None
        return tuple(out)

    def packages(self, value: Any) -> tuple[Pin, ...]:
        items = self.kind(value, list, "$.packages", "a list of {name, version, sha256}")
        if not items:
            return ()
        from pylon_shell.packages import MAX_PACKAGES, Pin, pin_problem

        if len(items) > MAX_PACKAGES:
            raise self.fail("$.packages", f"more than {MAX_PACKAGES} packages")
        out: dict[str, Pin] = {}
        for i, item in enumerate(items):
            path = f"$.packages[{i}]"
            obj = self.kind(item, dict, path, "an object")
            self.keys(obj, path, {"name", "version", "sha256"}, {"name", "version", "sha256"})
            problem = pin_problem(obj["name"], obj["version"], obj["sha256"])
            if problem:
                key = problem.split(" ", 1)[0]
                raise self.fail(f"{path}.{key}", problem)
            if obj["name"] in out:
                raise self.fail(f"{path}.name", f"duplicate package {obj['name']!r}")
            out[obj["name"]] = Pin(obj["name"], obj["version"], obj["sha256"])
        return tuple(out.values())

    def env(self, value: Any) -> tuple[tuple[str, str], ...]:
        obj = self.kind(value, dict, "$.env", "an object of strings")
        for key, val in obj.items():
            if not _ENV_KEY.match(key):
                raise self.fail(f"$.env.{key}", "is not a variable name")
            self.string(val, f"$.env.{key}")
        return tuple(sorted(obj.items()))


#: Top-level guest directories the CPython component mounts for itself (the
#: stdlib; componentize-py's bindings and app code are at /world, /bundled and
#: numbered directories; large bulk values at /.pylon-bulk; packages from PyPI
#: at /.pylon-packages): a preopen there
#: would shadow them.
RESERVED_GUEST_DIRS = frozenset(("python", "world", "bundled", ".pylon-bulk", ".pylon-packages"))


def guest_path_problem(guest: str) -> str | None:
    """Why `guest` cannot be a preopen's path inside the sandbox, or None.

    Only the normalized spelling is accepted (no `.`, `..`, `//` or trailing
    `/`): the runtimes and the file caps compare guest paths as text, and two
    spellings of one directory would be two preopens."""
    if any(not c.isprintable() for c in guest):
        return f"{guest!r} must not contain control characters (NUL, newline, ...)"
    if not guest.startswith("/"):
        return f"{guest!r} must be an absolute guest path such as /data"
    parts = guest.split("/")
    if ".." in parts:
        return f"{guest!r} must not contain .."
    normal = posixpath.normpath(guest)
    if normal.startswith("//"):
        normal = normal[1:]
    top = PurePosixPath(normal).parts[1:2]
    if not top or top[0] in RESERVED_GUEST_DIRS or top[0].isdigit():
        return (
            f"{guest!r} is reserved (the runtime mounts its own files at /, /python, /world, "
            "/bundled, /.pylon-bulk and /0, /1, ...); choose another guest path such as /data"
        )
    if normal != guest:
        return f"{guest!r} is not a normalized guest path; write it as {normal}"
    return None


def memory_problem(runtime: str, memory_mib: int | None) -> str | None:
    """Why `runtime` cannot start within `memory_mib`, or None."""
    least = MIN_MEMORY_MIB.get(runtime)
    if memory_mib is None or least is None or memory_mib >= least:
        return None
    return (
        f"{memory_mib} MiB is too little for {RUNTIME_NAMES[runtime]}, "
        f"which needs at least {least} MiB to start"
    )


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    return "an object"
