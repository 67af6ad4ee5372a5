"""Every cap is a package: found here, through entry points, and wired generically.

A cap package holds everything about its cap: the catalog entry, its host
provider, the guest modules that stand in for the library it serves, its
docs and tests. pylon's own caps are the folders of pylon_shell/caps/ (fs,
env, sqlite, duckdb, compression, crypto, net, tls, hash, lz4, argon2); a
third party's is a distribution that names itself in its metadata:

    [project.entry-points."pylon.caps"]
    hash = "pylon_shell.caps.hash:PACKAGE"

A package either defines a new cap (`cap`) or adds modules to one pylon has
(`extends`: lz4 needs the compression grant). The cap layer does the rest
the same way for every package: the guest's import gate learns its modules,
and a package's calls cross one generic interface (`pylon:cap/dispatch`
call) to the provider process, where the grant, the method's name and the
arguments' fit are checked before the provider runs; its guest modules come
from the host (`pylon:cap/dispatch` guest-source, or the MicroPython bridge).
pylon's own caps with a WIT interface of their own (sqlite, duckdb,
compression, crypto, net, tls) also bring their wiring for it, their
stand-ins built into the interpreter, and a provider that checks its grant
itself (the fields after `libraries`). Nothing else in pylon names a cap.

Reading entry points costs ~20 ms (importlib.metadata), too much for every
start, so what was found is remembered in the cache under a stamp of the
import path's directories: installing or removing a distribution changes its
directory's mtime, and the next start looks again. pylon's own folders are
listed directly (one directory read), so a source tree or an editable install
made before a cap was added finds them all.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pylon_shell import paths
from pylon_shell.caps.model import Cap

if TYPE_CHECKING:
    from pylon_shell.options import Preopen

#: The entry point group cap packages register in.
GROUP = "pylon.caps"
#: The most source one guest module of a cap package may have.
MAX_GUEST_SOURCE = 1 << 20
_CACHE_NAME = "cap-plugins.json"


@dataclass(frozen=True)
class CapPackage:
    """Everything pylon needs to know of a cap that ships as a package, or of a
    package that adds modules to a cap pylon has (lz4 to compression)."""

    #: The package's name: its entry point's, and what its guest modules call.
    name: str
    #: The cap it defines; None when it `extends` one.
    cap: Cap | None = None
    #: The cap whose grant its modules need, when it defines none.
    extends: str | None = None
    #: Guest modules whose import needs that cap (a new cap names its own in `cap`).
    modules: tuple[str, ...] = ()
    #: Its host provider, "module:Class"; made in the provider process as
    #: Class(grants, memory_mib=...), where `grants.call(cap, operation, target)`
    #: is already checked around each call by the dispatcher.
    provider: str = ""
    #: The provider's methods the guest may call. Each call's arguments are
    #: checked against the method's signature before it runs.
    methods: tuple[str, ...] = ()
    #: Guest module -> its source file: what `import NAME` runs in the guest,
    #: on both runtimes. It calls the provider through `_cap_call(method, *args)`.
    guest: dict[str, Path] = field(default_factory=dict)
    #: The distributions the provider runs on (`pylon caps` shows their versions).
    libraries: tuple[str, ...] = ()

    # What pylon's own caps (each a folder of pylon_shell/caps/) use besides:
    # a WIT interface of their own in the session component's world, stand-ins
    # built into the interpreter, a provider that checks its grant itself.

    #: Where `pylon caps` and the TUI list the cap: pylon's own first, by rank.
    rank: int = 100
    #: Its provider checks the grant itself on every call (with grants.call);
    #: otherwise the dispatcher checks it around each call, as for `methods`.
    checks_own_grant: bool = False
    #: Makes the provider instead of Class(grants, memory_mib=...):
    #: "module:function", called as function(grants, setup) with a ProviderSetup.
    make: str = ""
    #: The exception class its calls raise when the provider process fails.
    failure: str = "OSError"
    #: The module that wires its own WIT interface: `link(layer, root, kit,
    #: package)` on the CPython session component, `bridge(layer, kit)` -> its
    #: MicroPython bridge calls (caps/wiring.py is the kit).
    wiring: str = ""
    #: Guest modules that stand in for the cap's, by runtime and provider:
    #: {"cpython": {"host": {"_bz2": "pylon_bz2"}}}: guest module -> stand-in,
    #: a file of the package's guest/<runtime>/ (CPython: built into the
    #: session component, over the cap's own interface; MicroPython: a shim
    #: the host sends, over the bridge).
    stand_ins: dict[str, dict[str, dict[str, str]]] = field(default_factory=dict)
    #: "module:function": function(provider) -> the line `pylon caps` shows for
    #: what backs a provider, when `libraries` does not say it.
    backing: str = ""
    #: "module:function": function(provider) -> further lines of `pylon caps`.
    notes: str = ""
    #: What `pylon caps` names as the interface of a cap WASI itself serves.
    wasi_interface: str = ""
    #: The fix a refused call's line names, when it is not `--cap NAME`:
    #: fix(operation, target, listed), `listed` saying whether the target is
    #: in the plan's host allowlist.
    fix: Callable[[str, str, bool], str] | None = None
    #: The interface the session component exports for this cap's provider to
    #: call back into the guest (its `invoke`), e.g. the program's sqlite3 callbacks.
    callbacks: str = ""

    @property
    def interface(self) -> str:
        """The WIT interface of the cap it defines ("" for none)."""
        return (self.cap.interface or "") if self.cap is not None else ""

    @property
    def cap_name(self) -> str:
        """The cap whose grant every call and import of this package needs."""
        return self.cap.name if self.cap is not None else str(self.extends)


@dataclass(frozen=True)
class ProviderSetup:
    """What a package's `make` gets besides the grants, in the provider process."""

    #: The plan's directories (a provider confines its files to them).
    preopens: list[Preopen]
    #: The plan's memory limit, which providers that hold data for the guest keep to.
    memory_mib: int | None
    #: Another cap's provider of this process (tls runs on net's connections).
    get: Callable[[str], Any]


_found: dict[str, CapPackage] | None = None
#: Package name -> "module:attr" it was loaded from.
_targets: dict[str, str] = {}
#: Why a registered cap package was left out (shown by `pylon caps`).
problems: list[str] = []


def plugins() -> dict[str, CapPackage]:
    """Every cap package installed, by package name (loaded once a process)."""
    global _found
    if _found is None:
        _found = _ranked(_entry_points())
    return _found


def _ranked(entries: list[tuple[str, str]]) -> dict[str, CapPackage]:
    """The packages of `entries`, loaded, each name once, in rank order (stable)."""
    found: dict[str, CapPackage] = {}
    for name, target in entries:
        if name in found:
            if _targets[name] != target:
                problems.append(f"cap package {name!r} ({target}) left out: pylon has one")
            continue
        package = _load(name, target)
        if package is not None:
            found[package.name] = package
            _targets[package.name] = target
    return dict(sorted(found.items(), key=lambda item: item[1].rank))


def described() -> list[list[str]]:
    """[name, "module:attr", import root] of each package, so the provider
    process loads exactly these (its environment is empty, its imports
    isolated) and Landlock lets it read their code, and only theirs."""
    out = []
    for name in plugins():
        target = _targets[name]
        top = target.partition(":")[0].partition(".")[0]
        found = Path(str(getattr(sys.modules.get(top), "__file__", "") or ""))
        root = found.parent.parent if found.name == "__init__.py" else found.parent
        out.append([name, target, str(root)])
    return out


def adopt(entries: list[list[str]]) -> None:
    """In the provider process: the launcher's packages (described()), found
    where the launcher found them."""
    global _found
    for _name, _target, root in entries:
        if root not in sys.path:
            sys.path.append(root)
    _found = _ranked([(name, target) for name, target, _root in entries])


def plugin(name: str) -> CapPackage | None:
    """The cap package of that name (the guest's dispatch calls name it)."""
    return plugins().get(name) if isinstance(name, str) else None


def defining(cap: str) -> CapPackage | None:
    """The package that defines the cap `cap`."""
    for package in plugins().values():
        if package.cap is not None and package.cap.name == cap:
            return package
    return None


def hook(target: str) -> Any:
    """A package's "module:attr" (its make, backing, notes), imported when first used."""
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def extending(cap: str) -> list[CapPackage]:
    """The packages that add modules to `cap`."""
    return [pkg for pkg in plugins().values() if pkg.extends == cap]


def guest_modules() -> dict[str, str]:
    """Guest module -> the cap package that serves it."""
    return {module: name for name, pkg in plugins().items() for module in pkg.guest}


def guest_source(module: str) -> str | None:
    """The source of the guest module a cap package serves as `module`, or None.
    `module` comes from the guest: it is only ever a key of the packages' own
    tables, never part of a path."""
    if not isinstance(module, str):
        return None
    for package in plugins().values():
        path = package.guest.get(module)
        if path is not None:
            with open(path, "rb") as source:
                data = source.read(MAX_GUEST_SOURCE + 1)
            if len(data) > MAX_GUEST_SOURCE:
                raise ValueError(f"{package.name}'s guest module {module} is over 1 MiB")
            return data.decode("utf-8")
    return None


def stand_in_source(runtime: str, module: str) -> str | None:
    """The source of the stand-in named `module` that a package of pylon's own
    serves on `runtime` from its folder (guest/<runtime>/<module>.py; on
    MicroPython, a shim over the bridge), or None. `module` comes from the
    guest: it is only ever compared with the packages' own tables, never part
    of a path until it matched one."""
    if not isinstance(module, str):
        return None
    for name, package in plugins().items():
        offered = package.stand_ins.get(runtime, {}).values()
        if any(module in by_provider.values() for by_provider in offered):
            path = _home(name) / "guest" / runtime / f"{module}.py"
            if path.is_file():
                return path.read_text(encoding="utf-8")
    return None


def _home(name: str) -> Path:
    """The folder of the package registered as `name`."""
    top = _targets[name].partition(":")[0]
    return Path(str(getattr(sys.modules.get(top), "__file__", "") or "")).parent


def provider_class(cap: str) -> Any:
    """The provider class of a cap package (imported in the provider process)."""
    package = plugin(cap)
    if package is None:
        raise KeyError(cap)
    return hook(package.provider)


def _load(name: str, target: str) -> CapPackage | None:
    module, _, attr = target.partition(":")
    try:
        package = getattr(importlib.import_module(module), attr or "PACKAGE")
        if not isinstance(package, CapPackage):
            raise TypeError(f"{target} is not a CapPackage")
        if package.name != name:
            raise ValueError(f"registered as {name!r}, it is the package {package.name!r}")
        if (package.cap is None) == (package.extends is None):
            raise ValueError("it must define a cap or extend one, not both or neither")
    except Exception as error:  # noqa: BLE001 - a broken plugin must not stop pylon
        problems.append(f"cap package {name!r} ({target}) left out: {error!r}")
        return None
    return package


def _stamp() -> str:
    """Changes when a distribution is installed or removed on the import path.
    The first entry is the script's directory (or the working directory), which
    changes with every file written there and holds no installed distribution."""
    parts = []
    for entry in sys.path[1:]:
        try:
            parts.append(f"{entry}\0{os.stat(entry or '.').st_mtime_ns}")
        except OSError:
            continue
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _entry_points() -> list[tuple[str, str]]:
    """(name, "module:attr") of pylon's own cap packages, of every registered
    one, and of those PYLON_CAP_PACKAGES names ("name=module:attr,..."; a
    package being written, not yet installed)."""
    extra = [
        (name.strip(), target.strip())
        for item in os.environ.get("PYLON_CAP_PACKAGES", "").split(",")
        if item.strip()
        for name, _, target in [item.partition("=")]
    ]
    return _own() + _installed() + extra


def _own() -> list[tuple[str, str]]:
    """pylon's own cap packages: every folder of pylon_shell/caps/ is one. They
    are registered as entry points too (pyproject), but a source tree or an
    editable install made before a cap was added must find them without."""
    here = Path(__file__).resolve().parent
    with os.scandir(here) as entries:
        names = sorted(
            e.name for e in entries if e.is_dir() and os.path.isfile(f"{e.path}/__init__.py")
        )
    return [(name, f"{__package__}.{name}:PACKAGE") for name in names]


def _installed() -> list[tuple[str, str]]:
    """The installed distributions' cap packages, from the cache when the
    import path has not changed since they were read."""
    stamp = _stamp()
    cache = paths.cache_dir() / _CACHE_NAME
    try:
        data = json.loads(cache.read_text())
        if data.get("stamp") == stamp:
            return [(str(n), str(v)) for n, v in data["entries"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    from importlib.metadata import entry_points

    found = sorted({(ep.name, ep.value) for ep in entry_points(group=GROUP)})
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f"{_CACHE_NAME}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"stamp": stamp, "entries": found}))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache: looked up again next time
    return found
