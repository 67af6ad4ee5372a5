"""Runs INSIDE the CPython session: SQL values across pylon:cap/types as the WIT
variant, so the session component's boundary stays typed. What a value's
(tag, payload) is comes from pylon_wire (guest/common/), the one format both
guests share; this module only wraps and unwraps the variant's cases. The
host side is pylon_shell/caps/values.py.
"""

from wit_world.imports import types as wire

from pylon_wire import decode, encode

_CASES = {
    "boolean": wire.Value_Boolean,
    "integer": wire.Value_Integer,
    "big-integer": wire.Value_BigInteger,
    "real": wire.Value_Real,
    "text": wire.Value_Text,
    "blob": wire.Value_Blob,
    "tagged": wire.Value_Tagged,
}
_TAGS = {case: tag for tag, case in _CASES.items()}
#: Cases whose payload is the value itself (most of a result's cells).
_PLAIN = frozenset(
    (wire.Value_Boolean, wire.Value_Integer, wire.Value_Real, wire.Value_Text, wire.Value_Blob)
)


def to_wire(value):
    tag, payload = encode(value)
    if tag == "null":
        return wire.Value_Null()
    return _CASES[tag](payload)


def from_wire(value):
    case = type(value)
    if case in _PLAIN:
        return value.value
    if case is wire.Value_Null:
        return None
    return decode(_TAGS[case], value.value)


def rows_from_wire(result):
    return [tuple(from_wire(v) for v in row) for row in result.rows]
