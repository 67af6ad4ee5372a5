"""Guest paths as the plan's preopens map them onto the host.

Host providers (DuckDB) run outside the sandbox, yet the user writes guest
paths in SQL (`/data/x.csv`): these helpers translate, and refuse anything no
preopen covers, so a provider reaches exactly what the guest could reach.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from pylon_shell.runtimes.base import Preopen

_LITERAL = re.compile(r"'((?:[^']|'')*)'")


class GuestFS:
    def __init__(self, preopens: list[Preopen]) -> None:
        # Longest guest path first, so /data/sub wins over /data.
        self.preopens = sorted(preopens, key=lambda p: len(p.guest), reverse=True)

    def to_host(self, guest: str, *, writable: bool = False) -> Path | None:
        """The host path for `guest`, or None when no (suitable) preopen covers it."""
        path = PurePosixPath(guest)
        if not path.is_absolute() or ".." in path.parts:
            return None
        for preopen in self.preopens:
            root = PurePosixPath(preopen.guest)
            if path == root or root in path.parents:
                if writable and preopen.readonly:
                    return None
                return Path(preopen.host, *path.relative_to(root).parts)
        return None

    def writable_roots(self) -> list[Path]:
        return [p.host for p in self.preopens if not p.readonly]

    def rewrite_sql(self, sql: str, on_path: Callable[[str], None] | None = None) -> str:
        """Guest paths inside SQL string literals, as host paths; `on_path` hears
        each guest path mapped (the fs cap's monitor)."""

        def replace(match: re.Match[str]) -> str:
            text = match.group(1).replace("''", "'")
            host = self.to_host(text) if text.startswith("/") else None
            if host is None:
                return match.group(0)
            if on_path is not None:
                on_path(text)
            return "'" + str(host).replace("'", "''") + "'"

        return _LITERAL.sub(replace, sql)
