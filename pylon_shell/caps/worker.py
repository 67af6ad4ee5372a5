"""The provider process: where host libraries run on guest data, confined and killable.

Started by `ProviderProcess` (caps/process.py) on a session's first host cap
call, it confines itself before it reads a single guest byte (Landlock,
rlimits, an empty environment, its scratch directory as cwd), then serves
calls `(cap, method, arguments)` on the providers of the cap packages, one at a
time. It holds no grants: each call carries the caps the launcher's table
granted outright when it sent it (never one that reaches hosts), and every
other check a provider makes (`grants.call`, `reaches`, ...) is a question to
the launcher, asked over the same channel while the launcher waits for the
call's answer. So the live grants table, the permission prompts and the
events stay in the launcher, and a toggle applies to the next call.

If a library crashes here, only this process dies; the launcher tells the
guest and starts a fresh worker on the next call. It is never imported by the
launcher.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pylon_shell.caps import channel, values
from pylon_shell.caps.grants import CapCallEvent, CapDenied
from pylon_shell.caps.values import ProviderError


class RemoteGrants:
    """The Grants methods providers use, answered by the launcher."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        #: What the launcher granted outright when it sent the current call
        #: (never a cap that reaches hosts): checks of these need no question.
        self.granted: frozenset[str] = frozenset()

    def _ask(self, method: str, *args: Any) -> Any:
        channel.send(self._sock, {"q": [method, list(args)]})
        reply = channel.receive(self._sock)
        if not isinstance(reply, dict) or "a" not in reply:
            raise channel.ChannelError("the launcher's answer is malformed")
        return reply["a"]

    def _tell(self, *event: Any) -> None:
        channel.send(self._sock, {"e": list(event)})

    @contextmanager
    def call(self, cap: str, operation: str, target: str) -> Iterator[str]:
        if cap in self.granted:
            allowed, how, denial = True, "grant", None
        else:
            allowed, how, denial = self._ask("decide", cap, operation, target)
        started = time.perf_counter()
        ok = False
        try:
            if not allowed:
                raise CapDenied(denial)
            yield how
            ok = True
        finally:
            duration = time.perf_counter() - started
            self._tell(cap, operation, target, allowed, duration, how, ok)

    def publish(self, event: CapCallEvent) -> None:
        self._tell(
            event.cap, event.operation, event.target, event.granted, event.duration,
            event.decided_by, event.ok,
        )  # fmt: skip

    def reaches(self, cap: str, target: str) -> bool:
        return bool(self._ask("reaches", cap, target))

    def is_granted(self, cap: str) -> bool:
        return bool(self._ask("is_granted", cap))

    def still_allows(self, cap: str, target: str, decided_by: str) -> bool:
        return bool(self._ask("still_allows", cap, target, decided_by))

    def denial(self, cap: str, operation: str, target: str) -> str:
        return str(self._ask("denial", cap, operation, target))


class Providers:
    """The providers of this worker, made on their first call."""

    def __init__(self, grants: RemoteGrants, config: dict[str, Any]) -> None:
        self._grants = grants
        self._config = config
        self._made: dict[str, Any] = {}

    def get(self, cap: str) -> Any:
        if cap not in self._made:
            self._made[cap] = self._make(cap)
        return self._made[cap]

    def _make(self, cap: str) -> Any:
        from pylon_shell.caps import registry

        package = registry.plugin(cap)
        if package is None or not package.provider and not package.make:
            raise ProviderError("ValueError", f"no provider process serves the {cap} cap")
        grants: Any = self._grants
        memory_mib = self._config.get("memory_mib")
        if package.make:
            from pylon_shell.options import Preopen

            preopens = [Preopen(Path(h), g, bool(ro)) for h, g, ro in self._config["preopens"]]
            setup = registry.ProviderSetup(preopens, memory_mib, self.get)
            return registry.hook(package.make)(grants, setup)
        return registry.provider_class(cap)(grants, memory_mib=memory_mib)

    def method(self, cap: str, name: str, args: list[Any]) -> Callable[..., Any]:
        """The provider's public method `name`, once `args` fit its signature
        (a guest that calls with the wrong arity gets a TypeError, not an
        internal error)."""
        from pylon_shell.caps import registry

        package = registry.plugin(cap)
        if package is None:
            raise ProviderError("ValueError", f"no provider process serves the {cap} cap")
        if not package.checks_own_grant and name not in package.methods:
            raise ProviderError("ValueError", f"the {cap} package has no call {name!r}")
        provider = self.get(cap)
        function = getattr(type(provider), name, None) if not name.startswith("_") else None
        if not callable(function):
            raise ProviderError("ValueError", f"the {cap} provider has no call {name!r}")
        bound = getattr(provider, name)
        try:
            inspect.signature(bound).bind(*args)
        except TypeError as error:
            raise ProviderError("TypeError", f"{cap}.{name}: {error}") from None
        if package.checks_own_grant:
            return bound  # pylon's own providers check their grant themselves
        grants = self._grants

        def checked(*call_args: Any) -> Any:
            # A cap package's provider never runs ungranted: the grant is checked
            # here, for every call, whatever the provider itself does.
            with grants.call(package.cap_name, name, ""):
                return bound(*call_args)

        return checked


#: How the worker's scratch directory is named to the guest.
SCRATCH_NAME = "/.pylon-provider"


class HostPaths:
    """Hides host paths in what goes back to the guest: a library's setting or
    error message (DuckDB's `duckdb_settings()`, "Cannot open file ...") names
    the host paths it works on, and the guest must learn only its own paths.
    Each granted directory is shown as its guest path, the scratch directory as
    SCRATCH_NAME."""

    def __init__(self, preopens: list[list[Any]], scratch: str) -> None:
        names: dict[str, str] = {}
        for host, guest, _ in preopens:
            names[str(host)] = guest
            names[os.path.realpath(host)] = guest
        names[scratch] = names[os.path.realpath(scratch)] = SCRATCH_NAME
        self._names = names
        order = sorted(names, key=len, reverse=True)
        self._pattern = re.compile(
            "|".join(re.escape(name) for name in order) + r"""(?=[/\s'"),\]]|$)"""
        )

    def text(self, value: str) -> str:
        return self._pattern.sub(lambda m: self._names[m.group(0)], value)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value) if self._pattern.search(value) else value
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.value(v) for v in value)
        if isinstance(value, dict):
            return {self.value(k): self.value(v) for k, v in value.items()}
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return dataclasses.replace(
                value,
                **{f.name: self.value(getattr(value, f.name)) for f in dataclasses.fields(value)},
            )
        return value


def serve(
    sock: socket.socket, grants: RemoteGrants, providers: Providers, paths: HostPaths
) -> None:
    """Answer calls until the launcher closes the channel."""
    while True:
        try:
            request = channel.receive(sock)
            grants.granted = frozenset(request.get("g", ()))
            reply = paths.value(_run(providers, request))
            try:
                channel.send(sock, reply)
            except channel.ChannelError as error:
                # The result itself is over the frame limit.
                channel.send(sock, {"x": ["MemoryError", str(error)]})
        except (channel.ChannelError, OSError):
            return


def _run(providers: Providers, request: Any) -> dict[str, Any]:
    """One call, as the reply the launcher reads: {"r": result} or {"x": [kind, message]}."""
    try:
        cap, name, args = request["c"]
        return {"r": providers.method(cap, name, args)(*args)}
    except ProviderError as error:
        return {"x": [error.kind, error.message]}
    except CapDenied as denied:
        return {"x": ["PermissionError", str(denied)]}
    except MemoryError:
        return {"x": ["MemoryError", "the provider ran out of memory (raise it with --memory)"]}
    except channel.ChannelError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the launcher, which logs it
        return {
            "x": ["OperationalError", f"pylon internal error in a provider: {error!r}"],
            "internal": True,
        }


def _watch_parent(sock: socket.socket, parent: int) -> None:
    """End this process the moment the launcher is gone: its end of the channel
    closes (a closed channel is not seen by a library call that is running,
    and the files this process holds, such as a DuckDB database's lock, must
    be let go at once). Waits for the hang-up alone, never for data, so the
    serving thread's reads are untouched."""
    events = getattr(select, "POLLRDHUP", 0) | select.POLLHUP | select.POLLERR
    poller = select.poll()
    poller.register(sock.fileno(), events)
    while True:
        if poller.poll(1000) or os.getppid() != parent:
            os._exit(0)


def main(fd: int) -> None:
    from pylon_shell.caps import confine

    sock = socket.socket(fileno=fd)
    config = channel.receive(sock)
    values.set_handle_base(int(config["handle_base"]))
    os.chdir(config["scratch"])
    from pylon_shell.caps import registry

    registry.adopt(config.get("cap_packages") or [])  # before Landlock: their code is read
    confine.limit_resources(config.get("memory_mib"))
    ports = config.get("connect_ports")
    abi = confine.restrict_self(
        confine.Confinement(
            read_write=[Path(p) for p in config["read_write"]],
            read_only=[Path(p) for p in config["read_only"]],
            connect_ports=None if ports is None else set(ports),
            memory_mib=config.get("memory_mib"),
        )
    )
    threading.Thread(target=_watch_parent, args=(sock, config["parent"]), daemon=True).start()
    channel.send(sock, {"ready": abi})
    grants = RemoteGrants(sock)
    serve(
        sock,
        grants,
        Providers(grants, config),
        HostPaths(config["preopens"], config["scratch"]),
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
