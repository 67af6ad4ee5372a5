"""Runs INSIDE the CPython guest as `_socket`, so the stdlib's socket module (and
http.client, urllib, smtplib, ...) works unchanged over pylon:cap/net.

A socket here is a guest-side descriptor; connecting it asks the host to open
the TCP connection (checked against the plan's hosts), and its bytes move
through the host's socket. Names are not resolved in the guest: getaddrinfo
hands the name back as the address, and the host resolves it when it connects,
so the allowlist is checked against the name the program used. Only TCP client
sockets exist: no listening, no UDP.
"""

import errno as _errno
import select as _select
import sys
import warnings

import _socket as _wasi  # the interpreter's own: constants and address helpers
from wit_world.imports import net as _net

import pylon_caps

# `import _socket` must now find this module (the import gate serves it).
del sys.modules["_socket"]

globals().update({k: v for k, v in vars(_wasi).items() if k.isupper() and k != "CAPI"})

error = OSError
timeout = TimeoutError
herror = _wasi.herror
gaierror = _wasi.gaierror
#: The host's failures that are this module's own classes.
_OWN_ERRORS = {"gaierror": gaierror, "herror": herror}
has_ipv6 = True
for _name in ("inet_aton", "inet_ntoa", "inet_pton", "inet_ntop", "htonl", "htons", "ntohl",
              "ntohs", "gethostname", "getprotobyname"):
    globals()[_name] = getattr(_wasi, _name)

#: Bytes per send: one call must not copy too much between host and guest.
CHUNK = 1 << 20
_SERVICES = {"http": 80, "https": 443, "ftp": 21, "smtp": 25, "smtps": 465, "submission": 587,
             "imap": 143, "imaps": 993, "pop3": 110, "pop3s": 995, "ssh": 22, "domain": 53}
_default_timeout = [None]


def call(function, *args):
    """A pylon:cap/net call; its failure raised as the error the stdlib's
    socket would raise (errno and text kept), a refusal as PermissionError."""
    return pylon_caps.call_provider(_OWN_ERRORS, OSError, function, *args)


def getdefaulttimeout():
    return _default_timeout[0]


def setdefaulttimeout(value):
    _default_timeout[0] = _check_timeout(value)


def _check_timeout(value):
    if value is None:
        return None
    value = float(value)
    if value < 0:
        raise ValueError("Timeout value out of range")
    return value


def _port(port):
    if port is None:
        return 0
    if isinstance(port, bytes):
        port = port.decode()
    if isinstance(port, str):
        if port.isdigit():
            return int(port)
        if port in _SERVICES:
            return _SERVICES[port]
        raise gaierror(EAI_SERVICE, "Servname not supported for ai_socktype")
    return int(port)


def _family_of(host):
    for family in (AF_INET, AF_INET6):
        try:
            inet_pton(family, host)
            return family
        except (OSError, ValueError):
            pass
    return None


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    """The name itself as the address (the host resolves it when connecting)."""
    if isinstance(host, bytes):
        host = host.decode("idna")
    if host is None:
        host = "::1" if family == AF_INET6 else "127.0.0.1"
    if type not in (0, SOCK_STREAM):
        raise gaierror(EAI_SOCKTYPE, "pylon's net cap carries TCP (SOCK_STREAM) only")
    literal = _family_of(host)
    found = literal or (family if family in (AF_INET, AF_INET6) else AF_INET)
    if family not in (0, AF_UNSPEC, found):
        raise gaierror(EAI_FAMILY, "ai_family not supported")
    number = _port(port)
    address = (host, number, 0, 0) if found == AF_INET6 else (host, number)
    return [(found, SOCK_STREAM, IPPROTO_TCP, "", address)]


def gethostbyname(host):
    if host == "localhost":
        return "127.0.0.1"
    if _family_of(host) == AF_INET:
        return host
    raise gaierror(EAI_NONAME, f"pylon resolves {host} on the host when a socket connects to it")


def getservbyname(name, protocol=None):
    if name in _SERVICES:
        return _SERVICES[name]
    raise OSError("service/proto not found")


class _Descriptor:
    """What a guest file descriptor number stands for: a host connection, once
    connected, or one end of a socketpair(); shared by dup() and socket(fileno=)."""

    def __init__(self, family, type, proto):
        self.family, self.type, self.proto = family, type, proto
        self.handle = None
        #: For a socketpair() end: its _PipeEnd (no host connection).
        self.pipe = None
        self.refs = 1


class _PipeEnd:
    """One end of a socketpair(): a pipe inside the guest (asyncio's self-pipe),
    never a host socket. What one end sends waits in the other's `inbox`."""

    #: Bytes that may wait unread at one end, as a kernel's socket buffer.
    LIMIT = 1 << 18

    def __init__(self):
        self.inbox = bytearray()
        self.peer = None
        self.closed = False
        self.read_shut = False  # this end will read no more
        self.write_shut = False  # this end will send no more

    def at_eof(self):
        peer = self.peer
        return peer is None or peer.closed or peer.write_shut or self.read_shut

    def send(self, data, blocking):
        peer = self.peer
        if self.write_shut or peer is None or peer.closed or peer.read_shut:
            raise BrokenPipeError(_errno.EPIPE, "Broken pipe")
        room = self.LIMIT - len(peer.inbox)
        if room <= 0:
            if not blocking:
                raise BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable")
            raise _no_thread("send() on a full socketpair() end")
        peer.inbox += data[:room]
        return min(len(data), room)

    def recv(self, size, blocking):
        if self.inbox:
            data = bytes(self.inbox[:size])
            del self.inbox[:size]
            return data
        if self.at_eof():
            return b""
        if not blocking:
            raise BlockingIOError(_errno.EAGAIN, "Resource temporarily unavailable")
        raise _no_thread("recv() on an empty socketpair() end")

    def events(self):
        events = 0
        if self.inbox or self.at_eof():
            events |= _POLLIN
        peer = self.peer
        if peer is None or peer.closed:
            events |= _POLLHUP | _POLLOUT
        elif len(peer.inbox) < self.LIMIT:
            events |= _POLLOUT
        return events


def _no_thread(what):
    threads = sys.modules.get("pylon_threads")
    message = (f"{what} would wait forever: pylon has no threads, so nothing else can "
               "write to (or read from) its other end")
    return threads.NoThreadError(message) if threads is not None else RuntimeError(message)


# WASI's values (wasi-libc's poll.h), not Linux's.
_POLLIN, _POLLOUT = _select.POLLIN, _select.POLLOUT
_POLLERR, _POLLHUP, _POLLNVAL = _select.POLLERR, _select.POLLHUP, _select.POLLNVAL
#: pylon:cap/net poll's bits.
_NET_READ, _NET_WRITE, _NET_HUP, _NET_ERR = 1, 2, 4, 8


def has_descriptors():
    return bool(_descriptors)


def is_descriptor(fd):
    return fd in _descriptors


def poll_descriptors(interests, wait):
    """Readiness of pylon descriptors: `interests` is {fd: poll events}; the
    result ({fd: events}, whether it waited `wait` seconds for the host)."""
    ready = {}
    remote = {}
    for fd, wanted in interests.items():
        descriptor = _descriptors.get(fd)
        if descriptor is None:
            ready[fd] = _POLLNVAL
        elif descriptor.pipe is not None:
            events = descriptor.pipe.events() & (wanted | _POLLHUP | _POLLERR)
            if events:
                ready[fd] = events
        elif descriptor.handle is None:
            ready[fd] = _POLLHUP  # as Linux says of an unconnected TCP socket
        else:
            bits = (_NET_READ if wanted & _POLLIN else 0) | (_NET_WRITE if wanted & _POLLOUT else 0)
            remote.setdefault(descriptor.handle, [0, []])
            remote[descriptor.handle][0] |= bits
            remote[descriptor.handle][1].append(fd)
    if not remote:
        return ready, False
    wait = 0.0 if ready else wait
    answer = call(_net.poll, [(handle, bits) for handle, (bits, _fds) in remote.items()], wait)
    for handle, bits in answer:
        if handle not in remote:
            continue
        events = ((_POLLIN if bits & _NET_READ else 0) | (_POLLOUT if bits & _NET_WRITE else 0)
                  | (_POLLHUP if bits & _NET_HUP else 0) | (_POLLERR if bits & _NET_ERR else 0))
        for fd in remote[handle][1]:
            ready[fd] = ready.get(fd, 0) | events
    return ready, True


def socketpair(family=None, type=SOCK_STREAM, proto=0):
    """Two connected sockets whose bytes stay inside the guest (WASI has no
    AF_UNIX: they are AF_INET, as socket.py's fallback makes them)."""
    family = AF_INET if family is None else int(family)
    if family not in (AF_INET, AF_INET6):
        raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by protocol")
    if int(type) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC) != SOCK_STREAM:
        raise OSError(_errno.EOPNOTSUPP, "Operation not supported")
    ends = []
    for _ in range(2):
        descriptor = _Descriptor(family, SOCK_STREAM, int(proto))
        descriptor.pipe = _PipeEnd()
        ends.append(descriptor)
    ends[0].pipe.peer, ends[1].pipe.peer = ends[1].pipe, ends[0].pipe
    return tuple(socket(fileno=_new_fd(descriptor)) for descriptor in ends)


_descriptors = {}
_next_fd = [1000]


def _new_fd(descriptor):
    fd = _next_fd[0]
    _next_fd[0] += 1
    _descriptors[fd] = descriptor
    return fd


def _release(fd):
    descriptor = _descriptors.pop(fd, None)
    if descriptor is not None:
        descriptor.refs -= 1
        if descriptor.refs == 0 and descriptor.pipe is not None:
            descriptor.pipe.closed = True
            descriptor.pipe.inbox.clear()
        if descriptor.refs == 0 and descriptor.handle is not None:
            _net.close(descriptor.handle)


def close(fd):
    if fd not in _descriptors:
        raise OSError(_errno.EBADF, "Bad file descriptor")
    _release(fd)


def dup(fd):
    descriptor = _descriptors.get(fd)
    if descriptor is None:
        raise OSError(_errno.EBADF, "Bad file descriptor")
    descriptor.refs += 1
    return _new_fd(descriptor)


def _client_only(what):
    return pylon_caps.CapPermissionError(
        f"pylon's net cap makes TCP client connections only; {what} is not supported"
    )


class socket:
    """_socket.socket over pylon:cap/net."""

    # As the C type: no __dict__ and no __weakref__ (socket.socket adds it).
    __slots__ = ("_fd", "_timeout")

    def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
        if fileno is not None:
            if fileno not in _descriptors:
                raise OSError(_errno.EBADF, "Bad file descriptor")
            self._fd = fileno
        else:
            family = AF_INET if family == -1 else int(family)
            type = SOCK_STREAM if type == -1 else int(type)
            if family not in (AF_INET, AF_INET6):
                raise OSError(_errno.EAFNOSUPPORT, "Address family not supported by protocol")
            if type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC) != SOCK_STREAM:
                raise _client_only("a socket that is not SOCK_STREAM (UDP, raw)")
            proto = IPPROTO_TCP if proto in (-1, 0) else proto
            self._fd = _new_fd(_Descriptor(family, type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC), proto))
        self._timeout = 0.0 if type != -1 and type & SOCK_NONBLOCK else _default_timeout[0]

    def _descriptor(self):
        descriptor = _descriptors.get(self._fd)
        if descriptor is None:
            raise OSError(_errno.EBADF, "Bad file descriptor")
        return descriptor

    def _handle(self):
        handle = self._descriptor().handle
        if handle is None:
            raise OSError(_errno.ENOTCONN, "Transport endpoint is not connected")
        return handle

    @property
    def family(self):
        return self._descriptor().family

    @property
    def type(self):
        return self._descriptor().type

    @property
    def proto(self):
        return self._descriptor().proto

    @property
    def timeout(self):
        return self._timeout

    def fileno(self):
        return self._fd

    def detach(self):
        fd, self._fd = self._fd, -1
        return fd

    def close(self):
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            _release(fd)

    def __del__(self):
        fd = getattr(self, "_fd", -1)
        if fd >= 0:
            # As _socket's finalizer: a socket dropped open is a ResourceWarning
            # (named by its repr, taken while it is still open).
            try:
                warnings.warn(f"unclosed {self!r}", ResourceWarning, stacklevel=2, source=self)
            finally:
                self._fd = -1
                _release(fd)

    def connect(self, address):
        descriptor = self._descriptor()
        if descriptor.handle is not None or descriptor.pipe is not None:
            raise OSError(_errno.EISCONN, "Transport endpoint is already connected")
        if not isinstance(address, tuple) or len(address) < 2:
            raise TypeError(f"{'AF_INET' if descriptor.family == AF_INET else 'AF_INET6'} "
                            "address must be a tuple (host, port)")
        host, port = address[0], address[1]
        if isinstance(host, bytes):
            host = host.decode("idna")
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise OverflowError("connect(): port must be 0-65535.")
        timeout = self._timeout if self._timeout else None
        descriptor.handle = call(_net.connect, host, port, timeout)

    def connect_ex(self, address):
        try:
            # This class's connect, not a subclass's (ssl.SSLSocket.connect_ex
            # calls here from its own connect logic).
            socket.connect(self, address)
        except pylon_caps.CapPermissionError:
            raise
        except TimeoutError:
            # As _socket: a connect that runs out of its timeout is EWOULDBLOCK.
            return _errno.EWOULDBLOCK
        except OSError as error:
            return error.errno or _errno.EIO
        return 0

    def send(self, data, flags=0):
        data = memoryview(data).cast("B")[:CHUNK].tobytes()
        pipe = self._descriptor().pipe
        if pipe is not None:
            return pipe.send(data, self._timeout != 0.0 and not flags & MSG_DONTWAIT)
        return call(_net.send, self._handle(), pylon_caps.octets(data))

    def sendall(self, data, flags=0):
        view = memoryview(data).cast("B")
        sent = 0
        while sent < len(view):
            sent += self.send(view[sent:sent + CHUNK], flags)

    def sendto(self, data, flags_or_address, address=None):
        raise _client_only("sendto")

    def recv(self, size, flags=0):
        if size < 0:
            raise ValueError("negative buffersize in recv")
        if flags & MSG_PEEK:
            raise _client_only("MSG_PEEK")
        pipe = self._descriptor().pipe
        if pipe is not None:
            return pipe.recv(size, self._timeout != 0.0 and not flags & MSG_DONTWAIT)
        handle = self._handle()
        return pylon_caps.from_octets(call(_net.recv, handle, size)) if size else b""

    def recv_into(self, buffer, nbytes=0, flags=0):
        view = memoryview(buffer).cast("B")
        data = self.recv(nbytes or len(view), flags)
        view[: len(data)] = data
        return len(data)

    def recvfrom(self, size, flags=0):
        return self.recv(size, flags), self.getpeername()

    def recvfrom_into(self, buffer, nbytes=0, flags=0):
        return self.recv_into(buffer, nbytes, flags), self.getpeername()

    def settimeout(self, value):
        self._timeout = _check_timeout(value)
        handle = self._descriptor().handle
        if handle is not None:
            call(_net.set_timeout, handle, self._timeout)

    def gettimeout(self):
        return self._timeout

    def setblocking(self, flag):
        self.settimeout(None if flag else 0.0)

    def getblocking(self):
        return self._timeout != 0.0

    def getpeername(self):
        if self._descriptor().pipe is not None:
            return self.getsockname()
        return call(_net.peer_name, self._handle())

    def getsockname(self):
        if self._descriptor().pipe is not None:
            return ("127.0.0.1", 0) if self.family == AF_INET else ("::1", 0, 0, 0)
        handle = self._descriptor().handle
        if handle is None:
            return ("0.0.0.0", 0) if self.family == AF_INET else ("::", 0, 0, 0)
        return call(_net.sock_name, handle)

    def shutdown(self, how):
        pipe = self._descriptor().pipe
        if pipe is not None:
            if how not in (SHUT_RD, SHUT_WR, SHUT_RDWR):
                raise OSError(_errno.EINVAL, "Invalid argument")
            pipe.read_shut = pipe.read_shut or how in (SHUT_RD, SHUT_RDWR)
            pipe.write_shut = pipe.write_shut or how in (SHUT_WR, SHUT_RDWR)
            return
        call(_net.shutdown, self._handle(), how)

    def getsockopt(self, level, option, buflen=None):
        values = {SO_TYPE: self.type, SO_DOMAIN: self.family, SO_PROTOCOL: self.proto}
        value = values.get(option, 0) if level == SOL_SOCKET else 0
        return value.to_bytes(4, sys.byteorder) if buflen else value

    def setsockopt(self, level, option, value, optlen=None):
        # Options for the host's socket (TCP_NODELAY, keep-alive): its own defaults.
        pass

    def bind(self, address):
        raise _client_only("bind")

    def listen(self, backlog=0):
        raise _client_only("listen")

    def _accept(self):
        raise _client_only("accept")


SocketType = socket


# The interface's argument kinds: a call that does not fit raises the guest's
# TypeError or OverflowError before componentize-py lowers it (a misfit would
# trap the instance; pylon_caps.guard_bindings).
pylon_caps.declare_signatures(
    "net",
    {
        "connect": ("string", "u16", ("option", "f64")),
        "send": ("u32", "octets"),
        "recv": ("u32", "u32"),
        "set_timeout": ("u32", ("option", "f64")),
        "shutdown": ("u32", "s32"),
        "peer_name": ("u32",),
        "sock_name": ("u32",),
        "close": ("u32",),
        "poll": (("list", ("tuple", "u32", "u8")), "f64"),
    },
)
