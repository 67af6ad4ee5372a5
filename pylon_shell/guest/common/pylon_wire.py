"""Runs INSIDE both guests, CPython and MicroPython: SQL values as pylon:cap/types
carries them, written once. The host side is pylon_shell/caps/values.py.

A value is a (tag, payload) pair whose tags are the WIT variant's cases.
CPython wraps the pair in the WIT variant (pylon_values.py: the session
component's boundary stays typed); MicroPython sends it over the bridge as
JSON, `[tag, payload]` with a blob in hex (to_json/from_json). Types the plain
cases cannot carry (dates, decimals, UUIDs, lists, dicts) travel as `tagged`
(type name, text form); a guest that has the type's module rebuilds it, as
CPython's own drivers return it; MicroPython has no datetime or decimal, so
there they stay their text. Written in the Python both run.
"""

import json

try:
    import datetime
    import decimal
    import uuid
except ImportError:  # MicroPython
    datetime = decimal = uuid = None

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1


def _tagged_kind(value):
    """The tagged kind and text of a value of a type the plain cases lack, or None."""
    if datetime is not None:
        if isinstance(value, datetime.datetime):
            return "datetime", value.isoformat()
        if isinstance(value, datetime.date):
            return "date", value.isoformat()
        if isinstance(value, datetime.time):
            return "time", value.isoformat()
        if isinstance(value, datetime.timedelta):
            return "timedelta", repr(value.total_seconds())
        if isinstance(value, decimal.Decimal):
            return "decimal", str(value)
        if isinstance(value, uuid.UUID):
            return "uuid", str(value)
    if isinstance(value, (list, tuple, dict)):
        return ("dict" if isinstance(value, dict) else "list"), json.dumps(value)
    return None


def encode(value):
    """A parameter as (tag, payload); TypeError for a type no case carries."""
    if value is None:
        return "null", None
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, int):
        if INT64_MIN <= value <= INT64_MAX:
            return "integer", value
        return "big-integer", str(value)
    if isinstance(value, float):
        return "real", value
    if isinstance(value, str):
        return "text", value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "blob", bytes(value)
    tagged = _tagged_kind(value)
    if tagged is None:
        raise TypeError("type %r is not supported as a parameter" % type(value).__name__)
    return "tagged", tagged


def _rebuild(kind, text):
    if kind in ("list", "dict"):
        return json.loads(text)
    if datetime is None:
        return text
    if kind == "datetime":
        return datetime.datetime.fromisoformat(text)
    if kind == "date":
        return datetime.date.fromisoformat(text)
    if kind == "time":
        return datetime.time.fromisoformat(text)
    if kind == "timedelta":
        return datetime.timedelta(seconds=float(text))
    if kind == "decimal":
        return decimal.Decimal(text)
    if kind == "uuid":
        return uuid.UUID(text)
    return text


def decode(tag, payload):
    """(tag, payload) back to the guest's Python value."""
    if tag == "big-integer":
        return int(payload)
    if tag == "tagged":
        return _rebuild(payload[0], payload[1])
    return payload


# -- the JSON form the MicroPython bridge carries ------------------------------


def _hex(data):
    # (MicroPython's bytes.hex() of no bytes is b"", not "".)
    return "".join("%02x" % b for b in data)


def to_json(value):
    tag, payload = encode(value)
    if tag == "blob":
        return [tag, _hex(payload)]
    if tag == "tagged":
        return [tag, list(payload)]
    return [tag, payload]


def from_json(item):
    tag, payload = item
    if tag == "blob":
        return bytes.fromhex(payload)
    return decode(tag, payload)


def rows_from_json(rows):
    return [tuple(from_json(v) for v in row) for row in rows]
