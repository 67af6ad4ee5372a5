"""A plan and the interpreter started from it: what the CLI, the REPL and the TUI hold.

It restarts the interpreter when the engine had to discard it (a timeout or
an interrupt traps the instance) and switches runtimes with the same plan.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from typing import TypeVar

from pylon_shell.artifacts import ComponentArtifacts
from pylon_shell.caps.grants import Grants, Prompter
from pylon_shell.caps.layer import CapLayer
from pylon_shell.caps.sqlite.provider import SqliteComponentProvider
from pylon_shell.launch import start_runtime
from pylon_shell.options import DEFAULT_TMP_MIB, GuestInput, Preopen
from pylon_shell.plan import Plan
from pylon_shell.progress import Progress
from pylon_shell.replay import CountedInput, ReplayLog
from pylon_shell.runtimes.base import Ok, Outcome, Output, Raised, Runtime
from pylon_shell.transcript import Transcript

T = TypeVar("T")


class Session:
    def __init__(
        self,
        plan: Plan,
        output: Output,
        *,
        progress: Progress | None = None,
        inherit_stdin: bool = False,
        audit: bool = False,
        prompter: Prompter | None = None,
        stdin: GuestInput | None = None,
        tmp_mib: int | None = DEFAULT_TMP_MIB,
        keep_on_interrupt: bool = False,
    ) -> None:
        self.plan = plan
        #: A REPL: Ctrl+C and --timeout raise KeyboardInterrupt in the guest and
        #: keep its state where the runtime can (script mode traps: 124, 130).
        self.keep_on_interrupt = keep_on_interrupt
        #: The live grants table; it outlives restarts and runtime switches.
        self.grants = Grants(plan.capabilities, hosts=plan.hosts, audit=audit, prompter=prompter)
        #: The REPL inputs a fresh interpreter can be restored with (replay.py).
        self.replay = ReplayLog()
        self.replay.watch(self.grants)
        #: True while earlier inputs are replayed: their output is not shown again.
        self._replaying = False
        #: Every input and the last one's output, for export and copy (transcript.py).
        self.transcript = Transcript()
        self._output = lambda fd, data: None if self._replaying else self._show(output, fd, data)
        self._progress = progress
        self._inherit_stdin = inherit_stdin
        #: What input() and sys.stdin read (None: the launcher's stdin when inherited).
        self._stdin = None if stdin is None else CountedInput(stdin, self.replay.read_stdin)
        #: The size limit of each interpreter's private /tmp, in MiB (None: no /tmp).
        self.tmp_mib = tmp_mib
        self._runtime: Runtime | None = None

    @property
    def started(self) -> Runtime | None:
        """The interpreter if one is running; unlike `runtime`, never starts one."""
        return self._runtime

    @property
    def runtime(self) -> Runtime:
        if self._runtime is None:
            self._runtime = self._start()
        return self._runtime

    def _start(self) -> Runtime:
        root = self.plan.root_component
        granted = self.grants.granted | ({"fs", "env"} if self.grants.audit else set())
        options = self.plan.runtime_options(inherit_stdin=self._inherit_stdin, granted=granted)
        if self.plan.runtime == "command":
            # A wasi:cli/run root (pylon_shell/runtimes/command.py): plain WASI only.
            from pylon_shell.runtimes.command import start_command

            assert root.digest is not None
            return start_command(root.id, root.digest, options, self._output)
        if self.plan.packages:
            options.packages = self._package_mounts()
        options.stdin = self._stdin
        options.tmp_mib = self.tmp_mib
        options.keep_on_interrupt = self.keep_on_interrupt
        caps = CapLayer(
            self.plan.runtime,
            self.grants,
            options.preopens,
            dict(self.plan.providers),
            memory_mib=options.memory_mib,
        )
        caps.components["sqlite"] = lambda: self._sqlite_provider(options.preopens, caps)
        declared = self.plan.builtin_component("sqlite-provider")
        if declared is not None and declared.digest is not None:
            # A plan that names the component is refused at start, not at first use.
            self._sqlite_artifacts()
        return start_runtime(
            self.plan.runtime,
            options,
            self._output,
            progress=self._progress,
            caps=caps,
            component_id=root.id,
            expected_sha256=root.digest,
        )

    def _package_mounts(self) -> list[Preopen]:
        """The plan's packages from PyPI, checked and fetched into the store if missing."""
        from pylon_shell import packages

        if self.plan.runtime != "cpython":
            raise packages.PackageError(packages.MICROPYTHON_REFUSAL)
        return packages.mounts(self.plan.packages, packages.progress_for(self._progress))

    def _sqlite_provider(
        self, preopens: list[Preopen], caps: CapLayer
    ) -> SqliteComponentProvider:
        """Start the SQLite provider component (first use only), its digest checked."""
        from pylon_shell import paths
        from pylon_shell.build import cpython_artifacts
        from pylon_shell.wasmhost.engine import load_component

        artifacts = self._sqlite_artifacts()
        component = load_component(artifacts.wasm, artifacts.wasm_sha256, artifacts.native)
        return SqliteComponentProvider(
            self.grants,
            paths.data_dir() / "sqlite",
            preopens,
            cpython_artifacts(self._progress).stdlib,
            component,
            callback=lambda: caps.callbacks.get("sqlite"),
        )

    def _sqlite_artifacts(self) -> ComponentArtifacts:
        """The built SQLite provider, checked against the digest the plan trusts."""
        from pylon_shell.build import sqlite_provider_artifacts
        from pylon_shell.launch import check_digest

        artifacts = sqlite_provider_artifacts(self._progress)
        declared = self.plan.builtin_component("sqlite-provider")
        if declared is not None:
            check_digest(declared.id, declared.digest, artifacts.wasm_sha256)
        return artifacts

    def current_plan(self) -> Plan:
        """The plan as the live grants have made it (toggles, prompts allowed
        for the session): what `:plan` shows and Ctrl+S saves."""
        from dataclasses import replace

        granted = self.grants.granted
        order = [cap for cap in self.plan.capabilities if cap in granted]
        order += sorted(granted - set(order))
        hosts = tuple(str(pattern) for pattern in self.grants.hosts)
        return replace(self.plan, capabilities=tuple(order), hosts=hosts)

    def _show(self, output: Output, fd: int, data: bytes) -> None:
        self.transcript.output(data)
        output(fd, data)

    def run_input(self, source: str) -> Outcome:
        """One REPL input, noted for a later restore and in the transcript."""
        runtime = self.runtime
        self.replay.begin()
        self.transcript.begin()
        outcome = runtime.run_input(source)
        self.replay.end(source, outcome)
        self.transcript.end(source, outcome)
        return outcome

    def restart(self) -> Runtime:
        """A fresh interpreter under the same plan (state is lost)."""
        self.close()
        return self.runtime

    def restore(self) -> str:
        """A fresh interpreter after a trap, with the earlier inputs that are safe
        to run again replayed into it (replay.py); one line saying what it holds."""
        summary = self.replay
        inputs = list(summary.inputs)
        self._runtime_close()
        runtime = self.runtime
        replayed = 0
        self._replaying = True
        try:
            for source in inputs:
                outcome = runtime.run_input(source)
                if not isinstance(outcome, Ok | Raised) or not runtime.alive:
                    break
                if isinstance(outcome, Raised) and outcome.type_name == "KeyboardInterrupt":
                    break  # Ctrl+C during the replay: it stopped part-way
                replayed += 1
        finally:
            self._replaying = False
        if replayed < len(inputs):
            # The replay itself failed (a trap, an exit, Ctrl+C): a clean interpreter.
            self.restart()
            return (
                f"started a fresh session; replaying input {replayed + 1} failed, "
                "so earlier state is lost"
            )
        line = summary.summary(replayed)
        # The fresh interpreter holds exactly the replayed inputs' state, so
        # what is typed next may be replayed after them.
        summary.stopped = ""
        summary.after = 0
        return line

    def switch(self, runtime: str) -> Runtime:
        """The same plan on the other interpreter."""
        self.close()
        self.plan = self.plan.with_runtime(runtime)
        return self.runtime

    def load(self, plan: Plan) -> Runtime:
        """Another plan in the same session: its grants, a fresh interpreter."""
        self.close()
        self.plan = plan
        self.grants.reset(plan.capabilities, plan.hosts)
        return self.runtime

    def close(self) -> None:
        self.replay.clear()
        self._runtime_close()

    def _runtime_close(self) -> None:
        if self._runtime is not None:
            self._runtime.close()
            self._runtime = None


def call_interruptibly(runtime: Runtime, call: Callable[[], T]) -> T:
    """Run `call` on a worker thread so Ctrl+C (SIGINT) reaches us and stops the guest.

    Python only runs signal handlers on the main thread between bytecodes, never
    while it is inside wasmtime's native call, so the main thread waits here and
    turns KeyboardInterrupt into an engine interrupt.
    """
    box: list[T] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            box.append(call())
        except BaseException as error:  # noqa: BLE001 - re-raised on the caller's thread
            errors.append(error)
        finally:
            done.set()

    # Waiting on an Event, not Thread.join: a KeyboardInterrupt landing inside
    # join() can leave the thread looking finished while it still runs.
    thread = threading.Thread(target=work, name="pylon-guest", daemon=True)
    # A Ctrl+C that comes before the guest's call has begun (just after
    # Enter) finds nothing to stop yet: it is kept and delivered once the
    # call runs, as python's REPL would interrupt the code just entered.
    pending = [False]
    if threading.current_thread() is threading.main_thread():
        # A handler, not KeyboardInterrupt, installed before the guest starts:
        # the exception could land anywhere between two bytecodes (in
        # Thread.start() while the guest already runs, in the loop's own
        # test) and end pylon without the guest's interrupt or its message.
        def on_sigint(_sig: int, _frame: object) -> None:
            pending[0] = not runtime.interrupt()

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            thread.start()
            while not done.wait(0.05):
                if pending[0]:
                    pending[0] = not runtime.interrupt()
        finally:
            signal.signal(signal.SIGINT, previous)
    else:
        thread.start()
        while not done.is_set():
            try:
                done.wait(0.05)
                if pending[0]:
                    pending[0] = not runtime.interrupt()
            except KeyboardInterrupt:
                pending[0] = not runtime.interrupt()
    if errors:
        raise errors[0]
    return box[0]
