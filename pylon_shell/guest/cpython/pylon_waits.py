"""Runs INSIDE the CPython guest: blocking waits cut into short slices.

`time.sleep`, `select.select` and `select.poll().poll` end in WASI's poll,
which runs in wasmtime's host code. The engine's epoch deadline (how --timeout
and Ctrl+C stop the guest) is only checked while wasm code runs, so one long
wait would outlive both. Waiting in slices of at most `SLICE` seconds brings
the guest back into wasm code often enough for the deadline to fire within
a second. Arguments the waits refuse are passed to the original functions,
which raise CPython's own errors before waiting.
"""

import functools
import operator
import select
import sys
import time

#: Longest single wait in WASI's poll, in seconds.
SLICE = 0.05
#: Longest wait CPython accepts (PyTime_t nanoseconds); beyond it the original
#: raises OverflowError, and just below it would wait unsliced for centuries.
_LONGEST = 9.2e9

_sleep = time.sleep
_monotonic = time.monotonic
_select = select.select
_poll = select.poll
#: Called between slices of every wait (the thread stand-in's due timers).
on_slice = []
_POLLIN, _POLLOUT, _POLLPRI = select.POLLIN, select.POLLOUT, select.POLLPRI
_POLLERR, _POLLHUP, _POLLNVAL = select.POLLERR, select.POLLHUP, select.POLLNVAL


def _between_slices():
    for hook in on_slice:
        hook()


def pause(seconds):
    """Sleep `seconds` (a valid, finite number) in slices, nothing between them."""
    deadline = _monotonic() + seconds
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            return
        _sleep(min(left, SLICE))


def _own_sockets():
    """The socket stand-in, when pylon sockets exist (their descriptors are
    pylon's own numbers, which WASI's poll does not know)."""
    module = sys.modules.get("pylon_socket")
    return module if module is not None and module.has_descriptors() else None


def _fileno(item):
    if isinstance(item, int):
        fd = item
    else:
        fd = item.fileno()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    return fd


def _wait_ready(interests, timeout, own):
    """{fd: events} for pylon and WASI descriptors together, waiting at most
    `timeout` seconds (None: until one is ready), in slices."""
    mine = {fd: events for fd, events in interests.items() if own.is_descriptor(fd)}
    rest = {fd: events for fd, events in interests.items() if fd not in mine}
    deadline = None if timeout is None else _monotonic() + timeout
    while True:
        left = SLICE if deadline is None else max(0.0, min(deadline - _monotonic(), SLICE))
        ready, waited = own.poll_descriptors(mine, 0.0 if rest else left)
        if rest:
            poller = _poll()
            for fd, events in rest.items():
                poller.register(fd, events)
            wait = 0 if ready or waited else int(left * 1000)
            for fd, events in poller.poll(wait):
                ready[fd] = ready.get(fd, 0) | events
        elif not ready and not waited and left > 0:
            _sleep(left)
        if ready or (deadline is not None and _monotonic() >= deadline):
            return ready
        _between_slices()


def _seconds(value):
    """`value` as a number of seconds the sliced wait may take, or None when
    the original function must judge it (it raises for every such value)."""
    if not isinstance(value, (int, float)):
        try:
            value = operator.index(value)
        except TypeError:
            return None
    if value != value or value < 0 or value == float("inf"):
        return None
    if value >= _LONGEST:
        raise OverflowError("timestamp too large to convert to C PyTime_t")
    return value


@functools.wraps(_sleep)
def sleep(seconds, /):
    value = _seconds(seconds)
    if value is None or value <= SLICE:
        return _sleep(seconds)
    deadline = _monotonic() + value
    while True:
        left = deadline - _monotonic()
        if left <= 0:
            return None
        _sleep(min(left, SLICE))
        _between_slices()


@functools.wraps(_select)
def select_(rlist, wlist, xlist, timeout=None, /):
    own = _own_sockets()
    if own is not None:
        rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
        if any(own.is_descriptor(_fileno(item)) for item in (*rlist, *wlist, *xlist)):
            return _select_own(rlist, wlist, xlist, timeout, own)
    if timeout is None:
        value = None
    else:
        value = _seconds(timeout)
        if value is None or value <= SLICE:
            return _select(rlist, wlist, xlist, timeout)
    # The lists may be iterators: read them once.
    rlist, wlist, xlist = list(rlist), list(wlist), list(xlist)
    deadline = None if value is None else _monotonic() + value
    while True:
        left = SLICE if deadline is None else min(deadline - _monotonic(), SLICE)
        ready = _select(rlist, wlist, xlist, max(left, 0))
        if ready[0] or ready[1] or ready[2] or left <= 0:
            return ready
        _between_slices()


def _select_own(rlist, wlist, xlist, timeout, own):
    """select.select over lists that hold pylon sockets."""
    if timeout is not None:
        value = _seconds(timeout)
        if value is None:
            _select([], [], [], timeout)  # CPython's own error for the timeout
            raise ValueError("timeout must be non-negative")
        timeout = value
    interests = {}
    for item in rlist:
        fd = _fileno(item)
        interests[fd] = interests.get(fd, 0) | _POLLIN
    for item in wlist:
        fd = _fileno(item)
        interests[fd] = interests.get(fd, 0) | _POLLOUT
    for item in xlist:
        fd = _fileno(item)
        interests[fd] = interests.get(fd, 0) | _POLLPRI
    ready = _wait_ready(interests, timeout, own)
    readable = _POLLIN | _POLLHUP | _POLLERR
    writable = _POLLOUT | _POLLERR
    for events in ready.values():
        if events & _POLLNVAL:
            raise OSError(9, "Bad file descriptor")
    return (
        [item for item in rlist if ready.get(_fileno(item), 0) & readable],
        [item for item in wlist if ready.get(_fileno(item), 0) & writable],
        [item for item in xlist if ready.get(_fileno(item), 0) & _POLLPRI],
    )


class _SlicedPoll:
    """select.poll() whose poll waits in slices; the rest is the original's."""

    __slots__ = ("_poll", "_fds")

    def __init__(self):
        self._poll = _poll()
        #: Every registered descriptor and its events (pylon's own need them).
        self._fds = {}

    def register(self, fd, eventmask=select.POLLIN | select.POLLPRI | select.POLLOUT, /):
        self._poll.register(fd, eventmask)
        self._fds[_fileno(fd)] = eventmask & 0xFFFF

    def modify(self, fd, eventmask, /):
        self._poll.modify(fd, eventmask)
        self._fds[_fileno(fd)] = eventmask & 0xFFFF

    def unregister(self, fd, /):
        self._poll.unregister(fd)
        del self._fds[_fileno(fd)]

    def poll(self, timeout=None, /):
        own = _own_sockets()
        if own is not None and any(own.is_descriptor(fd) for fd in self._fds):
            return self._poll_own(timeout, own)
        return self._poll_wasi(timeout)

    def _poll_own(self, timeout, own):
        if timeout is None or (isinstance(timeout, (int, float)) and timeout < 0):
            value = None
        else:
            value = _seconds(timeout)
            if value is None:
                return self._poll.poll(timeout)  # CPython's own error
            value = value / 1000
        ready = _wait_ready(self._fds, value, own)
        always = _POLLERR | _POLLHUP | _POLLNVAL
        found = []
        for fd, events in ready.items():
            events &= self._fds.get(fd, 0) | always
            if events:
                found.append((fd, events))
        return found

    def _poll_wasi(self, timeout):
        # Milliseconds; None or a negative number waits until an event.
        if timeout is None or (isinstance(timeout, (int, float)) and timeout < 0):
            value = None
        else:
            value = _seconds(timeout)
            if value is None or value <= SLICE * 1000:
                return self._poll.poll(timeout)  # short, or CPython's own error
        deadline = None if value is None else _monotonic() + value / 1000
        while True:
            left = SLICE if deadline is None else min(deadline - _monotonic(), SLICE)
            events = self._poll.poll(max(int(left * 1000), 0))
            if events or left <= 0:
                return events
            _between_slices()


def install():
    time.sleep = sleep
    select.select = select_
    # A class, not a function: selectors keeps select.poll as a class attribute,
    # where a function would be bound as a method.
    select.poll = _SlicedPoll
