"""Runs INSIDE the CPython guest: the calls of caps that ship as packages.

Such a cap's stand-in module (pylon_shell/caps/<name>/guest/, the same source
the MicroPython guest runs) gets its source from the host and calls its
provider with `_cap_call(method, *args)`, over the one WIT interface every
such cap shares (pylon:cap/dispatch). The host checks the cap, the method, the
grant and the arguments (pylon_shell/caps/dispatch.py).
"""

from wit_world.imports import dispatch as _wire

import pylon_caps

# (componentize-py names the case `none` Arg_None_: None is a keyword.)
_INT64 = range(-(1 << 63), 1 << 63)


def _to_arg(value, cap):
    if value is None:
        return _wire.Arg_None_()
    if isinstance(value, bool):
        return _wire.Arg_Boolean(value)
    if isinstance(value, int):
        return _wire.Arg_Integer(value) if value in _INT64 else _wire.Arg_BigInteger(str(value))
    if isinstance(value, float):
        return _wire.Arg_Real(value)
    if isinstance(value, str):
        return _wire.Arg_Text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _wire.Arg_Bytes(pylon_caps.octets(bytes(value)))
    raise TypeError(f"a {type(value).__name__} cannot cross to the {cap} cap")


def _from_arg(arg):
    if isinstance(arg, _wire.Arg_None_):
        return None
    if isinstance(arg, _wire.Arg_BigInteger):
        return int(arg.value)
    if isinstance(arg, _wire.Arg_Bytes):
        return pylon_caps.from_octets(arg.value)
    return arg.value


def caller(cap, namespace):
    """`_cap_call` for a stand-in of `cap` whose globals are `namespace`: a
    failure raises the class of that name defined there, else the builtin one."""

    def _cap_call(method, *args):
        wired = [_to_arg(a, cap) for a in args]
        out = pylon_caps.call_provider(namespace, RuntimeError, _wire.call, cap, method, wired)
        values = [_from_arg(a) for a in out]
        return None if not values else values[0] if len(values) == 1 else tuple(values)

    return _cap_call


def source(module):
    """The stand-in's source, or None when no cap package serves `module`."""
    return _wire.guest_source(module)
