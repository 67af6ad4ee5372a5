"""The session app that runs INSIDE the CPython 3.14 wasm component.

componentize-py pre-initialises this module at build time: everything
imported at the top is baked into the component's snapshot, so a session
starts with these modules already loaded. The host never imports this file.

The name must not shadow a stdlib module (componentize-py finds the stdlib
first), hence `pylon_session`.
"""

import ast
import importlib
import binascii
import builtins
import codeop
import importlib.machinery
import io
import keyword
import linecache
import os
import pkgutil
import re
import rlcompleter
import shutil
import sys
import traceback
import types

import pylon_caps
import pylon_posix
import pylon_dispatch  # noqa: F401 - the calls of caps that ship as packages
import pylon_localtime  # time and datetime follow TZ (wasi-libc is UTC only)
import pylon_nospace  # a write past /tmp's limit is ENOSPC, not the adapter's EIO
import pylon_waits
import pylon_patches  # stdlib modules patched at first import (ThreadPoolExecutor, asyncio)
import pylon_threads  # served as `_thread`: threads run to completion when started
import wit_world
from wit_world.exports import session
from wit_world.imports import host

# Build time only: componentize-py mounts its embedded stdlib at /python and
# this app's directory at /0. The launcher asks for a copy of the stdlib by
# leaving a marker file; at run time /0 does not exist and this is skipped.
_EXTRACT_MARKER = "/0/.pylon-extract-stdlib"
if os.path.exists(_EXTRACT_MARKER):
    shutil.copytree(
        "/python",
        "/0/stdlib",
        ignore=shutil.ignore_patterns("__pycache__", "test", "idlelib", "turtledemo"),
        dirs_exist_ok=True,
    )

# Build time only, too: the cap packages' stand-ins (caps/<name>/guest/cpython,
# copied beside this module and listed by the build) are imported here, so they
# are in the snapshot; a module not imported now is not in the component. A
# stand-in that implements one of the world's exports (the sqlite provider
# calling the program's callbacks) names its class in EXPORTS, and the class
# becomes this module's, where componentize-py looks for it.
_STAND_INS = "/0/.pylon-stand-ins"
if os.path.exists(_STAND_INS):
    with open(_STAND_INS) as _listed:
        for _name in _listed.read().split():
            _module = importlib.import_module(_name)
            for _export in getattr(_module, "EXPORTS", ()):
                globals()[_export] = getattr(_module, _export)



def _write_std(fd, data):
    """Bytes of stream `fd` (1 or 2) straight to the host, so output streams."""
    host.write(fd, pylon_caps.octets(data))


class _HostRaw(io.RawIOBase):
    """sys.stdout's and sys.stderr's raw stream: descriptor 1 or 2 (pylon_posix),
    whose bytes go to the host unless the program redirected it (os.dup2)."""

    def __init__(self, fd):
        super().__init__()
        self._fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self._fd

    def write(self, data):
        return pylon_posix.write(self._fd, data)


def _host_text(fd, errors):
    return io.TextIOWrapper(
        _HostRaw(fd), encoding="utf-8", errors=errors, line_buffering=True
    )


def _read_std(size):
    """At most `size` bytes of stdin, read through the host (pylon:shell/host
    read-stdin): the launcher's stdin for a script, the user's next line in a
    REPL. The host hands at most one line a read, so input() never misses
    buffered lines."""
    size = min(size, 1 << 20)
    _flush_output()
    got = host.read_stdin(size)
    if isinstance(got, host.Input_Data):
        return binascii.a2b_base64(got.value)[:size]
    if isinstance(got, host.Input_Interrupted):
        raise KeyboardInterrupt
    return b""


class _HostStdinRaw(io.RawIOBase):
    """sys.stdin's raw stream: descriptor 0 (pylon_posix), read through the host."""

    def readable(self):
        return True

    def fileno(self):
        return 0

    def readinto(self, buffer):
        return pylon_posix.readinto(0, buffer)


def _flush_output():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


_builtin_input = builtins.input


def _input(prompt=""):
    """input() as python's, its line read by the host (which shows the prompt:
    on stdout for a script, inline in the TUI)."""
    if sys.stdin is not _stdin:
        return _builtin_input(prompt)  # the program gave sys.stdin a stream of its own
    text = _text(str(prompt))
    if sys.stdout is not _stdout:
        sys.stdout.write(text)  # e.g. redirect_stdout: the prompt goes where python's would
        text = ""
    _flush_output()
    got = host.read_line(text)
    if isinstance(got, host.Input_Data):
        return got.value
    if isinstance(got, host.Input_Interrupted):
        raise KeyboardInterrupt
    raise EOFError("EOF when reading a line")


_input.__doc__ = _builtin_input.__doc__
pylon_caps.install()
pylon_posix.install(_write_std, _read_std)
pylon_waits.install()
pylon_threads.install()
pylon_patches.install()
pylon_localtime.install()
pylon_nospace.install()
# What python users see in usage lines (argparse: `pylon -m json.tool`); the
# interpreter has no file of its own in the guest.
sys.executable = "pylon"
sys.stdout = _host_text(1, "surrogateescape")
sys.stderr = _host_text(2, "backslashreplace")
sys.__stdout__ = sys.stdout
sys.__stderr__ = sys.stderr
_stdout = sys.stdout
_stdin = sys.stdin = sys.__stdin__ = io.TextIOWrapper(
    io.BufferedReader(_HostStdinRaw()), encoding="utf-8", errors="surrogateescape"
)
builtins.input = _input

_OWN_DIR = os.path.dirname(__file__) + "/"
_main = types.ModuleType("__main__")
_main.__dict__["__builtins__"] = builtins
sys.modules["__main__"] = _main
_input_count = 0
_TOKEN = re.compile(r"[A-Za-z_][\w.]*$")
#: After `import ` (or `, ` in one) or `from `: a module name is being typed.
_MODULE_AT = re.compile(
    r"^\s*(?:from\s+|import\s+(?:[\w.]+(?:\s+as\s+\w+)?\s*,\s*)*)([\w.]*)$"
)


def _module_names(prefix):
    """Modules whose name starts with `prefix` (`xml.d` gives `xml.dom`, ...),
    found without importing anything: the import gate and the modules' own
    code must not run because the user pressed Tab."""
    try:
        return _find_modules(prefix)
    except Exception:
        return []


_top_level_cache = [None, ()]


def _top_level(paths):
    """The modules directly on `paths`, listed again only when a directory of
    them changed: the list narrows at each key typed, and listing the stdlib
    takes some 30 ms."""
    key = []
    for entry in paths:
        try:
            key.append((entry, os.stat(entry).st_mtime_ns))
        except OSError:
            key.append((entry, None))
    if _top_level_cache[0] != key:
        _top_level_cache[:] = [key, tuple(info.name for info in pkgutil.iter_modules(paths))]
    return _top_level_cache[1]


def _find_modules(prefix):
    package, _, _ = prefix.rpartition(".")
    names = set()
    if package:
        path = None
        parts = package.split(".")
        for depth in range(1, len(parts) + 1):
            spec = importlib.machinery.PathFinder.find_spec(".".join(parts[:depth]), path)
            if spec is None or not spec.submodule_search_locations:
                path = None
                break
            path = list(spec.submodule_search_locations)
        if path:
            names.update(f"{package}.{info.name}" for info in pkgutil.iter_modules(path))
    else:
        paths = [entry for entry in sys.path if entry and entry.rstrip("/") + "/" != _OWN_DIR]
        names.update(_top_level(paths))
        names.update(sys.builtin_module_names)
    # The caps' modules (duckdb, pylon.crypto, ...) and those already loaded.
    loaded = sys.modules if package else {name.partition(".")[0] for name in sys.modules}
    for name in (*pylon_caps._settings["modules"], *loaded):
        if not package or name.startswith(package + "."):
            names.add(name)
    private = prefix.rpartition(".")[2].startswith("_")
    return sorted(
        name
        for name in names
        if name.startswith(prefix)
        and (private or not name.rpartition(".")[2].startswith("_"))
        and not name.startswith(("pylon_", "wit_world", "componentize_py"))
    )


def _user_traceback(exc):
    """Format `exc` without the session's own frames: the user never wrote them."""
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(exc))
    report = traceback.TracebackException.from_exception(exc)
    _hide_own_frames(report)
    return "".join(report.format())


def _hide_own_frames(report):
    """Drop the frames of pylon's own guest modules (the session, the cap shims)
    from a report and the exceptions chained to it."""
    report.stack = traceback.StackSummary.from_list(
        [frame for frame in report.stack if not frame.filename.startswith((_OWN_DIR, "<pylon "))]
    )
    for chained in (report.__cause__, report.__context__, *(report.exceptions or ())):
        if chained is not None:
            _hide_own_frames(chained)


def _exit_status(exc):
    """Map SystemExit to a process status the way CPython's own main does."""
    code = exc.code
    if code is None:
        return 0
    if isinstance(code, int):
        # The WIT status is an s32: keep its low 32 bits, as C's (int) cast does.
        return (code + 2**31) % 2**32 - 2**31
    print(code, file=sys.stderr)
    return 1


def _flush():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    pylon_caps.flush()


def _denial(exc):
    """The one line that explains a cap denial, or None for other exceptions.
    A denial a library wrapped (urllib's URLError around the PermissionError
    of a connection) is still the reason, so the chain is searched."""
    seen = 0
    cause = exc
    while cause is not None and seen < 8:
        if isinstance(cause, pylon_caps.CapImportError):
            return str(cause)
        if isinstance(cause, pylon_caps.CapPermissionError):
            return "PermissionError: " + str(cause).split("\n")[0]
        reason = getattr(cause, "reason", None)
        cause = reason if isinstance(reason, BaseException) else (
            cause.__cause__ or cause.__context__
        )
        seen += 1
    return pylon_caps.fs_denial(exc)


_probe = []


def _arm_interrupts():
    """Once, before any user code: tell the host where 32 random bytes of this
    instance's memory are, so that Ctrl+C can raise KeyboardInterrupt here
    instead of discarding the interpreter (runtimes/interrupt.py)."""
    if _probe:
        return
    _probe.append(os.urandom(32))
    report = f"{id(_probe[0]) + 16}:{_probe[0].hex()}:{id(KeyboardInterrupt)}"
    host.request("pylon", "interrupt-probe", report)


def _run(code, namespace, program=False):
    _arm_interrupts()
    pylon_caps.last_miss[0] = None
    try:
        exec(code, namespace)
        if program:
            pylon_threads.finish()  # as CPython joins non-daemon threads at exit
    except SystemExit as exc:
        return _settle(lambda: _exited(exc))
    except BaseException as exc:
        return _settle(lambda: _flushed_failure(exc))
    return _settle(_flushed_ok)


def _exited(exc):
    _flush()
    return session.Outcome_Exited(_exit_status(exc))


def _flushed_failure(exc):
    _flush()
    return _failure(exc)


def _flushed_ok():
    _flush()
    return session.Outcome_Ok()


def _settle(report):
    """`report()`, also when Ctrl+C's KeyboardInterrupt (delivered from outside,
    runtimes/interrupt.py) lands in this session code: the interrupt is the
    outcome then, never an exception out of the export (that ends the instance)."""
    for _ in range(8):
        try:
            return report()
        except KeyboardInterrupt as late:
            late.__context__ = None
            late.__traceback__ = None
            report = lambda late=late: _flushed_failure(late)  # noqa: E731
    return session.Outcome_Raised(
        session.Failure(type_name="KeyboardInterrupt", traceback="KeyboardInterrupt\n", denial=None)
    )


class _NoModule(Exception):
    """runpy's error for a module that cannot be run (python says "No module named")."""


def _run_call(function):
    """_run for a callable: the outcome of calling it."""
    _arm_interrupts()
    pylon_caps.last_miss[0] = None
    try:
        function()
    except SystemExit as exc:
        return _settle(lambda: _exited(exc))
    except BaseException as exc:
        return _settle(lambda: _flushed_failure(exc))
    return _settle(_flushed_ok)


def _remember_source(filename, source):
    """Let tracebacks show the user's lines, as the python REPL does."""
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)


def _text(text):
    """`text` as a WIT string: a lone surrogate (a str the program made from
    undecodable bytes) cannot be lowered, so it is shown escaped."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _failure(exc):
    return session.Outcome_Raised(
        session.Failure(
            type_name=_text(type(exc).__name__),
            traceback=_text(_user_traceback(exc)),
            denial=_text(_denial(exc)),
        )
    )


def _add_packages(entries):
    """Packages from PyPI: read-only directories the host preopened, put after
    the stdlib as site-packages is; reading their files is no fs hit."""
    for entry in entries:
        if isinstance(entry, str) and entry.startswith("/.pylon-packages/"):
            if entry not in sys.path:
                sys.path.append(entry)
                pylon_caps.add_own(entry)


class Session(wit_world.exports.Session):
    def configure(self, settings):
        pylon_caps.configure(settings)
        pylon_localtime.configure()
        _add_packages(pylon_caps._settings.get("sys_path") or ())
        cwd = pylon_caps._settings.get("cwd")
        if cwd:
            try:
                os.chdir(cwd)  # WASI starts in /, which no preopen holds
            except OSError:
                pass

    def run_input(self, source):
        global _input_count
        filename = f"<python-input-{_input_count}>"
        _input_count += 1
        _remember_source(filename, source)
        try:
            tree = ast.parse(source, filename, "exec")
            code = compile(ast.Interactive(body=tree.body), filename, "single")
        except (SyntaxError, ValueError, OverflowError) as exc:
            return _failure(exc)
        return _run(code, _main.__dict__)

    def is_complete(self, source):
        try:
            return codeop.compile_command(source, "<input>", "single") is not None
        except (SyntaxError, ValueError, OverflowError) as exc:
            if "multiple statements" in str(exc):
                try:
                    return codeop.compile_command(source + "\n", "<input>", "exec") is not None
                except (SyntaxError, ValueError, OverflowError):
                    return True
            return True

    def run_program(self, source, filename, argv):
        sys.argv = list(argv)
        _main.__dict__.clear()
        _main.__dict__.update(
            {"__name__": "__main__", "__builtins__": builtins, "__file__": filename}
        )
        _remember_source(filename, source)
        try:
            code = compile(source, filename, "exec", dont_inherit=True)
        except (SyntaxError, ValueError, OverflowError) as exc:
            return _failure(exc)
        return _run(code, _main.__dict__, program=True)

    def run_module(self, module, argv):
        """`python -m module argv...`, as runpy's _run_module_as_main does it."""
        import runpy

        _main.__dict__.clear()
        _main.__dict__.update({"__name__": "__main__", "__builtins__": builtins})
        sys.argv = ["-m", *argv]
        try:
            mod_name, spec, code = runpy._get_module_details(module, _NoModule)
        except _NoModule as exc:
            sys.stderr.write(f"pylon: {exc}\n")
            _flush()
            return session.Outcome_Exited(1)
        except BaseException as exc:
            _flush()
            return _failure(exc)
        sys.argv[0] = spec.origin

        def run():
            runpy._run_code(code, _main.__dict__, None, "__main__", spec)
            pylon_threads.finish()  # as CPython joins non-daemon threads at exit

        return _run_call(run)

    def complete(self, text):
        module = _MODULE_AT.match(text)
        if module is not None:
            return _module_names(module.group(1)) if module.group(1) else []
        match = _TOKEN.search(text)
        if match is None:
            return []
        word = match.group(0)
        completer = rlcompleter.Completer(_main.__dict__)
        found = []
        for state in range(500):
            try:
                candidate = completer.complete(word, state)
            except Exception:
                break
            if candidate is None:
                break
            if candidate not in found:
                found.append(_text(candidate))
        if "." not in word:
            for kw in keyword.softkwlist:
                if kw.startswith(word) and kw not in found:
                    found.append(kw)
        return found
