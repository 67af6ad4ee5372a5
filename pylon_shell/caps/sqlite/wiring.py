"""The sqlite cap's calls from the guests: `pylon:cap/sqlite` (CPython's _sqlite3
stand-in) and its bridge calls (MicroPython's sqlite3).

Both end in the SQLite component provider (provider.py), which the layer
makes on the first call (`CapLayer.component`) and which checks the grant on
every call.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from pylon_shell.caps.values import ProviderError

if TYPE_CHECKING:
    from pylon_shell.caps.layer import CapLayer
    from pylon_shell.caps.registry import CapPackage
    from pylon_shell.caps.wiring import Bridge, BridgeHandler, Link


def link(layer: CapLayer, root: Any, kit: Link, package: CapPackage) -> None:
    def provider() -> Any:
        return layer.component(package.name)

    untagged, tagged = kit.untagged, kit.tagged
    # Records and packed values go on to the provider as wasmtime lifted them.
    with root.add_instance(package.interface) as sql:
        sql.add_func("open", untagged(lambda db, options: provider().open(db, options)))
        sql.add_func("cursor", untagged(lambda c: provider().cursor(c)))
        sql.add_func("execute", tagged(lambda c, q, p, how, n: provider().execute(c, q, p, how, n)))
        sql.add_func("execute-many", tagged(lambda c, q, rs: provider().execute_many(c, q, rs)))
        sql.add_func("execute-script", untagged(lambda c, s: provider().execute_script(c, s)))
        sql.add_func("fetch", untagged(lambda c, n, how: provider().fetch(c, n, how)))
        sql.add_func("close-cursor", kit.quietly(lambda c: provider().close_cursor(c)))
        sql.add_func("commit", untagged(lambda h: provider().commit(h)))
        sql.add_func("rollback", untagged(lambda h: provider().rollback(h)))
        sql.add_func("close", untagged(lambda h: provider().close(h)))
        sql.add_func(
            "connection-call", untagged(lambda h, n, a: provider().connection_call(h, n, a))
        )
        sql.add_func(
            "blob-open",
            untagged(lambda h, t, c, r, ro, n: provider().blob_open(h, t, c, r, ro, n)),
        )
        sql.add_func("blob-call", untagged(lambda b, n, a: provider().blob_call(b, n, a)))
        sql.add_func("module-call", untagged(lambda n, a: provider().module_call(n, a)))


def unpack_rows(packed: str) -> list[Any]:
    """The provider's packed rows as JSON values, for MicroPython's reply (its
    json parses a long string slowly, so rows go as structure, not as text)."""
    try:
        rows = json.loads(packed)
    except (ValueError, RecursionError):
        raise ProviderError("OperationalError", "the SQLite provider sent malformed rows") from None
    return rows if isinstance(rows, list) else []


def bridge(layer: CapLayer, kit: Bridge) -> dict[str, BridgeHandler]:
    def provider() -> Any:
        return layer.component("sqlite")

    def outcome(found: Any) -> dict[str, Any]:
        return {
            "columns": [c.name for c in found.columns],
            "rows": unpack_rows(found.rows),
            "more": bool(found.more),
            "rowcount": found.rowcount,
            "lastrowid": found.lastrowid,
        }

    def execute(cursor: int, sql: str, params: Any, prefetch: int) -> dict[str, Any]:
        # MicroPython sends its values as JSON (blobs as {"b": base64}): the
        # provider's packed form, so they go on as text, unread.
        packed = json.dumps(params)
        return outcome(provider().execute(cursor, sql, packed, None, int(prefetch)))

    def execute_many(cursor: int, sql: str, rows: Any) -> dict[str, Any]:
        return outcome(provider().execute_many(cursor, sql, json.dumps(rows)))

    def fetch(cursor: int, max_rows: int) -> dict[str, Any]:
        rows, more = provider().fetch(cursor, int(max_rows))
        return {"rows": unpack_rows(rows), "more": more}

    handler = kit.handler
    return {
        "sqlite.open": handler(lambda db, timeout: provider().open(db, {"timeout": timeout})),
        "sqlite.cursor": handler(lambda h: provider().cursor(h)),
        "sqlite.execute": handler(execute),
        "sqlite.execute_many": handler(execute_many),
        "sqlite.execute_script": handler(lambda c, s: provider().execute_script(c, s)),
        "sqlite.fetch": handler(fetch),
        "sqlite.close_cursor": handler(lambda c: provider().close_cursor(c)),
        "sqlite.commit": handler(lambda h: provider().commit(h)),
        "sqlite.rollback": handler(lambda h: provider().rollback(h)),
        "sqlite.in_transaction": handler(lambda h: provider().in_transaction(h)),
        "sqlite.close": handler(lambda h: provider().close(h)),
    }
