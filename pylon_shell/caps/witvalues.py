"""Provider values as wasmtime-py's WIT values for the CPython session component.

The `pylon:cap/types` value variant and the records the caps' interfaces
return (failure, result-set): one converter each, used by every cap's wiring
(caps/<name>/wiring.py) and by the generic dispatch interface alike.
"""

from __future__ import annotations

from typing import Any

from pylon_shell.caps.values import ProviderError, ResultSet, decode, encode


def wit_value(value: Any) -> Any:
    from wasmtime.component import Variant

    tag, payload = encode(value)
    return Variant(tag, payload) if payload is not None else Variant(tag)


def py_value(variant: Any) -> Any:
    return decode(variant.tag, variant.payload)


def wit_record(**fields: Any) -> Any:
    from wasmtime.component import Record

    record = Record()
    for name, value in fields.items():
        setattr(record, name.replace("_", "-"), value)
    return record


def wit_failure(error: ProviderError) -> Any:
    return wit_record(kind=error.kind, message=error.message)


def wit_result_set(result: ResultSet) -> Any:
    return wit_record(
        columns=[wit_record(name=n, type_name=t) for n, t in result.columns],
        rows=[[wit_value(v) for v in row] for row in result.rows],
        rowcount=result.rowcount,
        lastrowid=result.lastrowid,
    )
