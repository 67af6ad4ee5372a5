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


@functools.wraps(_select)
def select_(rlist, wlist, xlist, timeout=None, /):
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


class _SlicedPoll:
    """select.poll() whose poll waits in slices; the rest is the original's."""

    __slots__ = ("_poll",)

    def __init__(self):
        self._poll = _poll()

    def register(self, fd, eventmask=select.POLLIN | select.POLLPRI | select.POLLOUT, /):
        return self._poll.register(fd, eventmask)

    def modify(self, fd, eventmask, /):
        return self._poll.modify(fd, eventmask)

    def unregister(self, fd, /):
        return self._poll.unregister(fd)

    def poll(self, timeout=None, /):
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


def install():
    time.sleep = sleep
    select.select = select_
    # A class, not a function: selectors keeps select.poll as a class attribute,
    # where a function would be bound as a method.
    select.poll = _SlicedPoll
