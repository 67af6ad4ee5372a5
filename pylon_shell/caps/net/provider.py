"""The net cap's host provider: TCP client connections the launcher opens for the guest.

The engine's WASI sockets can only be given the whole network at once, so the
guest's `socket` module speaks pylon:cap/net instead and every connection is
opened here, to a `host:port` of the plan's allowlist. A connection opened
under the tls cap alone may only carry TLS: its first plaintext byte needs the
net cap. The tls provider upgrades a connection in place (`Connection.sock`
becomes the host's SSLSocket), so send and recv serve both.
"""

from __future__ import annotations

import math
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from pylon_shell.caps.grants import CapDenied, Grants
from pylon_shell.caps.hosts import HostNameError, check_host
from pylon_shell.caps.hosts import target as host_target
from pylon_shell.caps.values import ProviderError, handle_counter

if TYPE_CHECKING:
    from pylon_shell.caps.registry import ProviderSetup

T = TypeVar("T")
#: The most bytes one recv hands the guest (a larger call would run out of the
#: engine's per-call budget for lowering lists).
MAX_RECV = 1 << 20
#: Open connections per session.
MAX_CONNECTIONS = 1024
#: The longest one poll waits, in seconds (the guest waits in slices, so that
#: --timeout and Ctrl+C reach it between them).
MAX_POLL_WAIT = 0.1
#: pylon:cap/net poll's bits.
READABLE, WRITABLE, HUNG_UP, FAILED = 1, 2, 4, 8


@dataclass
class Connection:
    sock: socket.socket
    target: str
    #: The cap the data on this connection is under: "net", or "tls" once it
    #: carries TLS (or when only tls allowed it).
    cap: str
    #: How the grants allowed it (CapCallEvent.decided_by), for later checks.
    decided_by: str
    tls: bool = False
    #: The host TLS object (tls.bio-new) whose encrypted bytes this connection
    #: carries, once the first of them was sent on it (asyncio's TLS).
    bio: Any = None


def failure(error: BaseException) -> ProviderError:
    """An OS or TLS error as the guest should raise it: the class's name, and
    the text in the "[Errno N] text" form the guest parses back into errno."""
    if isinstance(error, ssl.SSLCertVerificationError):
        # The kind carries OpenSSL's verify code, for the guest error's verify_code.
        kind = f"SSLCertVerificationError/{error.verify_code}"
        return ProviderError(kind, f"[Errno {error.errno}] {error}")
    if isinstance(error, ssl.SSLError):
        return ProviderError(type(error).__name__, f"[Errno {error.errno}] {error}")
    if isinstance(error, socket.gaierror):
        return ProviderError("gaierror", f"[Errno {error.errno}] {error.strerror}")
    if isinstance(error, TimeoutError):
        return ProviderError("TimeoutError", "timed out")
    if isinstance(error, OSError) and error.errno is not None:
        return ProviderError(type(error).__name__, f"[Errno {error.errno}] {error.strerror}")
    return ProviderError(
        type(error).__name__ if isinstance(error, OSError) else "OSError", str(error)
    )


def checked_host(host: str) -> str:
    """The normalized form of a host the guest asked for (hosts.check_host),
    or the guest's ValueError naming the host and why it is refused."""
    try:
        return check_host(host)
    except HostNameError as error:
        raise ProviderError("ValueError", str(error)) from None


class NetProvider:
    def __init__(self, grants: Grants) -> None:
        self._grants = grants
        self._connections: dict[int, Connection] = {}
        self._ids = handle_counter()
        self._lock = threading.Lock()
        #: The tls provider's claim on bytes a guest sends: (connection, data)
        #: -> whether they are encrypted bytes its TLS made for the guest.
        self.ciphertext: Callable[[Connection, bytes], bool] | None = None

    def _cap_for_connect(self, where: str) -> str:
        """Which cap a new connection is under: net if it allows the host,
        else tls (TLS only); when neither does, the one whose refusal explains it."""
        if self._grants.reaches("net", where):
            return "net"
        if self._grants.reaches("tls", where):
            return "tls"
        return "net" if self._grants.is_granted("net") else "tls"

    def connect(self, host: str, port: int, timeout: float | None) -> int:
        # The name is checked before it is matched, and what is connected to
        # is the checked form: the guest's string never reaches the resolver.
        name = checked_host(host)
        where = host_target(name, port)
        if len(self._connections) >= MAX_CONNECTIONS:
            raise ProviderError("OSError", f"[Errno 24] more than {MAX_CONNECTIONS} connections")
        cap = self._cap_for_connect(where)
        with self._grants.call(cap, "connect", where) as how:
            sock = self._connect((name, port), timeout)
        with self._lock:
            handle = next(self._ids)
            self._connections[handle] = Connection(sock, where, cap, how)
        return handle

    def _connect(self, address: tuple[str, int], timeout: float | None) -> socket.socket:
        """socket.create_connection. A connect that hangs (a name lookup, a
        full backlog) is stopped with the whole provider process when the
        guest's call is (--timeout, Ctrl+C)."""
        try:
            return socket.create_connection(address, timeout=timeout)
        except (OSError, ValueError, UnicodeError) as error:
            raise failure(error) from None

    def get(self, handle: int) -> Connection:
        connection = self._connections.get(handle)
        if connection is None:
            raise ProviderError("OSError", "[Errno 9] Bad file descriptor")
        return connection

    @contextmanager
    def _io(self, handle: int, operation: str, tls_bytes: bool = False) -> Iterator[Connection]:
        """Data on an open connection: still allowed (a revoke applies to the
        next call), and plaintext on a TLS-only connection needs net first."""
        connection = self.get(handle)
        if not self._grants.still_allows(connection.cap, connection.target, connection.decided_by):
            raise CapDenied(self._grants.denial(connection.cap, operation, connection.target))
        if connection.cap == "tls" and not connection.tls and not tls_bytes:
            # The first plaintext on a connection only tls allowed.
            with self._grants.call("net", operation, connection.target) as how:
                connection.cap, connection.decided_by = "net", how
        try:
            yield connection
        except (OSError, ValueError) as error:
            raise failure(error) from None

    def send(self, handle: int, data: bytes) -> int:
        connection = self.get(handle)
        # Encrypted bytes the host's own TLS made (tls.bio-*) are TLS, not
        # plaintext: a TLS-only connection may carry them and nothing else.
        claimed = (
            not connection.tls and self.ciphertext is not None and self.ciphertext(connection, data)
        )
        with self._io(handle, "send", tls_bytes=claimed) as connection:
            sent = connection.sock.send(data)
            if claimed:
                connection.bio.sent(sent)
            return sent

    def recv(self, handle: int, size: int) -> bytes:
        connection = self.get(handle)
        with self._io(handle, "recv", tls_bytes=connection.bio is not None) as connection:
            return connection.sock.recv(min(size, MAX_RECV))

    def _call(self, handle: int, call: Callable[[socket.socket], T]) -> T:
        try:
            return call(self.get(handle).sock)
        except (OSError, ValueError) as error:
            raise failure(error) from None

    def set_timeout(self, handle: int, timeout: float | None) -> None:
        self._call(handle, lambda sock: sock.settimeout(timeout))

    def shutdown(self, handle: int, how: int) -> None:
        self._call(handle, lambda sock: sock.shutdown(how))

    def peer_name(self, handle: int) -> tuple[str, int]:
        return self._call(handle, lambda sock: tuple(sock.getpeername()[:2]))

    def sock_name(self, handle: int) -> tuple[str, int]:
        return self._call(handle, lambda sock: tuple(sock.getsockname()[:2]))

    def poll(self, interests: list[tuple[int, int]], timeout: float) -> list[tuple[int, int]]:
        """Which of the guest's connections are ready (select/poll/selectors
        in the guest). A TLS connection with decrypted bytes waiting is
        readable whatever its socket says."""
        if not isinstance(interests, list) or len(interests) > MAX_CONNECTIONS:
            raise ProviderError("ValueError", f"poll takes at most {MAX_CONNECTIONS} connections")
        wait = float(timeout) if isinstance(timeout, (int, float)) else 0.0
        wait = min(wait, MAX_POLL_WAIT) if math.isfinite(wait) and wait > 0 else 0.0
        ready: dict[int, int] = {}
        wanted_by_fd: dict[int, int] = {}
        by_fd: dict[int, int] = {}
        for entry in interests:
            handle, wanted = int(entry[0]), int(entry[1]) & (READABLE | WRITABLE)
            sock = self.get(handle).sock
            fd = sock.fileno()
            if fd < 0:
                ready[handle] = ready.get(handle, 0) | HUNG_UP
                continue
            if wanted & READABLE and isinstance(sock, ssl.SSLSocket) and sock.pending():
                ready[handle] = ready.get(handle, 0) | READABLE
            events = (select.POLLIN if wanted & READABLE else 0) | (
                select.POLLOUT if wanted & WRITABLE else 0
            )
            wanted_by_fd[fd] = wanted_by_fd.get(fd, 0) | events
            by_fd[fd] = handle
        poller = select.poll()
        for fd, events in wanted_by_fd.items():
            poller.register(fd, events)
        for fd, events in poller.poll(0 if ready else int(wait * 1000)):
            bits = (READABLE if events & select.POLLIN else 0) | (
                WRITABLE if events & select.POLLOUT else 0
            )
            bits |= (HUNG_UP if events & select.POLLHUP else 0) | (
                FAILED if events & (select.POLLERR | select.POLLNVAL) else 0
            )
            if bits:
                ready[by_fd[fd]] = ready.get(by_fd[fd], 0) | bits
        return sorted(ready.items())

    def close(self, handle: int) -> None:
        with self._lock:
            connection = self._connections.pop(handle, None)
        if connection is not None:
            connection.sock.close()

    def close_all(self) -> None:
        for handle in list(self._connections):
            self.close(handle)


def make(grants: Grants, setup: ProviderSetup) -> NetProvider:
    return NetProvider(grants)
