"""Fast `list<u8>` across the component boundary, for the byte-heavy caps.

wasmtime-py converts a `list<u8>` one element at a time through ctypes (each
byte becomes a 32-byte `wasmtime_component_val_t` written from Python), about
0.4 MB/s: compressing 10 MB through a cap would take a minute. The C API has
no bytes-shaped list, so this builds (and reads) the same array of vals in one
strided copy instead. Same layout, same ownership rules as the library's own
code (the vallist is created and deleted with the C API's functions); only the
per-byte Python loop is gone. Installed once, before the first component call.
"""

from __future__ import annotations

import ctypes
from typing import Any

_INSTALLED = False


def install() -> None:
    global _INSTALLED
    if _INSTALLED:
        return
    from wasmtime import _ffi as ffi
    from wasmtime.component._types import ListType

    size = ctypes.sizeof(ffi.wasmtime_component_val_t)
    offset = ffi.wasmtime_component_val_t.of.offset
    u8_kind = bytes((ffi.WASMTIME_COMPONENT_U8.value,))
    element_to_c = ListType.convert_to_c
    element_from_c = ListType.convert_from_c

    def convert_to_c(self: ListType, store: Any, val: Any, ptr: Any) -> None:
        if not isinstance(val, bytes) or not self._is_bytes():
            element_to_c(self, store, val, ptr)
            return
        count = len(val)
        raw = ffi.wasmtime_component_vallist_t()
        ffi.wasmtime_component_vallist_new_uninit(raw, count)
        if count:
            image = bytearray(count * size)
            image[0::size] = u8_kind * count
            image[offset::size] = val
            ctypes.memmove(raw.data, (ctypes.c_char * len(image)).from_buffer(image), len(image))
        ptr.contents.kind = ffi.WASMTIME_COMPONENT_LIST
        ptr.contents.of.list = raw

    def convert_from_c(self: ListType, c: Any) -> Any:
        if not self._is_bytes():
            return element_from_c(self, c)
        vals = c.of.list
        try:
            if vals.size == 0:
                return b""
            return ctypes.string_at(vals.data, vals.size * size)[offset::size]
        finally:
            ffi.wasmtime_component_vallist_delete(ctypes.byref(vals))

    # Patching wasmtime-py's converters is this module's job (see its docstring).
    ListType.convert_to_c = convert_to_c  # type: ignore[method-assign]
    ListType.convert_from_c = convert_from_c  # type: ignore[method-assign]
    _INSTALLED = True
