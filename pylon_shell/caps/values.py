"""SQL values as they cross a cap boundary: pylon:cap/types `value`, host side.

A value is a (tag, payload) pair whose tags are the WIT variant's cases. The
CPython guest receives them as WIT variants; the MicroPython guest as JSON
lists `[tag, payload]` with blobs in hex. Types the plain cases cannot carry
(dates, decimals, lists, ...) travel as `tagged` (type name, text form), so the
guest can rebuild the same Python type CPython's own drivers would return.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import json
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

INT64 = range(-(2**63), 2**63)
#: Where providers number their handles. The provider process sets it per
#: worker generation, so a handle the guest kept from a crashed worker never
#: names an object of its successor.
_handle_base = 1


def set_handle_base(base: int) -> None:
    global _handle_base
    _handle_base = base


def handle_counter() -> Iterator[int]:
    """The handle numbers of one provider object table."""
    return itertools.count(_handle_base)


@dataclass
class ResultSet:
    columns: list[tuple[str, str]]
    rows: Sequence[Sequence[Any]]
    rowcount: int = -1
    lastrowid: int | None = None


class ProviderError(Exception):
    """Raised by providers; the guest raises it as its module's `kind` exception."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def sql_summary(sql: str) -> str:
    """A statement shortened to one line, for events and denial messages."""
    text = " ".join(sql.split())
    return text if len(text) <= 60 else text[:57] + "..."


def encode(value: Any) -> tuple[str, Any]:
    """A Python value as (tag, payload)."""
    if value is None:
        return ("null", None)
    if isinstance(value, bool):
        return ("boolean", value)
    if isinstance(value, int):
        return ("integer", value) if value in INT64 else ("big-integer", str(value))
    if isinstance(value, float):
        return ("real", value)
    if isinstance(value, str):
        return ("text", value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return ("blob", bytes(value))
    if isinstance(value, datetime.datetime):
        return ("tagged", ("datetime", value.isoformat()))
    if isinstance(value, datetime.date):
        return ("tagged", ("date", value.isoformat()))
    if isinstance(value, datetime.time):
        return ("tagged", ("time", value.isoformat()))
    if isinstance(value, datetime.timedelta):
        return ("tagged", ("timedelta", repr(value.total_seconds())))
    if isinstance(value, decimal.Decimal):
        return ("tagged", ("decimal", str(value)))
    if isinstance(value, uuid.UUID):
        return ("tagged", ("uuid", str(value)))
    if isinstance(value, (list, tuple, dict)):
        kind = "dict" if isinstance(value, dict) else "list"
        return ("tagged", (kind, json.dumps(value, default=str)))
    return ("text", str(value))


def decode(tag: str, payload: Any) -> Any:
    """(tag, payload) back to a Python value on the host."""
    if tag == "null":
        return None
    if tag in ("boolean", "integer", "real", "text"):
        return payload
    if tag == "big-integer":
        return int(payload)
    if tag == "blob":
        return bytes(payload)
    if tag == "tagged":
        kind, text = payload
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
        if kind in ("list", "dict"):
            return json.loads(text)
    raise ProviderError("ProgrammingError", f"cannot use a value tagged {tag!r}")


# -- the JSON form the MicroPython bridge carries ------------------------------


def to_json(value: Any) -> list[Any]:
    tag, payload = encode(value)
    if tag == "blob":
        payload = payload.hex()
    elif tag == "tagged":
        payload = list(payload)
    return [tag, payload]


def from_json(item: list[Any]) -> Any:
    tag, payload = item
    if tag == "blob":
        payload = bytes.fromhex(payload)
    elif tag == "tagged":
        payload = tuple(payload)
    return decode(tag, payload)


def result_to_json(result: ResultSet) -> dict[str, Any]:
    return {
        "columns": [list(column) for column in result.columns],
        "rows": [[to_json(v) for v in row] for row in result.rows],
        "rowcount": result.rowcount,
        "lastrowid": result.lastrowid,
    }
