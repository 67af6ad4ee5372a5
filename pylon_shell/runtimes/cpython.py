"""CPython 3.14 as a wasip2 component in wasmtime, driven through `pylon:shell/session`."""

from __future__ import annotations

import base64
import functools
from typing import TYPE_CHECKING, Any

from pylon_shell.caps import registry
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import (
    GUEST_ZONEINFO,
    MAX_INPUT,
    Exited,
    FdInput,
    InputStopped,
    NoInput,
    Ok,
    Outcome,
    Output,
    Raised,
    ReadState,
    Trapped,
    Watchdog,
    guest_cwd,
    trap_outcome,
    tzdata_dir,
)
from pylon_shell.runtimes.interrupt import CPythonDelivery, DeadlineCallback
from pylon_shell.runtimes.scratch import GUEST_TMP, TmpDir
from pylon_shell.wasmhost.engine import shared_engine

if TYPE_CHECKING:
    import wasmtime.component

    from pylon_shell.artifacts import CPythonArtifacts
    from pylon_shell.caps.layer import CapLayer

SHELL = "pylon:shell"
WIT_VERSION = "0.1.0"


class MalformedGuestData(Exception):
    """The guest broke the pylon:shell/host contract in a way its call cannot
    report back (a void function): the session ends, the launcher goes on."""


class CPythonRuntime:
    """One CPython interpreter instance; its state lives as long as the instance."""

    name = "cpython"

    def __init__(
        self,
        artifacts: CPythonArtifacts,
        component: wasmtime.component.Component,
        options: RuntimeOptions,
        output: Output,
        caps: CapLayer | None = None,
        stdlib_writable: bool = False,
    ) -> None:
        import json

        import wasmtime
        from wasmtime.component import Linker

        from pylon_shell.caps import bulk
        from pylon_shell.caps.grants import Grants
        from pylon_shell.caps.layer import CapLayer, link_cpython

        engine = shared_engine()
        self.caps = caps or CapLayer("cpython", Grants(), options.preopens)
        self.caps.bulk = bulk.BulkChannel()
        self.version = f"CPython {artifacts.python_version}"
        self._options = options
        self._output = output
        self._dead: Trapped | None = None
        self._watchdog = Watchdog(engine.increment_epoch, on_fire=self.caps.interrupt)
        self._reading = ReadState(self._watchdog)
        if options.stdin is not None:
            self._input = options.stdin
        else:
            self._input = FdInput(0, output) if options.inherit_stdin else NoInput()
        self._tmp = None
        if options.tmp_mib is not None:
            self._tmp = TmpDir(options.tmp_mib)
            self._tmp.watch(lambda: self._watchdog.stop("limit"))

        #: Host imports in flight, and when the last one returned: an interrupt
        #: is not delivered while componentize-py's glue lifts a result into
        #: Python objects (a KeyboardInterrupt there aborts the instance).
        self._imports = _ImportClock()
        linker = Linker(engine)
        linker.add_wasip2()
        with linker.root() as bare_root:
            root = _Timed(bare_root, self._imports)
            with root.add_instance(f"{SHELL}/host@{WIT_VERSION}") as host:
                host.add_func("write", self._on_write)
                host.add_func("request", self._on_request)
                host.add_func("import-module", lambda _s, m, i: self.caps.import_module(m, i))
                host.add_func("events", lambda _s, batch: self.caps.guest_events(batch))
                host.add_func("read-line", self._on_read_line)
                host.add_func("read-stdin", self._on_read_stdin)
            link_cpython(self.caps, root)

        store = wasmtime.Store(engine)
        if options.memory_mib is not None:
            store.set_limits(memory_size=options.memory_mib * 1024 * 1024)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["python"]
        env = dict(options.env)
        if self._tmp is not None:
            env.setdefault("TMPDIR", GUEST_TMP)
        wasi.env = sorted(env.items())
        # C-level writes that bypass sys.stdout (fatal errors) still reach the user.
        wasi.stdout_custom = self._on_wasi_stdout
        wasi.stderr_custom = self._on_wasi_stderr
        # No WASI stdin: input() and sys.stdin read through pylon:shell/host, whose
        # reads a timeout or Ctrl+C can stop (a WASI read blocks in host code).
        wasi.preopen_dir(str(artifacts.stdlib), "/python", stdlib_writable)
        wasi.preopen_dir(str(self.caps.bulk.dir), bulk.GUEST_DIR, False)
        zoneinfo = tzdata_dir()
        if zoneinfo is not None:
            wasi.preopen_dir(str(zoneinfo), GUEST_ZONEINFO, False)
        if self._tmp is not None:
            wasi.preopen_dir(str(self._tmp.path), GUEST_TMP, True)
        for preopen in options.preopens:
            wasi.preopen_dir(str(preopen.host), preopen.guest, not preopen.readonly)
        for package in options.packages:  # packages from PyPI: always read-only
            wasi.preopen_dir(str(package.host), package.guest, False)
        store.set_wasi(wasi)
        store.set_epoch_deadline(1)
        self._store: wasmtime.Store | None = store
        # Ctrl+C and --timeout in a REPL: KeyboardInterrupt inside the guest,
        # its state kept (runtimes/interrupt.py); otherwise the call is trapped.
        self._delivery: CPythonDelivery | None = None
        self._probed = False
        self._deadline = DeadlineCallback(
            store,
            self._watchdog.stopped,
            lambda: self._delivery if options.keep_on_interrupt else None,
            settled=self._imports.settled,
        )
        self._watchdog.keep_ticking = True
        self._reading.keep = options.keep_on_interrupt
        instance = linker.instantiate(store, component)
        iface = instance.get_export_index(store, f"{SHELL}/session@{WIT_VERSION}")
        self._funcs: dict[str, Any] = {}
        exports = ("configure", "run-input", "is-complete", "run-program", "run-module", "complete")
        for export in exports:
            index = instance.get_export_index(store, export, iface)
            func = instance.get_func(store, index) if index is not None else None
            if func is None:
                raise RuntimeError(f"the session component lacks {export!r}; run `pylon build`")
            self._funcs[export] = func
        for cap_package in registry.plugins().values():
            if cap_package.callbacks:
                callback = self._export_func(instance, store, cap_package.callbacks, "invoke")
                self.caps.callbacks[cap_package.cap_name] = functools.partial(
                    self._on_callback, callback
                )
        if caps is not None:
            settings = self.caps.guest_settings()
            settings["sys_path"] = [package.guest for package in options.packages]
            settings["cwd"] = guest_cwd(
                options.preopens, GUEST_TMP if self._tmp is not None else None
            )
            self._call("configure", json.dumps(settings), timed=False)

    # -- host side of pylon:shell/host --------------------------------------

    def _on_request(self, _store: object, cap: str, op: str, target: str) -> bool:
        if cap == "pylon" and op == "interrupt-probe":
            # The guest's first call, before any user code: where its memory is.
            if not self._probed and self._options.keep_on_interrupt:
                self._delivery = CPythonDelivery.probe(target)
            self._probed = True
            return self._delivery is not None
        return self.caps.request(cap, op, target)

    def _on_write(self, _store: object, fd: int, data: str) -> None:
        from pylon_shell.caps.values import ProviderError

        self.caps.guest_called()
        try:
            self._output(fd, self.caps.from_octets(data))
        except ProviderError as error:
            # Only a program that calls the binding itself sends this, and `write`
            # has no error to return: its session ends, with the reason.
            raise MalformedGuestData(f"output that is not base64 ({error.message})") from None

    def _on_read_line(self, _store: object, prompt: str) -> Any:
        from wasmtime.component import Variant

        self.caps.guest_called()
        tag, line = self._reading.run(
            lambda cancelled: self._input.read_line(prompt[:MAX_INPUT], cancelled)
        )
        if tag == "data" and line is None:
            tag = "eof"
        return Variant(tag, None if line is None else line[:MAX_INPUT])

    def _on_read_stdin(self, _store: object, size: int) -> Any:
        from wasmtime.component import Variant

        self.caps.guest_called()
        size = max(1, min(int(size), MAX_INPUT))
        tag, data = self._reading.run(lambda cancelled: self._input.read(size, cancelled))
        if tag == "data" and not data:
            tag = "eof"
        return Variant(tag, None if data is None else base64.b64encode(data[:size]).decode())

    def _on_wasi_stdout(self, data: bytes) -> None:
        self._output(1, bytes(data))

    def _on_wasi_stderr(self, data: bytes) -> None:
        self._output(2, bytes(data))

    @staticmethod
    def _export_func(instance: Any, store: Any, interface: str, name: str) -> Any:
        """The session component's export `name` of `interface`."""
        found = instance.get_export_index(store, interface)
        index = instance.get_export_index(store, name, found) if found else None
        func = instance.get_func(store, index) if index is not None else None
        if func is None:
            short = interface.rpartition("/")[2].partition("@")[0]
            raise RuntimeError(f"the session component lacks {short}; run `pylon build`")
        return func

    def _on_callback(self, callback: Any, target: int, method: str, arguments: str) -> Any:
        """A provider calls one of the program's callbacks (its sqlite3
        functions, aggregates, authorizer...): into the guest, which is waiting
        inside its own call (wasmtime lets the host enter the instance again
        there). Its result<string, failure> as lifted: the packed result, or a
        failure record."""
        if self._store is None:
            raise RuntimeError("the runtime is closed")
        result = callback(self._store, target, method, arguments)
        callback.post_return(self._store)
        return result

    # -- the Runtime protocol ------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._dead is None and self._store is not None

    def _call(self, export: str, *args: Any, timed: bool = True) -> Any:
        import wasmtime

        if self._dead is not None:
            return self._dead
        if self._store is None:
            raise RuntimeError("the runtime is closed")
        func = self._funcs[export]
        self._store.set_epoch_deadline(1)
        self._deadline.reset()
        self._watchdog.begin(self._options.timeout if timed else None)
        if self._tmp is not None:
            self._tmp.begin()
        try:
            result = func(self._store, *args)
            func.post_return(self._store)
            if self._deadline.delivered or self._watchdog.fired is not None:
                result = _interrupted(result, self._watchdog.fired, self._options.timeout)
        except (wasmtime.Trap, wasmtime.WasmtimeError, InputStopped) as error:
            message = str(error)
            error.__traceback__ = None  # its frames hold the store; see close()
            self._dead = trap_outcome(message, self._watchdog.fired, self._options.timeout)
            result = self._dead
        except MalformedGuestData as error:
            self._dead = Trapped("crash", f"the guest sent the host {error}; its session is gone")
            result = self._dead
        finally:
            self._watchdog.end()
            if self._delivery is not None:
                self._delivery.clear()
        if self._tmp is not None and self._tmp.end():
            # Past the /tmp limit: the session ends, whatever the call returned.
            self._dead = Trapped("limit", self._tmp.message())
            return self._dead
        return result

    def _outcome(self, export: str, *args: Any) -> Outcome:
        result = self._call(export, *args)
        if isinstance(result, Trapped):
            return result
        return _convert(result)

    def run_input(self, source: str) -> Outcome:
        return self._outcome("run-input", source)

    def run_program(self, source: str, filename: str, argv: list[str]) -> Outcome:
        return self._outcome("run-program", source, filename, argv)

    def run_module(self, module: str, argv: list[str]) -> Outcome:
        return self._outcome("run-module", module, argv)

    def is_complete(self, source: str) -> bool:
        result = self._call("is-complete", source, timed=False)
        return True if isinstance(result, Trapped) else bool(result)

    def complete(self, text: str) -> list[str]:
        result = self._call("complete", text, timed=False)
        return [] if isinstance(result, Trapped) else list(result)

    def interrupt(self) -> bool:
        # Waiting at input(): Ctrl+C cancels the read (KeyboardInterrupt in the
        # guest, its state kept), as in python.
        return self._reading.cancel() or self._watchdog.interrupt()

    def close(self) -> None:
        # Dropping the store here, not at interpreter exit: wasmtime's WASI
        # threads must not call back into a Python that is shutting down.
        self._funcs.clear()
        self._store = None
        self.caps.close()
        if self._tmp is not None:
            self._tmp.close()


class _ImportClock:
    def __init__(self) -> None:
        self.running = 0
        self.returned = 0.0

    def settled(self) -> bool:
        import time

        return self.running == 0 and time.monotonic() - self.returned > SETTLE


#: How long after a host import returns before an interrupt may be delivered.
SETTLE = 0.02


class _Timed:
    """A linker instance whose host functions keep `_ImportClock` up to date."""

    def __init__(self, inner: Any, clock: _ImportClock) -> None:
        self._inner = inner
        self._clock = clock

    def __enter__(self) -> _Timed:
        self._inner.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.__exit__(*exc)

    def add_instance(self, name: str) -> _Timed:
        return _Timed(self._inner.add_instance(name), self._clock)

    def add_func(self, name: str, func: Any) -> None:
        import time

        clock = self._clock

        def timed(*args: Any) -> Any:
            clock.running += 1
            try:
                return func(*args)
            finally:
                clock.running -= 1
                clock.returned = time.monotonic()

        self._inner.add_func(name, timed)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _interrupted(result: Any, fired: str | None, timeout: float | None) -> Any:
    """A call that raised the KeyboardInterrupt a --timeout delivered says so."""
    if fired is None or result is None or isinstance(result, int):
        return result
    name = getattr(result, "type-name", None)
    if fired == "interrupt" and isinstance(name, str) and name.endswith("InterruptedError"):
        # A cap call whose provider process was killed for Ctrl+C: to the user
        # that is the KeyboardInterrupt they asked for (the guest saw an
        # InterruptedError; its state is kept either way).
        setattr(result, "type-name", "KeyboardInterrupt")
        lines = result.traceback.rstrip("\n").split("\n")
        lines[-1] = "KeyboardInterrupt"
        result.traceback = "\n".join(lines) + "\n"
        return result
    if fired != "timeout" or name != "KeyboardInterrupt":
        return result
    note = f"KeyboardInterrupt: timed out after {timeout:g} s (raise it with --timeout)"
    lines = result.traceback.rstrip("\n").split("\n")
    if lines and lines[-1] == "KeyboardInterrupt":
        lines[-1] = note
        result.traceback = "\n".join(lines) + "\n"
    return result


def _convert(result: Any) -> Outcome:
    """The lifted WIT `outcome` as pylon's Outcome types.

    wasmtime-py lifts a variant whose cases have distinct Python types
    untagged: `ok` is None, `exited` an int, `raised` a record.
    """
    if result is None:
        return Ok()
    if isinstance(result, int):
        return Exited(result)
    return Raised(getattr(result, "type-name"), result.traceback, result.denial)
