"""The plan: which runtime, which components (trusted by SHA-256), which caps, what it may see.

The shape is composectl's PlanV1 (`version`, `root`, `components` with digests
as 32 byte values, `bindings`, `secrets`, `policy`, `linkage`), plus extra keys
a PlanV1 reader ignores: `name`, `runtime`, a component `path`, `preopens`,
`env`, `providers`, `hosts`, `packages`, `timeout_seconds`. See
docs/plan-format.md.

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
from dataclasses import dataclass, field, replace
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.hosts import HostSpecError, parse_pattern
from pylon_shell.errors import PlanError, UsageError
from pylon_shell.files import NotRegular, TooLarge, file_sha256, read_regular_file
from pylon_shell.options import Preopen, RuntimeOptions

if TYPE_CHECKING:
    # pylon_shell.packages (resolution, the store, the wheel unpacker) is
    # imported only by a plan that pins packages: every start reads plans.
    from pylon_shell.packages import Pin

PLAN_VERSION = "1"
RUNTIMES = ("cpython", "micropython")
#: The runtime of a plan whose root is a component that exports only `wasi:cli/run`.
COMMAND = "command"
#: Other spellings of pylon's builtin components in plans written elsewhere.
BUILTIN_ALIASES = {"python": "cpython"}
DETERMINISM = ("strict", "audit", "relaxed")
LEVELS = ("required", "optional")
LINKAGE = ("static", "runtime")
MIB = 1024 * 1024
#: Caps a wasi:cli/run root can be given: plain WASI (its preopens, its environment).
COMMAND_CAPS = ("fs", "env")
_SECRET_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
#: The provider components pylon builds, by the cap they serve.
PROVIDER_COMPONENTS = {"sqlite": "sqlite-provider"}
#: Components pylon builds or ships itself: the runtimes and the provider components.
BUILTIN_COMPONENTS = (*RUNTIMES, *PROVIDER_COMPONENTS.values())
BUILTIN_PREFIX = "builtin:"
#: The path of a component found by its digest in pylon's content store.
STORE_PREFIX = "store:"
MAX_PLAN_BYTES = 1024 * 1024
#: The largest component file a plan may name (the CPython component is ~40 MB).
MAX_COMPONENT_BYTES = 1024 * 1024 * 1024
#: Largest --tmp-size and tmp_size_mib, in MiB (1 TiB).
MAX_TMP_MIB = 1 << 20

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
    #: digest comes from the build pylon made itself (filled in before writing).
    digest: str | None = None
    #: PlanV1's `source`: a hint where the bytes came from, never trusted over the digest.
    source: str | None = None

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
class Secret:
    """PlanV1's secret binding: delivered to the guest as the environment
    variable `secret_id`, its value read from `backend_uri` at start."""

    secret_id: str
    backend_uri: str


@dataclass(frozen=True)
class Plan:
    name: str
    runtime: str
    root: str
    components: tuple[Component, ...]
    bindings: tuple[Binding, ...] = ()
    secrets: tuple[Secret, ...] = ()
    determinism: str = "relaxed"
    #: The caps granted at start (PlanV1 level required or optional, where pylon has them).
    capabilities: tuple[str, ...] = ()
    #: Which of `capabilities` the plan marks optional (written back with that level).
    optional: tuple[str, ...] = ()
    #: Optional caps pylon does not have: kept for the round trip, reported at start.
    unavailable: tuple[str, ...] = ()
    timeout_seconds: float | None = None
    memory_mib: int | None = None
    #: PlanV1's limits.memory_bytes as the plan wrote it (memory_mib is it in whole MiB).
    memory_bytes: int | None = None
    #: PlanV1's limits.cpu_ms: enforced as a wall-clock limit of each call (see docs).
    cpu_ms: int | None = None
    #: The private /tmp's size in MiB (--tmp-size; 0: no /tmp; None: the default).
    tmp_size_mib: int | None = None
    tenant: str | None = None
    linkage: str = "static"
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
        env = dict(self.env) if "env" in granted else {}
        env.update(resolve_secrets(self.secrets))
        return RuntimeOptions(
            preopens=list(self.preopens) if "fs" in granted else [],
            env=env,
            timeout=self.call_timeout,
            memory_mib=self.memory_mib,
            inherit_stdin=inherit_stdin,
        )

    @property
    def tmp_mib(self) -> int | None:
        """The /tmp limit a session gets (None: no /tmp at all)."""
        from pylon_shell.options import DEFAULT_TMP_MIB

        if self.tmp_size_mib is None:
            return DEFAULT_TMP_MIB
        return self.tmp_size_mib or None

    @property
    def call_timeout(self) -> float | None:
        """The wall-clock limit of each call into the guest: the tighter of
        pylon's timeout_seconds and PlanV1's cpu_ms (a single-threaded guest
        cannot use more CPU time than the wall-clock time it runs)."""
        limits = [t for t in (self.timeout_seconds, self.cpu_ms and self.cpu_ms / 1000) if t]
        return min(limits) if limits else None

    def memory_limit_bytes(self) -> int | None:
        if self.memory_mib is None:
            return None
        if self.memory_bytes is not None and self.memory_bytes // MIB == self.memory_mib:
            return self.memory_bytes
        return self.memory_mib * MIB

    def pinned(self) -> Plan:
        """The plan with every builtin component's digest filled in from the
        build (building what is missing): what pylon writes is PlanV1, whose
        digests are never null."""
        if all(c.digest is not None for c in self.components):
            return self
        from pylon_shell import build
        from pylon_shell.progress import TerminalProgress

        digests = {
            "cpython": lambda: build.cpython_artifacts(TerminalProgress()).wasm_sha256,
            "micropython": lambda: build.micropython_artifacts(TerminalProgress()).wasm_sha256,
            "sqlite-provider": lambda: (
                build.sqlite_provider_artifacts(TerminalProgress()).wasm_sha256
            ),
        }
        pinned = tuple(
            replace(c, digest=digests[c.builtin]())
            if c.digest is None and c.builtin in digests
            else c
            for c in self.components
        )
        return replace(self, components=pinned)

    def planv1(self) -> dict[str, Any]:
        """The plan's PlanV1 keys only, in PlanV1's field order (types.rs), as
        serde writes them: what composectl reads and what its digest covers."""
        missing = [c.id for c in self.components if c.digest is None]
        if missing:
            raise ValueError(f"components without a digest: {missing}; call pinned() first")
        limits: dict[str, int] = {}
        if self.cpu_ms is not None:
            limits["cpu_ms"] = self.cpu_ms
        memory = self.memory_limit_bytes()
        if memory is not None:
            limits["memory_bytes"] = memory
        policy: dict[str, Any] = {
            "determinism": self.determinism,
            "capabilities": [
                {"name": cap, "level": "optional" if cap in self.optional else "required"}
                for cap in self.capabilities
            ]
            + [{"name": cap, "level": "optional"} for cap in self.unavailable],
        }
        if self.tenant is not None:
            policy["tenant"] = self.tenant
        policy["limits"] = limits
        plan: dict[str, Any] = {
            "version": self.version,
            "root": self.root,
            "components": [
                {
                    "id": c.id,
                    "digest": list(bytes.fromhex(c.digest or "")),
                    **({"source": c.source} if c.source is not None else {}),
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
            "secrets": [
                {"secret_id": s.secret_id, "backend_uri": s.backend_uri} for s in self.secrets
            ],
            "policy": policy,
        }
        if self.linkage != "static":
            plan["linkage"] = self.linkage
        return plan

    def digest(self) -> str:
        """SHA-256 (hex) of the plan's canonical encoding as composectl computes
        it (compose-core plan.rs: ciborium over the PlanV1 struct): CBOR of the
        PlanV1 keys only, maps in the struct's field order, definite lengths,
        integers in their shortest form, a digest as an array of integers."""
        import cbor2

        return hashlib.sha256(cbor2.dumps(self.planv1())).hexdigest()

    def full_digest(self) -> str:
        """SHA-256 (hex) of the whole plan pylon writes, its extras included
        (canonical CBOR, RFC 8949 4.2.1: keys sorted): two plans with the same
        `digest()` may still differ in what pylon lets the guest see."""
        import cbor2

        return hashlib.sha256(cbor2.dumps(self.to_json(), canonical=True)).hexdigest()

    def with_runtime(self, runtime: str) -> Plan:
        """The same plan on the other interpreter (its root component swapped).

        A plan that already names that runtime's component keeps its entry, and
        so the digest it pins: a replay with --mp checks it like the root's."""
        root = self.builtin_component(runtime) or Component(runtime, BUILTIN_PREFIX + runtime)
        others = tuple(c for c in self.components if c.id not in (self.root, root.id))
        return replace(self, runtime=runtime, root=root.id, components=(root,) + others)

    # -- changes a user makes on top of a plan (flags, toggles) ---------------
    # Each returns a new plan, or raises ValueError with the one line that says
    # what is wrong (the caller names the flag it came from).

    def granting(self, cap: str) -> Plan:
        _known_cap(cap)
        return self if cap in self.capabilities else replace(
            self, capabilities=(*self.capabilities, cap)
        )

    def revoking(self, cap: str) -> Plan:
        _known_cap(cap)
        return replace(self, capabilities=tuple(c for c in self.capabilities if c != cap))

    def with_preopen(self, preopen: Preopen) -> Plan:
        """A host directory the guest sees (replacing one at the same guest
        path): a grant of the fs cap."""
        problem = guest_path_problem(preopen.guest)
        if problem:
            raise ValueError(problem)
        kept = tuple(p for p in self.preopens if p.guest != preopen.guest)
        return replace(self, preopens=(*kept, preopen)).granting("fs")

    def with_env(self, key: str, value: str) -> Plan:
        """One environment variable: a grant of the env cap."""
        if not key:
            raise ValueError("expected KEY=VALUE")
        env = {**dict(self.env), key: value}
        return replace(self, env=tuple(sorted(env.items()))).granting("env")

    def with_host(self, pattern: str) -> Plan:
        """A host:port pattern the net and tls caps may reach (already parsed by
        caps.hosts.parse_pattern); a grant of tls unless net or tls is granted,
        since plaintext needs net explicitly."""
        hosts = self.hosts if pattern in self.hosts else (*self.hosts, pattern)
        plan = replace(self, hosts=hosts)
        granted = "net" in plan.capabilities or "tls" in plan.capabilities
        return plan if granted else plan.granting("tls")

    def with_provider(self, cap: str, provider: str) -> Plan:
        from pylon_shell.caps.catalog import CAPS

        if cap not in CAPS:
            raise ValueError(f"unknown cap {cap!r} (known: {', '.join(sorted(CAPS))})")
        names = [p.name for p in CAPS[cap].providers]
        if provider not in names:
            raise ValueError(
                f"the {cap} cap has no provider {provider!r} (it has {', '.join(names)})"
            )
        providers = {**dict(self.providers), cap: provider}
        return replace(self, providers=tuple(sorted(providers.items())))

    def with_limits(self, timeout: float | None, memory_mib: int | None) -> Plan:
        """The plan's limits with those given (None keeps the plan's own)."""
        memory = memory_mib if memory_mib is not None else self.memory_mib
        problem = memory_problem(self.runtime, memory)
        if problem:
            raise ValueError(problem)
        timeout = timeout if timeout is not None else self.timeout_seconds
        return replace(self, timeout_seconds=timeout, memory_mib=memory)

    def with_provider_components(self) -> Plan:
        """The plan naming the provider components its granted caps load, each
        bound to the root's import of the cap's interface, so `plan build` pins
        their digests and a replay checks them."""
        from pylon_shell.caps.catalog import CAPS, choose_providers

        if self.runtime == COMMAND:  # a wasi:cli/run root imports none of pylon's caps
            return self
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
        """PlanV1 (its keys first, in its order), then pylon's extras. Call
        on a pinned() plan: a builtin component without a digest is pinned here."""
        plan = self.pinned()
        out = plan.planv1()
        paths = {c.id: c.path for c in plan.components}
        for component in out["components"]:
            if not paths[component["id"]].startswith(STORE_PREFIX):
                component["path"] = paths[component["id"]]
        out.update(
            {
                "name": plan.name,
                "runtime": plan.runtime,
                "timeout_seconds": plan.timeout_seconds,
                "preopens": [
                    {"host": str(p.host), "guest": p.guest, "readonly": p.readonly}
                    for p in plan.preopens
                ],
                "env": dict(plan.env),
                "providers": dict(plan.providers),
                "hosts": list(plan.hosts),
            }
        )
        if plan.tmp_size_mib is not None:
            out["tmp_size_mib"] = plan.tmp_size_mib
        if plan.packages:
            out["packages"] = [
                {"name": p.name, "version": p.version, "sha256": p.sha256} for p in plan.packages
            ]
        return out

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


def _known_cap(cap: str) -> None:
    from pylon_shell.caps.catalog import CAPS

    if cap not in CAPS:
        raise ValueError(f"unknown cap {cap!r} (known: {', '.join(sorted(CAPS))})")


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


def load_named(name: str | Path) -> Plan:
    """What `--plan NAME` and the TUI's Ctrl+O open, by one rule: a file of
    that name, else the shipped plan of that name (`data`; a bare name, not a
    path), else the file's own error. A ./data directory does not hide the
    shipped `data` plan: only a file does."""
    path = Path(name).expanduser()
    text = str(name)
    if not path.is_file() and "/" not in text and not text.endswith(".json") and is_shipped(text):
        return shipped(text)
    return load(path)


def load(path: Path) -> Plan:
    """A plan file; relative host paths in it are relative to the file's folder.

    Only a regular file is read (a FIFO or a device could deliver without end),
    and at most MAX_PLAN_BYTES + 1 bytes of it, whatever its size said."""
    source = str(path)
    try:
        data = read_regular_file(path, MAX_PLAN_BYTES, what="plan file")
        text = data.decode("utf-8")
    except NotRegular as error:
        raise PlanError("$", str(error), source=source) from None
    except TooLarge:
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
                # PlanV1's keys
                "version",
                "root",
                "components",
                "bindings",
                "secrets",
                "policy",
                "linkage",
                # pylon's extras
                "name",
                "runtime",
                "timeout_seconds",
                "preopens",
                "env",
                "providers",
                "hosts",
                "packages",
                "tmp_size_mib",
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
        derived = root_component.builtin or COMMAND
        runtime = self.string(obj.get("runtime", derived), "$.runtime")
        if runtime not in (*RUNTIMES, COMMAND):
            raise self.fail(
                "$.runtime", f"unknown runtime {runtime!r} (use cpython or micropython)"
            )
        if root_component.builtin not in (None, *RUNTIMES):
            raise self.fail(
                "$.root", f"{root_component.path} is a provider component, not a runtime"
            )
        if runtime != derived:
            expected = (
                f"must be {BUILTIN_PREFIX}{runtime} for runtime {runtime}"
                if runtime in RUNTIMES
                else "is one of pylon's runtimes, not a wasi:cli/run component"
            )
            raise self.fail("$.root", f"the root component {expected}")
        policy = self.kind(obj.get("policy", {}), dict, "$.policy", "an object")
        self.keys(policy, "$.policy", set(), {"determinism", "capabilities", "tenant", "limits"})
        determinism = self.determinism(policy.get("determinism", "relaxed"))
        linkage = self.string(obj.get("linkage", "static"), "$.linkage")
        if linkage not in LINKAGE:
            raise self.fail("$.linkage", f"expected static or runtime, got {linkage!r}")
        tenant = policy.get("tenant")
        if tenant is not None:
            tenant = self.string(tenant, "$.policy.tenant")
        limits = self.kind(policy.get("limits", {}), dict, "$.policy.limits", "an object")
        self.keys(
            limits,
            "$.policy.limits",
            set(),
            {"cpu_ms", "memory_bytes", "io_ops", "timeout_seconds", "memory_mib"},
        )
        if limits.get("io_ops") is not None:
            self.u64(limits["io_ops"], "$.policy.limits.io_ops")
            raise self.fail(
                "$.policy.limits.io_ops",
                "pylon cannot count the guest's I/O operations (wasmtime-py's WASI has "
                "no hook for them), so it refuses rather than run without the limit",
            )
        cpu_ms = limits.get("cpu_ms")
        if cpu_ms is not None:
            cpu_ms = self.u64(cpu_ms, "$.policy.limits.cpu_ms")
            if not 1 <= cpu_ms <= 10**12:
                raise self.fail("$.policy.limits.cpu_ms", "must be between 1 and 10^12 ms")
        memory_bytes, memory_mib = self.memory_limits(limits)
        problem = memory_problem(runtime, memory_mib)
        if problem:
            key = "memory_bytes" if "memory_bytes" in limits else "memory_mib"
            raise self.fail(f"$.policy.limits.{key}", problem)
        if obj.get("timeout_seconds") is not None or "timeout_seconds" not in limits:
            timeout, where = obj.get("timeout_seconds"), "$.timeout_seconds"
        else:  # pylon before PlanV1
            timeout, where = limits["timeout_seconds"], "$.policy.limits.timeout_seconds"
        granted, optional, unavailable = self.capabilities(policy.get("capabilities", []), runtime)
        secrets = self.secrets(obj.get("secrets", []))
        env = self.env(obj.get("env", {}))
        for i, secret in enumerate(secrets):
            if secret.secret_id in dict(env):
                raise self.fail(
                    f"$.secrets[{i}].secret_id",
                    f"{secret.secret_id} is also a key of $.env; a secret is delivered as "
                    "the environment variable of its name",
                )
        return Plan(
            name=self.string(obj.get("name", "unnamed"), "$.name"),
            runtime=runtime,
            root=root,
            components=components,
            bindings=self.bindings(obj.get("bindings", []), ids, root),
            secrets=secrets,
            determinism=determinism,
            capabilities=granted,
            optional=optional,
            unavailable=unavailable,
            timeout_seconds=self.timeout(timeout, where),
            memory_mib=memory_mib,
            memory_bytes=memory_bytes,
            cpu_ms=cpu_ms,
            tmp_size_mib=self.tmp_size(obj.get("tmp_size_mib")),
            tenant=tenant,
            linkage=linkage,
            preopens=self.preopens(obj.get("preopens", [])),
            env=env,
            providers=self.providers(obj.get("providers", {})),
            hosts=self.hosts(obj.get("hosts", [])),
            packages=self.packages(obj.get("packages", [])),
            source=self.source,
        )

    def u64(self, value: Any, path: str) -> int:
        number = self.kind(value, int, path, "a whole number")
        if not 0 <= number < 2**64:
            raise self.fail(path, "must be a whole number from 0 to 2^64-1")
        return number

    def determinism(self, value: Any) -> str:
        mode = self.string(value, "$.policy.determinism")
        if mode == "none":  # what pylon wrote before it wrote PlanV1
            mode = "relaxed"
        if mode not in DETERMINISM:
            raise self.fail(
                "$.policy.determinism", f"expected strict, audit or relaxed, got {mode[:40]!r}"
            )
        if mode == "strict":
            raise self.fail(
                "$.policy.determinism",
                "strict is refused: wasmtime-py's WASI gives the guest the host's clocks "
                "and entropy and offers no way to replace them",
            )
        if mode == "audit":
            raise self.fail(
                "$.policy.determinism",
                "audit is refused: pylon cannot record the guest's reads of the host's "
                "clocks and entropy (use relaxed)",
            )
        return mode

    def memory_limits(self, limits: dict[str, Any]) -> tuple[int | None, int | None]:
        """(memory_bytes as written, the limit in whole MiB, rounded down)."""
        if limits.get("memory_bytes") is not None:
            path = "$.policy.limits.memory_bytes"
            number = self.u64(limits["memory_bytes"], path)
            if not MIB <= number <= 4096 * MIB:
                raise self.fail(path, "must be between 1 MiB (1048576) and 4 GiB")
            return number, number // MIB
        mib = self.memory(limits.get("memory_mib"))  # pylon before PlanV1
        return (None if mib is None else mib * MIB), mib

    def secrets(self, value: Any) -> tuple[Secret, ...]:
        out: list[Secret] = []
        for i, item in enumerate(self.kind(value, list, "$.secrets", "a list")):
            path = f"$.secrets[{i}]"
            if isinstance(item, str):  # before PlanV1: a name, read from the environment
                item = {"secret_id": item, "backend_uri": f"env:{item}"}
            obj = self.kind(item, dict, path, "an object {secret_id, backend_uri}")
            names = {"secret_id", "backend_uri"}
            self.keys(obj, path, names, names)
            secret_id = self.string(obj["secret_id"], f"{path}.secret_id")
            if not _SECRET_ID.match(secret_id):
                raise self.fail(
                    f"{path}.secret_id",
                    f"{secret_id[:40]!r} is not an environment variable name "
                    "(letters, digits, _), which pylon delivers it as",
                )
            if any(s.secret_id == secret_id for s in out):
                raise self.fail(f"{path}.secret_id", f"duplicate secret {secret_id!r}")
            uri = self.string(obj["backend_uri"], f"{path}.backend_uri")
            problem = secret_uri_problem(uri)
            if problem:
                raise self.fail(f"{path}.backend_uri", problem)
            out.append(Secret(secret_id, uri))
        return tuple(out)

    def components(self, value: Any) -> tuple[Component, ...]:
        items = self.kind(value, list, "$.components", "a list")
        if not items:
            raise self.fail("$.components", "must name at least the root component")
        seen: set[str] = set()
        out = []
        for i, item in enumerate(items):
            path = f"$.components[{i}]"
            comp = self.kind(item, dict, path, "an object")
            self.keys(comp, path, {"id", "digest"}, {"id", "path", "digest", "source", "kind"})
            cid = self.string(comp["id"], f"{path}.id")
            if not _ID.match(cid):
                raise self.fail(
                    f"{path}.id", f"{cid!r} is not an id (lowercase letters, digits, -)"
                )
            if cid in seen:
                raise self.fail(f"{path}.id", f"duplicate component id {cid!r}")
            seen.add(cid)
            source = comp.get("source")
            if source is not None:
                source = self.string(source, f"{path}.source")
                if len(source) > 4096 or any(not c.isprintable() for c in source):
                    raise self.fail(f"{path}.source", "is not a printable hint of at most 4096")
            digest = self.digest(comp["digest"], f"{path}.digest")
            if "path" in comp:
                location = self.string(comp["path"], f"{path}.path")
                where = f"{path}.path"
            elif source is not None and source.startswith(BUILTIN_PREFIX):
                # PlanV1's `source` as a hint: builtin:NAME is one pylon builds;
                # its digest (if any) is still checked against that build.
                location, where = source, f"{path}.source"
            elif digest is not None:
                location, where = self.stored(cid, digest, source, path), f"{path}.digest"
            else:
                location, where = BUILTIN_PREFIX + cid, f"{path}.id"
            if location.startswith(BUILTIN_PREFIX):
                name = location[len(BUILTIN_PREFIX) :]
                name = BUILTIN_ALIASES.get(name, name)
                if name not in BUILTIN_COMPONENTS:
                    known = ", ".join(BUILTIN_PREFIX + name for name in BUILTIN_COMPONENTS)
                    raise self.fail(
                        where, f"unknown builtin component {location!r} (known: {known})"
                    )
                location = BUILTIN_PREFIX + name
            elif digest is None:
                raise self.fail(
                    f"{path}.digest", "is required (32 byte values) for a component file"
                )
            elif not location.startswith(STORE_PREFIX):
                location = self.component_file(location, digest, path)
            elif location != STORE_PREFIX + digest:
                raise self.fail(where, f"must be {STORE_PREFIX}<its digest in hex> or absent")
            out.append(Component(cid, location, digest, source))
        return tuple(out)

    def stored(self, cid: str, digest: str, source: str | None, path: str) -> str:
        """Where a component named only by its digest is: one of pylon's own
        builds (builtin:NAME) or a file of the content store (store:HEX)."""
        from pylon_shell import store

        entry = store.get(digest)
        if entry is None:
            raise self.fail(f"{path}.digest", store.missing_message(cid, digest, source))
        if entry.kind is not None:
            return BUILTIN_PREFIX + entry.kind
        return STORE_PREFIX + digest

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
            found = file_sha256(file, MAX_COMPONENT_BYTES)
        except NotRegular as error:
            raise self.fail(f"{path}.path", f"{file} {error}") from None
        except TooLarge:
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

    def bindings(self, value: Any, ids: set[str], root: str) -> tuple[Binding, ...]:
        self.root_id = root
        out = []
        names = ("consumer_id", "import_name", "provider_id", "export_name")
        for i, item in enumerate(self.kind(value, list, "$.bindings", "a list")):
            path = f"$.bindings[{i}]"
            obj = self.kind(item, dict, path, "an object")
            # consumer_id is optional in PlanV1; pylon's bindings are all the root's.
            self.keys(obj, path, set(names[1:]), set(names))
            obj = {"consumer_id": self.root_id, **obj}
            fields = {n: self.string(obj[n], f"{path}.{n}") for n in names}
            for n in ("import_name", "export_name"):
                if not fields[n]:
                    raise self.fail(f"{path}.{n}", "must not be empty")
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

    def capabilities(
        self, value: Any, runtime: str
    ) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """(granted, optional among them, optional ones pylon lacks). A bare
        string (pylon before PlanV1) is a required cap."""
        from pylon_shell.caps.catalog import CAPS

        have = COMMAND_CAPS if runtime == COMMAND else tuple(CAPS)
        granted: list[str] = []
        optional: list[str] = []
        unavailable: list[str] = []
        items = self.kind(value, list, "$.policy.capabilities", "a list")
        for i, item in enumerate(items):
            path = f"$.policy.capabilities[{i}]"
            if isinstance(item, str):
                name, level = item, "required"
            else:
                obj = self.kind(item, dict, path, "an object {name, level}")
                self.keys(obj, path, {"name", "level"}, {"name", "level"})
                name = self.string(obj["name"], f"{path}.name")
                level = self.string(obj["level"], f"{path}.level")
                if level not in LEVELS:
                    raise self.fail(
                        f"{path}.level", f"expected required or optional, got {level[:40]!r}"
                    )
                path = f"{path}.name"
            if name in granted or name in unavailable:
                raise self.fail(path, f"duplicate cap {name[:40]!r}")
            if name not in have:
                if level == "optional":
                    if len(name) > 200 or any(not c.isprintable() for c in name):
                        raise self.fail(path, "is not a cap name")
                    unavailable.append(name)
                    continue
                if runtime == COMMAND and name in CAPS:
                    raise self.fail(
                        path,
                        f"the plan requires cap {name!r}, which pylon serves through its "
                        "own interfaces; a wasi:cli/run root can be given only "
                        f"{', '.join(COMMAND_CAPS)}",
                    )
                known = ", ".join(sorted(CAPS))
                raise self.fail(
                    path,
                    f"the plan requires cap {name[:40]!r}, which pylon does not have "
                    f"(known: {known})",
                )
            granted.append(name)
            if level == "optional":
                optional.append(name)
        return tuple(granted), tuple(optional), tuple(unavailable)

    def timeout(self, value: Any, where: str) -> float | None:
        if value is None:
            return None
        number = self.kind(value, (int, float), where, "a number")
        if not 0 < number < 10**9:
            raise self.fail(where, "must be a positive number of seconds")
        return float(number)

    def tmp_size(self, value: Any) -> int | None:
        if value is None:
            return None
        number = self.kind(value, int, "$.tmp_size_mib", "a whole number of MiB")
        if not 0 <= number <= MAX_TMP_MIB:
            raise self.fail("$.tmp_size_mib", f"must be between 0 (no /tmp) and {MAX_TMP_MIB} MiB")
        return number

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


def secrets_dir() -> Path:
    """The only folder a `file:` secret is read from (PYLON_SECRETS_DIR overrides)."""
    import platformdirs

    override = os.environ.get("PYLON_SECRETS_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("pylon")) / "secrets"


#: The largest secret pylon reads (a key, a token, a certificate).
MAX_SECRET_BYTES = 64 * 1024


def secret_uri_problem(uri: str) -> str | None:
    """Why pylon cannot read a secret from `uri`, or None. Only `env:NAME` (a
    variable of pylon's environment) and `file:NAME` (a file in secrets_dir(),
    by a relative path that stays inside it) are understood."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in uri[:80])
    scheme, sep, rest = uri.partition(":")
    if sep and scheme == "env":
        if _SECRET_ID.match(rest):
            return None
        return f"{shown!r}: env: takes an environment variable name"
    if sep and scheme == "file":
        parts = PurePosixPath(rest).parts
        if (
            not rest
            or rest.startswith("/")
            or ".." in parts
            or any(not c.isprintable() for c in rest)
            or "\\" in rest
        ):
            return (
                f"{shown!r}: file: takes a relative path inside pylon's secrets folder "
                f"({secrets_dir()}), without .. or a leading /"
            )
        return None
    return f"unsupported secret backend {shown!r} (pylon reads env:NAME and file:NAME)"


def resolve_secrets(secrets: tuple[Secret, ...]) -> dict[str, str]:
    """{secret_id: value} read from each secret's backend; PylonError naming the
    secret (never its value) when one cannot be read."""
    from pylon_shell.errors import PylonError

    out: dict[str, str] = {}
    for secret in secrets:
        scheme, _, rest = secret.backend_uri.partition(":")
        what = f"secret {secret.secret_id} ({secret.backend_uri})"
        if scheme == "env":
            if rest not in os.environ:
                raise PylonError(f"{what}: the variable is not set", status=2)
            value = os.environ[rest]
        else:
            folder = secrets_dir()
            try:
                base = folder.resolve(strict=True)
                file = (base / rest).resolve(strict=True)
            except (OSError, RuntimeError):
                raise PylonError(f"{what}: no such file in {folder}", status=2) from None
            if not file.is_relative_to(base):
                raise PylonError(f"{what}: resolves outside {folder}", status=2)
            try:
                data = read_regular_file(file, MAX_SECRET_BYTES, what="secret file")
            except TooLarge:
                raise PylonError(
                    f"{what}: larger than {MAX_SECRET_BYTES} bytes", status=2
                ) from None
            except (OSError, NotRegular) as error:
                reason = error.strerror if isinstance(error, OSError) else str(error)
                raise PylonError(f"{what}: cannot be read ({reason})", status=2) from None
            try:
                value = data.decode("utf-8")
            except UnicodeDecodeError:
                raise PylonError(f"{what}: is not UTF-8 text", status=2) from None
            value = value[:-1] if value.endswith("\n") else value
        if "\x00" in value:
            raise PylonError(f"{what}: contains NUL, which no environment variable can", status=2)
        out[secret.secret_id] = value
    return out


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
