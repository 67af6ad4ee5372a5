"""Runs INSIDE the CPython guest: the import gate and monitor, and the wire helpers
the cap shims share.

The host tells the guest at session start (`configure`) which modules need
which cap and which provider serves it. Importing such a module asks the host,
whose live grants table decides: a toggle applies to the next import. Every
module load is reported to the host's monitor, batched so a burst of imports
costs one boundary crossing.
"""

import binascii
import builtins
import importlib
import importlib.util
import json
import os
import re
import sys

from componentize_py_types import Err
from wit_world.imports import host

_settings = {"modules": {}, "free": {}, "shims": {}, "providers": {}, "refuse": {}, "roots": []}
_active = False
_events = []
_BATCH = 64
_IMPORTLIB = ("<frozen importlib", __file__)


class CapImportError(ImportError):
    """Importing this module needs a cap the plan does not grant."""

    def __init__(self, module, cap, reason=None):
        self.cap = cap
        message = reason or (
            f"import of {module} needs the {cap} cap, which this plan does not grant; "
            f"grant it with --cap {cap}"
        )
        super().__init__(message, name=module)


class CapPermissionError(PermissionError):
    """A cap's provider refused a call (not granted, or outside what the plan allows).

    Tracebacks show it as the builtin PermissionError it is to the user; the
    subclass only lets the session tell a cap's refusal from any other."""


CapPermissionError.__module__ = "builtins"
CapPermissionError.__name__ = CapPermissionError.__qualname__ = "PermissionError"


_ERRNO = re.compile(r"^\[Errno (-?\d+)\] (.*)$", re.S)


def guest_exception(kind, message, own, fallback):
    """The guest exception for a provider failure of `kind`: a refusal as
    PermissionError, else `own[kind]` (the module's error classes), the builtin
    exception of that name, or `fallback`. A message "[Errno N] text" (an OS
    error on the host) keeps its errno."""
    if kind == "PermissionError":
        return CapPermissionError(message)
    cls = own.get(kind) or getattr(builtins, kind, None)
    if not (isinstance(cls, type) and issubclass(cls, Exception)):
        cls = fallback
    found = _ERRNO.match(message)
    return cls(int(found.group(1)), found.group(2)) if found else cls(message)


def call_provider(own, fallback, function, *args):
    """A host call of a cap's interface; its failure raised as guest_exception."""
    try:
        return function(*args)
    except Err as err:
        failure = err.value
    # Raised outside the except block, so the Err is not its __context__:
    # componentize-py's Err is a frozen dataclass, and code that walks an
    # exception's chain setting tracebacks (unittest) would fail on it.
    raise guest_exception(failure.kind, failure.message, own, fallback)


def octets(data):
    """Bytes as pylon:cap/types' `octets`: base64, which crosses the boundary
    as one buffer, where a list<u8> moves one value per byte."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def from_octets(text):
    """`octets` from the host: base64, or "@NAME" of a file the host wrote
    into the session's read-only bulk directory (large values; the host
    removes it at the next call)."""
    if text.startswith("@"):
        with open(f"{_settings['bulk']}/{text[1:]}", "rb") as source:
            return source.read()
    return binascii.a2b_base64(text)


def configure(settings):
    global _active
    _settings.update(json.loads(settings))
    _active = True


def emit(event):
    _events.append(json.dumps(event, separators=(",", ":")))
    if len(_events) >= _BATCH:
        flush()


def flush():
    if _events:
        batch = "\n".join(_events)
        _events.clear()
        host.events(batch)


def request(cap, operation, target):
    flush()  # keep the host's event order: the imports before this call
    return host.request(cap, operation, target)


def _importer():
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_IMPORTLIB):
        frame = frame.f_back
    return frame.f_globals.get("__name__", "?") if frame is not None else "?"


def _origin(fullname):
    """What an import that needs no grant reached: a cap's free module (socket,
    ssl: each call is checked instead), a builtin module or the stdlib."""
    free = _settings["free"].get(fullname)
    if free:
        return free
    return "builtin" if fullname in sys.builtin_module_names else "stdlib"


def cap_of(fullname):
    """The cap of `fullname` or of the nearest package holding it that has one."""
    modules = _settings["modules"]
    name = fullname
    while True:
        cap = modules.get(name)
        if cap is not None or "." not in name:
            return cap
        name = name.rpartition(".")[0]


def _check(fullname, importer):
    """Ask for the module's cap; raise CapImportError when the host says no."""
    cap = cap_of(fullname)
    if cap is None:
        return None
    refused = _settings["refuse"].get(fullname.partition(".")[0])
    if refused:
        emit({"k": "import", "m": fullname, "i": importer, "c": cap, "g": False})
        raise CapImportError(fullname, cap, refused)
    flush()  # keep the host's event order: the imports before this one
    # The host finds the cap, decides and publishes this import's event itself.
    granted = host.import_module(fullname, importer)
    if not granted:
        raise CapImportError(fullname, cap)
    return cap


class _ShimLoader:
    """Loads the guest module that speaks a cap's interface in place of `fullname`."""

    def __init__(self, shim):
        self.shim = shim

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        source = importlib.import_module(self.shim)
        load = source.__dict__.get("_load")
        if load is not None:
            load()  # first use: what it needs from the host, now that there is one
            del source._load
        name = module.__name__
        module.__dict__.update(
            {k: v for k, v in source.__dict__.items() if k not in ("__name__", "__spec__")}
        )
        module.__name__ = name


class _PluginLoader:
    """Loads the stand-in of a cap package (pylon_dispatch), its source from the host."""

    def __init__(self, cap):
        self.cap = cap

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        import pylon_dispatch

        name = module.__name__
        source = pylon_dispatch.source(name)
        if source is None:
            raise ImportError(f"the {self.cap} cap serves no module {name}", name=name)
        module.__dict__["_cap_call"] = pylon_dispatch.caller(self.cap, module.__dict__)
        exec(compile(source, f"<pylon {self.cap} cap: {name}>", "exec"), module.__dict__)


class _PackageLoader:
    def create_module(self, spec):
        return None

    def exec_module(self, module):
        pass


class Gate:
    """A meta path finder in front of all others: sees every module load."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        if not _active:
            return None
        if fullname in _settings.get("packages", ()):
            # A package that only holds shimmed modules (pylon for pylon.crypto).
            return importlib.util.spec_from_loader(fullname, _PackageLoader(), is_package=True)
        importer = _importer()
        if _check(fullname, importer) is None:
            emit({"k": "import", "m": fullname, "i": importer, "c": _origin(fullname), "g": True})
        shim = _settings["shims"].get(fullname)
        if shim:
            return importlib.util.spec_from_loader(fullname, _ShimLoader(shim))
        plugins = _settings.get("plugins", {})
        plugin = plugins.get(fullname)
        if plugin:
            # A package when the cap package also serves modules inside it (lz4.frame).
            package = any(name.startswith(fullname + ".") for name in plugins)
            return importlib.util.spec_from_loader(
                fullname, _PluginLoader(plugin), is_package=package
            )
        return None


_original_import = builtins.__import__


def _gated_import(name, globals=None, locals=None, fromlist=(), level=0):
    # Modules already loaded skip the finders; the user's own import statements
    # must still be checked (a cap revoked since) and shown in the monitor.
    if _active and level == 0 and name in sys.modules and globals is not None:
        if globals.get("__name__") == "__main__":
            if _check(name, "__main__") is None:
                emit({"k": "import", "m": name, "i": "__main__", "c": _origin(name), "g": True})
    return _original_import(name, globals, locals, fromlist, level)


# -- the fs cap: which files the program reaches ---------------------------
# WASI enforces the preopens; this only reports. A file inside a granted
# directory is an fs hit (for the imports pane and `pylon trace`); one outside
# every directory is a miss, and if the program dies of it the host is told
# which cap would have helped.

_FILE_EVENTS = frozenset(("open", "sqlite3.connect"))
# The runtime's own directories (stdlib, bindings, pylon's guest code): every
# absolute sys.path entry when the session starts, before user code runs.
# The session's private /tmp and the zone data are not files the fs cap grants
# either, so the monitor and `pylon trace` skip them too.
_OWN = tuple(
    entry.rstrip("/") + "/" for entry in sys.path if entry.startswith("/") and entry != "/"
) + ("/.pylon-bulk/", "/tmp/", "/usr/share/zoneinfo/")


def add_own(directory):
    """A directory the runtime mounted (a package from PyPI): reading it is no fs hit."""
    global _OWN
    _OWN += (directory.rstrip("/") + "/",)
_reported = set()


def guest_path(path):
    """`path` as an absolute, normalized guest path, or None (a descriptor, a URI)."""
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not isinstance(path, str) or not path or path == ":memory:" or path.startswith("file:"):
        return None
    if path.startswith("<"):
        return None  # a pseudo-file name (<string>, <python-input-0>)
    return os.path.normpath(os.path.join(os.getcwd(), path))


def root_of(path):
    """The granted directory that contains `path`, or None."""
    for root in _settings["roots"]:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return root
    return None


def _audit(event, args):
    if event not in _FILE_EVENTS or not _active or not args:
        return
    first = args[0]
    if isinstance(first, str) and first.startswith(_OWN):
        return
    path = guest_path(first)
    if path is None or path.startswith(_OWN):
        return
    granted = root_of(path) is not None
    last_miss[0] = None if granted else path
    if path in _reported:
        return
    if len(_reported) < 4096:
        _reported.add(path)
    emit({"k": "call", "c": "fs", "o": "open", "t": path, "g": granted})


#: The last file the program tried outside every granted directory.
last_miss = [None]


def fs_denial(exc):
    """The one line for an uncaught error that a missing fs grant explains: an
    OSError on such a path, or SQLite's "unable to open database file" after one."""
    if isinstance(exc, SyntaxError):
        return None  # its filename is the source's (<python-input-0>), not a file it opened
    path = guest_path(getattr(exc, "filename", None))
    if path is None and "unable to open database" in str(exc):
        path = last_miss[0]
    if path is None or path.startswith(_OWN) or root_of(path) is not None:
        return None
    if _settings["roots"]:
        return (
            f"{type(exc).__name__}: {path} is outside the directories this plan grants "
            "(the fs cap); grant one with --dir HOST:GUEST"
        )
    return (
        f"{type(exc).__name__}: {path} needs the fs cap, which this plan does not grant; "
        "grant it with --dir HOST:GUEST"
    )


def install():
    if Gate not in sys.meta_path:
        sys.meta_path.insert(0, Gate)
    builtins.__import__ = _gated_import
    sys.addaudithook(_audit)
    guard_bindings()


# -- the WIT boundary: values that would trap the lowering -----------------
# componentize-py lowers a Python value that does not fit the WIT type (an int
# out of a u32's range, a str with a lone surrogate, a bytearray for a
# list<u8>) by trapping, which ends the whole interpreter. Every imported
# function is therefore wrapped: its arguments are checked against the WIT
# signature below and a misfit is a TypeError, OverflowError or
# UnicodeEncodeError in the caller. The stand-ins check their arguments first,
# with CPython's own messages; this is what holds when they miss one, or when
# the program calls the bindings itself.

_RANGES = {
    "u8": (0, 2**8 - 1),
    "u16": (0, 2**16 - 1),
    "u32": (0, 2**32 - 1),
    "u64": (0, 2**64 - 1),
    "s32": (-(2**31), 2**31 - 1),
    "s64": (-(2**63), 2**63 - 1),
}
_STR, _BYTES, _BOOL, _F64 = "string", "bytes", "bool", "f64"
_OCTETS = "octets"
_VALUES = ("list", "value")
_ROWS = ("list", _VALUES)
_SIGNATURES = {
    "host": {
        "write": ("u32", _OCTETS),
        "request": (_STR, _STR, _STR),
        "import_module": (_STR, _STR),
        "events": (_STR,),
        "read_line": (_STR,),
        "read_stdin": ("u32",),
    },
}


def declare_signatures(interface, functions):
    """A cap's stand-in declares its interface's functions: name -> the WIT
    kinds of its arguments ("u32", "string", "octets", "bytes", "bool", "f64",
    "value", ("list", kind), ("option", kind), ("tuple", ...), ("record",
    (field, kind), ...)); guard_bindings checks each call against them."""
    _SIGNATURES[interface] = functions


def _misfit(kind, value, where):
    """Raise the guest's error when `value` cannot be lowered as WIT `kind`."""
    if isinstance(kind, tuple):
        if kind[0] == "option":
            if value is not None:
                _misfit(kind[1], value, where)
            return
        if kind[0] == "list":
            if type(value) is not list:
                raise TypeError(f"{where} must be a list, not {type(value).__name__}")
            for item in value:
                _misfit(kind[1], item, where)
            return
        if kind[0] == "record":
            for field, part in kind[1:]:
                if not hasattr(value, field):
                    raise TypeError(f"{where} must be a record with {field}")
                _misfit(part, getattr(value, field), f"{where}.{field}")
            return
        if kind[0] == "tuple":
            if type(value) is not tuple or len(value) != len(kind) - 1:
                raise TypeError(f"{where} must be a tuple of {len(kind) - 1}")
            for part, item in zip(kind[1:], value):
                _misfit(part, item, where)
            return
    if kind in _RANGES:
        if not isinstance(value, int):
            raise TypeError(f"{where} must be an integer, not {type(value).__name__}")
        low, high = _RANGES[kind]
        if not low <= value <= high:
            raise OverflowError(f"{where} is out of range ({value} not in {low}..{high})")
    elif kind == _STR:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be str, not {type(value).__name__}")
        value.encode("utf-8")  # UnicodeEncodeError for a lone surrogate
    elif kind == _OCTETS:
        # Any ASCII lowers; whether it is base64 is the host's to check.
        if not (isinstance(value, str) and value.isascii()):
            raise TypeError(f"{where} must be base64 text")
    elif kind == _BYTES:
        if not isinstance(value, bytes):
            raise TypeError(f"{where} must be bytes, not {type(value).__name__}")
    elif kind == _BOOL:
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be bool, not {type(value).__name__}")
    elif kind == _F64:
        if not isinstance(value, (int, float)):
            raise TypeError(f"{where} must be a number, not {type(value).__name__}")
        float(value)  # OverflowError for an int beyond a double
    elif kind == "value":
        _misfit_value(value, where)


def _misfit_value(value, where):
    from wit_world.imports import types as wire

    kinds = {
        wire.Value_Null: None,
        wire.Value_Boolean: _BOOL,
        wire.Value_Integer: "s64",
        wire.Value_BigInteger: _STR,
        wire.Value_Real: _F64,
        wire.Value_Text: _STR,
        wire.Value_Blob: _BYTES,
        wire.Value_Tagged: ("tuple", _STR, _STR),
    }
    if type(value) not in kinds:
        raise TypeError(f"{where} must be a pylon:cap/types value, not {type(value).__name__}")
    kind = kinds[type(value)]
    if kind is not None:
        if kind[0] == "tuple" and not (type(value.value) is tuple and len(value.value) == 2):
            raise TypeError(f"{where} must hold a pair of str")
        _misfit(kind, value.value, where)


def _guarded(function, signature, name):
    def call(*args):
        if len(args) != len(signature):
            raise TypeError(f"{name}() takes {len(signature)} arguments ({len(args)} given)")
        for number, (kind, value) in enumerate(zip(signature, args)):
            _misfit(kind, value, f"{name}() argument {number + 1}")
        return function(*args)

    call.__name__ = call.__qualname__ = function.__name__
    call.__doc__ = function.__doc__
    call.__wrapped__ = function
    return call


def guard_bindings():
    """Wrap every imported WIT function in the check of its arguments (above)."""
    for module_name, functions in _SIGNATURES.items():
        module = sys.modules.get(f"wit_world.imports.{module_name}")
        if module is None:
            module = importlib.import_module(f"wit_world.imports.{module_name}")
        for name, signature in functions.items():
            function = getattr(module, name)
            if getattr(function, "__wrapped__", None) is None:
                setattr(module, name, _guarded(function, signature, f"{module_name}.{name}"))
