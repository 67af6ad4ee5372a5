"""The duckdb cap's calls from the guests: `pylon:cap/duckdb` and its bridge calls.

Both end in the provider process (provider.py), through the layer's proxy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pylon_shell.caps.values import ResultSet, from_json, result_to_json
from pylon_shell.caps.witvalues import py_value, wit_result_set, wit_value

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    duckdb = layer.provider(package.name)
    with root.add_instance(package.interface) as duck:
        duck.add_func("connect", kit.untagged(lambda db, ro: duckdb.connect(db, ro)))
        duck.add_func(
            "execute",
            kit.untagged(
                lambda h, sql, ps: _head(*duckdb.execute(h, sql, [py_value(p) for p in ps]))
            ),
        )
        duck.add_func("fetch", kit.untagged(lambda h, n: _batch(*duckdb.fetch(h, n))))
        duck.add_func("close", lambda _store, h: duckdb.close(h))


def _head(result: ResultSet, more: bool) -> Any:
    """An execute: its result-set (with the first batch) and whether more rows follow."""
    return (wit_result_set(result), more)


def _batch(rows: list[Any], more: bool) -> Any:
    """A fetch: one batch of rows and whether more follow."""
    return ([[wit_value(v) for v in row] for row in rows], more)


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    duckdb = layer.provider("duckdb")

    def execute(handle: int, sql: str, params: list[Any]) -> dict[str, Any]:
        # The first batch of rows; "more" says duckdb.fetch has the rest.
        result, more = duckdb.execute(handle, sql, [from_json(p) for p in params])
        return {**result_to_json(result), "more": more}

    def fetch(handle: int, max_rows: int) -> dict[str, Any]:
        rows, more = duckdb.fetch(handle, max_rows)
        return {"rows": result_to_json(ResultSet([], rows))["rows"], "more": more}

    return {
        "duckdb.connect": kit.handler(lambda db, ro: duckdb.connect(db, ro)),
        "duckdb.execute": kit.handler(execute),
        "duckdb.fetch": kit.handler(fetch),
        "duckdb.close": kit.handler(lambda h: duckdb.close(h)),
    }
