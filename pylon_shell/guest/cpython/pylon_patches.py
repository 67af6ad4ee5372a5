"""Runs INSIDE the CPython guest: small changes to stdlib modules, made when
they are first imported, where the stdlib assumes what the sandbox lacks.

- `concurrent.futures.thread`: ThreadPoolExecutor without worker threads
  (pylon_threads.patch_futures).
- `asyncio.base_events`: `create_subprocess_exec/shell` (the loop's
  `subprocess_exec/shell`) refused with one line, not a failure deep in
  the child watcher.
"""

import errno
import sys

import pylon_threads


def _asyncio_base_events(module):
    loop = module.BaseEventLoop

    def refuse(how, command):
        shown = command if isinstance(command, str) else repr(command)
        return OSError(
            errno.ENOTSUP,
            f"asyncio cannot start a subprocess ({how} {shown}): the pylon guest has no "
            "processes (WebAssembly/WASI)",
        )

    async def subprocess_exec(self, protocol_factory, program, *args, **kwargs):
        raise refuse("exec", program)

    async def subprocess_shell(self, protocol_factory, cmd, **kwargs):
        raise refuse("shell", cmd)

    subprocess_exec.__doc__ = loop.subprocess_exec.__doc__
    subprocess_shell.__doc__ = loop.subprocess_shell.__doc__
    loop.subprocess_exec = subprocess_exec
    loop.subprocess_shell = subprocess_shell


def _asyncio_streams(module):
    """A stream whose connection a cap refused (a send on a TLS-only
    connection, a revoke) says so: drain's ConnectionResetError is caused by
    the refusal, so the session shows its one line."""
    mixin = module.FlowControlMixin
    lost, helper = mixin.connection_lost, mixin._drain_helper

    def connection_lost(self, exc):
        self._pylon_lost = exc
        lost(self, exc)

    async def _drain_helper(self):
        try:
            await helper(self)
        except ConnectionResetError as error:
            cause = getattr(self, "_pylon_lost", None)
            if isinstance(cause, PermissionError) and error.__cause__ is None:
                raise error from cause
            raise

    mixin.connection_lost = connection_lost
    mixin._drain_helper = _drain_helper


PATCHES = {
    "asyncio.streams": _asyncio_streams,
    "concurrent.futures.thread": pylon_threads.patch_futures,
    "asyncio.base_events": _asyncio_base_events,
}


class _PatchingLoader:
    def __init__(self, loader, patch):
        self._loader = loader
        self._patch = patch

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name):
        return getattr(self._loader, name)


class Patcher:
    """A meta path finder that finds the modules of PATCHES with the finders
    after it and patches them once they have run."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        patch = PATCHES.get(fullname)
        if patch is None:
            return None
        finders = sys.meta_path
        for finder in finders[finders.index(cls) + 1:]:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def install():
    if Patcher not in sys.meta_path:
        # After pylon_caps' gate, which must see every import first.
        sys.meta_path.insert(1 if sys.meta_path else 0, Patcher)
    for name, patch in PATCHES.items():
        if name in sys.modules:
            patch(sys.modules[name])
