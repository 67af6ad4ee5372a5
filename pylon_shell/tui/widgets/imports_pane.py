"""The Imports pane: which cap every import hit, what the grants said, and how
many calls each cap then made."""

from __future__ import annotations

import time

from textual.widgets import DataTable

from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent

#: Narrow panes show the first columns: what was imported and what it hit first.
COLUMNS = ("module", "cap", "granted", "calls", "importer", "provider", "time")


class ImportsPane(DataTable[str]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.border_title = "Imports"
        self._calls: dict[str, int] = {}
        #: Row key of each (module, importer) shown, so a re-import updates it.
        self._rows: dict[tuple[str, str], str] = {}
        self._cap_rows: dict[str, list[str]] = {}
        self.filter_text = ""
        self._all: list[tuple[str, ...]] = []

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column, key=column)

    def record(self, event: Event) -> None:
        if isinstance(event, ImportEvent):
            self._import(event)
        elif isinstance(event, CapCallEvent) and event.operation != "import":
            self._call(event)

    def _import(self, event: ImportEvent) -> None:
        if not event.toplevel and event.cap in ("stdlib", "builtin"):
            return  # the stdlib importing itself: noise, not a question of caps
        key = (event.module, event.importer)
        cells = (
            event.module,
            event.cap,
            "granted" if event.granted else "DENIED",
            str(self._calls.get(event.cap, 0)),
            event.importer,
            event.provider or "",
            time.strftime("%H:%M:%S", time.localtime(event.at)),
        )
        if key in self._rows:
            row = self._rows[key]
            for column, value in zip(COLUMNS, cells, strict=True):
                self.update_cell(row, column, value)
            return
        row = f"r{len(self._rows)}"
        self._rows[key] = row
        self._cap_rows.setdefault(event.cap, []).append(row)
        self.add_row(*cells, key=row)
        self.move_cursor(row=self.row_count - 1)

    def _call(self, event: CapCallEvent) -> None:
        self._calls[event.cap] = self._calls.get(event.cap, 0) + 1
        for row in self._cap_rows.get(event.cap, []):
            self.update_cell(row, "calls", str(self._calls[event.cap]))
        if not event.granted or event.decided_by.startswith("prompt"):
            # A refused call, or one the user decided: a row of its own.
            verdict = {"prompt-once": "allowed once", "prompt-session": "allowed (session)"}.get(
                event.decided_by, "DENIED"
            )
            row = f"r{len(self._rows)}"
            self._rows[(f"{event.operation} {event.target}", row)] = row
            self.add_row(
                f"{event.operation} {event.target}"[:60],
                event.cap,
                verdict,
                str(self._calls[event.cap]),
                "(call)",
                "",
                time.strftime("%H:%M:%S", time.localtime(event.at)),
                key=row,
            )
            self.move_cursor(row=self.row_count - 1)
