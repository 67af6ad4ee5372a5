"""Runs INSIDE a CPython guest (the session and the SQLite provider component):
SQL values across pylon:cap/types, as the same Python types CPython's own
drivers use. The host side is pylon_shell/caps/values.py.
"""

import datetime
import decimal
import json
import uuid

from wit_world.imports import types as wire


def to_wire(value):
    if value is None:
        return wire.Value_Null()
    if isinstance(value, bool):
        return wire.Value_Boolean(value)
    if isinstance(value, int):
        if -(2**63) <= value < 2**63:
            return wire.Value_Integer(value)
        return wire.Value_BigInteger(str(value))
    if isinstance(value, float):
        return wire.Value_Real(value)
    if isinstance(value, str):
        return wire.Value_Text(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return wire.Value_Blob(bytes(value))
    if isinstance(value, datetime.datetime):
        return wire.Value_Tagged(("datetime", value.isoformat()))
    if isinstance(value, datetime.date):
        return wire.Value_Tagged(("date", value.isoformat()))
    if isinstance(value, datetime.time):
        return wire.Value_Tagged(("time", value.isoformat()))
    if isinstance(value, datetime.timedelta):
        return wire.Value_Tagged(("timedelta", repr(value.total_seconds())))
    if isinstance(value, decimal.Decimal):
        return wire.Value_Tagged(("decimal", str(value)))
    if isinstance(value, uuid.UUID):
        return wire.Value_Tagged(("uuid", str(value)))
    if isinstance(value, (list, tuple, dict)):
        return wire.Value_Tagged(("dict" if isinstance(value, dict) else "list", json.dumps(value)))
    raise TypeError(f"type {type(value).__name__!r} is not supported as a parameter")


def from_wire(value):
    if isinstance(value, wire.Value_Null):
        return None
    if isinstance(value, wire.Value_BigInteger):
        return int(value.value)
    if isinstance(value, wire.Value_Tagged):
        kind, text = value.value
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
        return json.loads(text)
    return value.value


def rows_from_wire(result):
    return [tuple(from_wire(v) for v in row) for row in result.rows]
