"""Regaining control of a running guest without a trap: the epoch-deadline callback.

wasmtime-py does not wrap `wasmtime_store_epoch_deadline_callback`, but its
ctypes bindings expose it. With the callback installed, an engine tick no
longer traps the store: the callback runs on the guest's thread while the
guest is paused and decides (FIELD-NOTES, "Regaining control"):

- a tick meant for another store (the engine is shared): continue;
- this store's call was stopped and the runtime can deliver a KeyboardInterrupt
  inside the guest (`Delivery`): deliver it once and continue, so the guest
  raises it where it was running and keeps its state;
- the guest did not yield within `GRACE` seconds of that (a C loop that never
  returns to bytecode), or nothing can be delivered: trap, as before.

The watchdog keeps ticking while a stopped call runs, so the callback runs
again to escalate.

For CPython the component's memory is not exposed by wasmtime-py's component
API, so `CPythonDelivery` finds it: on its first call the guest reports the
address and value of 32 random bytes it holds; the host looks for them in
its own address space, only in regions laid out as wasmtime's linear memories
(readable and writable, followed by a reservation of at least 1 GiB with no
access), then reads CPython's `_Py_DebugOffsets` (the "xdebugpy" record at the
start of `_PyRuntime`, made for out-of-process debuggers) to find the main
thread state. Delivery is `PyThreadState_SetAsyncExc` done from outside:
`tstate->async_exc = KeyboardInterrupt` and the async-exception bit of
`tstate->eval_breaker`, which the eval loop checks at every backward jump and
call. Every write is bounds-checked against the guest's region. Linux only
(/proc/self/maps); elsewhere, and for an interpreter whose layout does not
check out, the interrupt traps as before.
"""

from __future__ import annotations

import ctypes
import struct
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

#: How long the guest has to raise a delivered interrupt before it is trapped.
GRACE = 1.5
#: How often the watchdog ticks the engine while a stopped call still runs.
TICK = 0.25


class Delivery(Protocol):
    """Raises KeyboardInterrupt inside a paused guest, or says it cannot."""

    def deliver(self) -> bool: ...

    def clear(self) -> None: ...


class DeadlineCallback:
    """The epoch-deadline callback of one store."""

    def __init__(
        self,
        store: Any,
        stopped: Callable[[], str | None],
        delivery: Callable[[], Delivery | None],
        settled: Callable[[], bool] = lambda: True,
    ) -> None:
        from wasmtime import _ffi as ffi

        self._ffi = ffi
        #: Why this store's running call was stopped, or None.
        self._stopped = stopped
        self._delivery = delivery
        #: False while delivering is unsafe (a host import's result being lifted).
        self._settled = settled
        self._delivered_at: float | None = None
        self._stopped_at: float | None = None
        self._lock = threading.Lock()
        kind = ffi.wasmtime_update_deadline_kind_t
        self._callback = ctypes.CFUNCTYPE(
            ctypes.c_size_t,
            ctypes.POINTER(ffi.wasmtime_context_t),
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_uint64),
            ctypes.POINTER(kind),
        )(self._on_deadline)
        self._finalizer = ctypes.CFUNCTYPE(None, ctypes.c_void_p)(lambda _data: None)
        ffi.wasmtime_store_epoch_deadline_callback(
            store.ptr(), self._callback, None, self._finalizer
        )

    def reset(self) -> None:
        """A new call: nothing delivered yet."""
        self._delivered_at = None
        self._stopped_at = None

    @property
    def delivered(self) -> bool:
        return self._delivered_at is not None

    def _decide(self) -> bool:
        """True: resume the guest; False: trap it."""
        reason = self._stopped()
        if reason is None:
            return True  # another store's tick
        if reason not in ("interrupt", "timeout"):
            return False
        now = time.monotonic()
        if self._delivered_at is not None:
            return now - self._delivered_at < GRACE
        if self._stopped_at is None:
            self._stopped_at = now
        delivery = self._delivery()
        if delivery is not None and not self._settled():
            return now - self._stopped_at < GRACE  # try again at the next tick
        if delivery is None or not delivery.deliver():
            return False
        self._delivered_at = time.monotonic()
        return True

    def _on_deadline(self, _context: Any, _data: Any, delta: Any, kind: Any) -> int:
        try:
            resume = self._decide()
        except Exception:  # noqa: BLE001 - never let a callback error resume a stopped guest
            resume = False
        if resume:
            delta[0] = 1
            kind[0] = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
            return 0
        error = self._ffi.wasmtime_error_new(b"pylon: the guest was stopped")
        return ctypes.cast(error, ctypes.c_void_p).value or 0


# -- CPython: PyThreadState_SetAsyncExc from outside ---------------------------

_COOKIE = b"xdebugpy"
#: The async-exception bit of eval_breaker (pycore_ceval.h, 3.13 and 3.14).
_ASYNC_EXCEPTION_BIT = 1 << 3
#: A wasmtime linear memory is followed by its unmapped reservation.
_MIN_RESERVATION = 1 << 30


def _regions() -> list[tuple[int, int, str]]:
    """This process's mappings, adjacent ones with the same access merged."""
    merged: list[tuple[int, int, str]] = []
    with open("/proc/self/maps") as maps:
        for line in maps:
            span, perms = line.split()[:2]
            start, end = (int(part, 16) for part in span.split("-"))
            access = perms[:3]
            if merged and merged[-1][1] == start and merged[-1][2] == access:
                merged[-1] = (merged[-1][0], end, access)
            else:
                merged.append((start, end, access))
    return merged


class CPythonDelivery:
    """KeyboardInterrupt into the CPython guest's main thread, written into its memory."""

    def __init__(self, base: int, size: int, async_exc: int, eval_breaker: int, kbi: int) -> None:
        self._base = base
        self._size = size
        self._async_exc = async_exc
        self._eval_breaker = eval_breaker
        self._kbi = kbi

    @classmethod
    def probe(cls, report: str) -> CPythonDelivery | None:
        """From the guest's report "ADDRESS:HEX:KEYBOARDINTERRUPT" (its first
        call, before any user code), or None when the layout does not check out."""
        try:
            address_text, nonce_hex, kbi_text = report.split(":")
            address, kbi = int(address_text), int(kbi_text)
            nonce = bytes.fromhex(nonce_hex)
        except ValueError:
            return None
        if len(nonce) != 32 or not (0 < address < 1 << 32) or not (0 < kbi < 1 << 32):
            return None
        try:
            regions = _regions()
        except OSError:
            return None
        for index, (start, end, access) in enumerate(regions[:-1]):
            after = regions[index + 1]
            if access != "rw-" or after[2] != "---" or after[0] != end:
                continue
            if after[1] - after[0] < _MIN_RESERVATION or end - start < address + 32:
                continue
            if ctypes.string_at(start + address, 32) != nonce:
                continue
            return cls._layout(start, end - start, kbi)
        return None

    @classmethod
    def _layout(cls, base: int, size: int, kbi: int) -> CPythonDelivery | None:
        memory = (ctypes.c_char * size).from_address(base)
        view = memoryview(memory).cast("B")

        def word(offset: int) -> int:
            if not 0 <= offset <= size - 4:
                raise ValueError("outside the guest")
            return int(struct.unpack_from("<I", view, offset)[0])

        image = bytes(view)
        found = image.find(_COOKIE)
        while found >= 0:
            try:
                return cls._from_runtime(base, size, kbi, view, found, word)
            except (ValueError, struct.error):
                found = image.find(_COOKIE, found + 1)
        return None

    @classmethod
    def _from_runtime(
        cls, base: int, size: int, kbi: int, view: memoryview, runtime: int, word: Any
    ) -> CPythonDelivery:
        version, free_threaded = struct.unpack_from("<QQ", view, runtime + 8)
        if version >> 16 != 0x030E or free_threaded:
            raise ValueError("not CPython 3.14 with the GIL")
        fields = struct.unpack_from("<32Q", view, runtime + 24)
        interpreters_head = fields[2]
        # threads.main is only set under Py_RunMain; the guest has one thread.
        threads_head = fields[3 + 3]
        ts = fields[3 + 16 :]
        ts_interp, ts_current_frame, ts_thread_id = ts[3], ts[4], ts[5]
        # PyThreadState (cpython/pystate.h) on wasm32: eval_breaker follows
        # interp; async_exc sits just before thread_id, 36 bytes past
        # current_frame (the profile and trace hooks, the exception fields,
        # dict, gilstate_counter).
        eval_breaker = ts_interp + 4
        async_exc = ts_thread_id - 4
        if ts_current_frame + 36 != async_exc or ts_interp != 8:
            raise ValueError("an unknown PyThreadState layout")
        interp = word(runtime + interpreters_head)
        tstate = word(interp + threads_head)
        if word(tstate + ts_interp) != interp or word(tstate + async_exc) != 0:
            raise ValueError("the thread state does not check out")
        if word(tstate + ts[2]) != 0:  # `next`: a second thread state
            raise ValueError("the thread state does not check out")
        word(tstate + eval_breaker)
        return cls(base, size, base + tstate + async_exc, base + tstate + eval_breaker, kbi)

    def deliver(self) -> bool:
        """Set the pending async exception; the guest must be paused."""
        pending = ctypes.c_uint32.from_address(self._async_exc)
        if pending.value not in (0, self._kbi):
            return False
        pending.value = self._kbi
        breaker = ctypes.c_uint32.from_address(self._eval_breaker)
        breaker.value |= _ASYNC_EXCEPTION_BIT
        return True

    def clear(self) -> None:
        """Drop an interrupt the guest did not raise (its call ended first)."""
        pending = ctypes.c_uint32.from_address(self._async_exc)
        if pending.value == self._kbi:
            pending.value = 0
            breaker = ctypes.c_uint32.from_address(self._eval_breaker)
            breaker.value &= ~_ASYNC_EXCEPTION_BIT & 0xFFFFFFFF
