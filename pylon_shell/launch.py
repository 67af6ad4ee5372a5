"""Starts an interpreter from its cached artifacts, building them first when missing.

It sits above both the builder and the runtimes (building the CPython runtime
runs the runtime itself, to precompile the stdlib), so neither has to import
the other to start a session: the session, the bench and the tests start here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pylon_shell.build import cpython_artifacts, micropython_artifacts
from pylon_shell.errors import DigestMismatch
from pylon_shell.options import RuntimeOptions
from pylon_shell.runtimes.base import Output, Runtime
from pylon_shell.wasmhost.engine import load_component, load_module

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.progress import Progress


def check_digest(component_id: str, expected: str | None, found: str) -> None:
    if expected is not None and expected != found:
        raise DigestMismatch(
            f"component {component_id!r} does not match the digest its plan trusts "
            f"(plan sha256:{expected[:16]}…, found sha256:{found[:16]}…); "
            "rebuild the plan with `pylon plan build` or restore the component"
        )


def start_runtime(
    kind: str,
    options: RuntimeOptions,
    output: Output,
    *,
    progress: Progress | None = None,
    caps: CapLayer | None = None,
    component_id: str | None = None,
    expected_sha256: str | None = None,
) -> Runtime:
    """Start `kind`, building its artifacts first when the cache lacks them.

    `expected_sha256` is the digest the plan trusts for the component; a
    mismatch refuses to start with one line naming the component.
    """
    if kind == "cpython":
        from pylon_shell.runtimes.cpython import CPythonRuntime

        artifacts = cpython_artifacts(progress)
        check_digest(component_id or kind, expected_sha256, artifacts.wasm_sha256)
        component = load_component(artifacts.wasm, artifacts.wasm_sha256, artifacts.native)
        return CPythonRuntime(artifacts, component, options, output, caps)
    if kind == "micropython":
        from pylon_shell.runtimes.micropython import MicroPythonRuntime

        mp = micropython_artifacts(progress)
        check_digest(component_id or kind, expected_sha256, mp.wasm_sha256)
        module = load_module(mp.wasm, mp.wasm_sha256, mp.native)
        return MicroPythonRuntime(module, options, output, caps)
    raise ValueError(f"unknown runtime {kind!r}")
