"""A root component that exports only `wasi:cli/run` (a WASI command, such as
upstream's python.wasm), run from a plan that names it by digest.

It has no `pylon:shell/session`, so only script mode works: each
`run_program` instantiates the component afresh with the script, its
arguments, the plan's preopens, environment (and secrets) and limits, and
calls `run`. The script is copied into a private read-only directory at
SCRIPT_DIR; the command sees `argv = ["python", SCRIPT_DIR/NAME, *args]`, as
`python NAME args...` would. pylon's caps beyond fs and env are not reachable:
the component imports none of pylon's interfaces.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from pylon_shell.errors import PylonError
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import (
    Exited,
    Ok,
    Outcome,
    Output,
    Raised,
    Trapped,
    Watchdog,
    trap_outcome,
)
from pylon_shell.wasmhost.engine import NativeCode, load_component, shared_engine

SCRIPT_DIR = "/.pylon-script"
RUN_INTERFACE = re.compile(r"^wasi:cli/run@0\.2\.\d+$")
REPL_REFUSAL = (
    "the plan's root component {root!r} exports only wasi:cli/run; the REPL and the TUI "
    "need pylon's session interface (pylon:shell/session): run a script instead, "
    "`pylon --plan PLAN SCRIPT [ARGS]`"
)


class CommandError(PylonError):
    status = 2


class CommandRuntime:
    """The Runtime protocol over a `wasi:cli/run` component: script mode only."""

    name = "command"

    def __init__(
        self, wasm: Path, sha256: str, component_id: str, options: RuntimeOptions, output: Output
    ) -> None:
        from pylon_shell import store

        self.version = f"wasi:cli/run component {component_id!r} (sha256:{sha256[:12]}…)"
        self._options = options
        self._output = output
        self._id = component_id
        engine = shared_engine()
        native = NativeCode(store.root() / "native" / f"{sha256}.cwasm")
        native.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._component = load_component(wasm, sha256, native)
        except Exception as error:  # noqa: BLE001 - a core module, a damaged file
            raise CommandError(
                f"component {component_id!r} (sha256:{sha256[:16]}…) is not a component "
                f"wasmtime can load ({str(error).splitlines()[0][:200]})"
            ) from None
        exports = self._component.type.exports(engine)
        runs = sorted(name for name in exports if RUN_INTERFACE.match(name))
        if not runs:
            shown = ", ".join(sorted(exports)[:6]) or "nothing"
            raise CommandError(
                f"component {component_id!r} exports neither pylon:shell/session nor "
                f"wasi:cli/run (it exports {shown}); pylon cannot run it"
            )
        self._run_interface = runs[-1]
        self._watchdog = Watchdog(engine.increment_epoch)
        self._closed = False

    @property
    def alive(self) -> bool:
        return not self._closed

    def run_program(self, source: str, filename: str, argv: list[str]) -> Outcome:
        import wasmtime
        from wasmtime.component import Linker

        if self._closed:
            raise RuntimeError("the runtime is closed")
        engine = shared_engine()
        folder = Path(tempfile.mkdtemp(prefix="pylon-script-"))
        try:
            name = Path(filename).name if filename and not filename.startswith("<") else "main.py"
            (folder / name).write_text(source, encoding="utf-8", errors="surrogateescape")
            linker = Linker(engine)
            linker.add_wasip2()
            store = wasmtime.Store(engine)
            if self._options.memory_mib is not None:
                store.set_limits(memory_size=self._options.memory_mib * 1024 * 1024)
            wasi = wasmtime.WasiConfig()
            wasi.argv = ["python", f"{SCRIPT_DIR}/{name}", *argv[1:]]
            wasi.env = sorted(self._options.env.items())
            wasi.stdout_custom = lambda data: self._output(1, bytes(data))
            wasi.stderr_custom = lambda data: self._output(2, bytes(data))
            if self._options.inherit_stdin:
                wasi.inherit_stdin()
            wasi.preopen_dir(str(folder), SCRIPT_DIR, False)
            for preopen in self._options.preopens:
                wasi.preopen_dir(str(preopen.host), preopen.guest, not preopen.readonly)
            store.set_wasi(wasi)
            store.set_epoch_deadline(1)
            return self._call(linker, store)
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    def _call(self, linker: Any, store: Any) -> Outcome:
        import wasmtime

        timeout = self._options.timeout
        self._watchdog.begin(timeout)
        try:
            instance = linker.instantiate(store, self._component)
            iface = instance.get_export_index(store, self._run_interface)
            run = instance.get_func(store, instance.get_export_index(store, "run", iface))
            result = run(store)
            run.post_return(store)
        except wasmtime.ExitTrap as error:
            return Ok() if error.code == 0 else Exited(error.code)
        except (wasmtime.Trap, wasmtime.WasmtimeError) as error:
            message = str(error)
            found = re.search(r"exit status (\d+)", message)
            if found and self._watchdog.fired is None:
                code = int(found.group(1))
                return Ok() if code == 0 else Exited(code)
            return trap_outcome(message, self._watchdog.fired, timeout)
        finally:
            self._watchdog.end()
        # wasi:cli/run's `run` returns result<_, _>, lifted as Variant("ok"|"err"):
        # an error is exit status 1, as wasmtime's CLI reports it.
        return Ok() if getattr(result, "tag", None) == "ok" else Exited(1)

    def run_module(self, module: str, argv: list[str]) -> Outcome:
        return Raised(
            "UsageError",
            "",
            denial=f"-m needs pylon's session interface; the command {self._id!r} runs scripts",
        )

    def run_input(self, source: str) -> Outcome:
        return Trapped("crash", REPL_REFUSAL.format(root=self._id))

    def is_complete(self, source: str) -> bool:
        return True

    def complete(self, text: str) -> list[str]:
        return []

    def interrupt(self) -> bool:
        return self._watchdog.interrupt()

    def close(self) -> None:
        self._closed = True


def start_command(
    component_id: str, digest: str, options: RuntimeOptions, output: Output
) -> CommandRuntime:
    """The command runtime for the store entry `digest`, its bytes checked."""
    from pylon_shell import store

    entry = store.get(digest)
    if entry is None:
        raise CommandError(store.missing_message(component_id, digest))
    store.verify(entry)
    return CommandRuntime(entry.path, digest, component_id, options, output)
