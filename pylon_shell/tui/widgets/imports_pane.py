"""The Imports pane: which cap every import hit, what the grants said, and how
many calls each cap then made; a filter, and the selected row's import chain
and the last calls of its cap."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent

#: Narrow panes show the first columns: what was imported and what it hit.
COLUMNS = ("module", "cap", "granted", "calls", "importer", "provider", "time")
_VERDICTS = {"prompt-once": "allowed once", "prompt-session": "allowed (session)"}


@dataclass
class _Row:
    key: str
    module: str
    importer: str
    cap: str
    provider: str
    verdict: str
    at: float
    is_call: bool = False

    def cells(self, calls: int) -> tuple[str, ...]:
        when = time.strftime("%H:%M:%S", time.localtime(self.at))
        return (self.module, self.cap, self.verdict, str(calls), self.importer, self.provider, when)


@dataclass
class _CapCalls:
    count: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=5))


class ImportsPane(Vertical):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Imports"
        self._rows: list[_Row] = []
        self._by_import: dict[tuple[str, str], _Row] = {}
        self._importer_of: dict[str, str] = {}
        self._calls: dict[str, _CapCalls] = {}
        self._filter = ""

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: module, cap, denied…", id="imports-filter")
        yield DataTable(id="imports-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="import-detail")

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#imports-table", DataTable)

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.table.add_column(column, key=column)

    def rows(self) -> list[tuple[str, ...]]:
        """What the table shows now, top to bottom."""
        table = self.table
        return [tuple(str(c) for c in table.get_row_at(i)) for i in range(table.row_count)]

    def record(self, event: Event) -> None:
        if isinstance(event, ImportEvent):
            self._import(event)
        elif isinstance(event, CapCallEvent):
            self._call(event)

    def _import(self, event: ImportEvent) -> None:
        self._importer_of.setdefault(event.module, event.importer)
        if not event.toplevel and event.cap in ("stdlib", "builtin"):
            return  # the stdlib importing itself: noise, not a question of caps
        # A cap's free module (ssl) needs no grant to import: say so, not "granted".
        verdict = "free" if event.free else "granted" if event.granted else "DENIED"
        row = self._by_import.get((event.module, event.importer))
        if row is not None:
            row.verdict, row.at = verdict, event.at
            self._update(row)
            return
        row = _Row(
            f"r{len(self._rows)}",
            event.module,
            event.importer,
            event.cap,
            event.provider or "",
            verdict,
            event.at,
        )
        self._by_import[(event.module, event.importer)] = row
        self._add(row)

    def _call(self, event: CapCallEvent) -> None:
        calls = self._calls.setdefault(event.cap, _CapCalls())
        calls.count += 1
        state = "ok" if event.granted else "refused"
        calls.recent.append(f"{event.operation} {event.target}"[:70] + f" ({state})")
        for row in self._rows:
            if row.cap == event.cap:
                self._update(row)
        if not event.granted or event.decided_by.startswith("prompt"):
            # A refused call, or one the user decided: a row of its own.
            verdict = _VERDICTS.get(event.decided_by, "DENIED")
            self._add(
                _Row(
                    f"r{len(self._rows)}",
                    f"{event.operation} {event.target}"[:60],
                    "(call)",
                    event.cap,
                    "",
                    verdict,
                    event.at,
                    is_call=True,
                )
            )

    def _count(self, row: _Row) -> int:
        return self._calls.get(row.cap, _CapCalls()).count

    def _matches(self, row: _Row) -> bool:
        needle = self._filter.lower()
        return not needle or any(
            needle in cell.lower() for cell in row.cells(0)[:3] + (row.importer,)
        )

    def _add(self, row: _Row) -> None:
        self._rows.append(row)
        if self._matches(row):
            self.table.add_row(*row.cells(self._count(row)), key=row.key)
            self.table.move_cursor(row=self.table.row_count - 1)

    def _update(self, row: _Row) -> None:
        if row.key in self.table.rows:
            for column, value in zip(COLUMNS, row.cells(self._count(row)), strict=True):
                self.table.update_cell(row.key, column, value)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._filter = event.value.strip()
        self.table.clear()
        for row in self._rows:
            if self._matches(row):
                self.table.add_row(*row.cells(self._count(row)), key=row.key)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        row = next((r for r in self._rows if r.key == event.row_key.value), None)
        self.query_one("#import-detail", Static).update(self._detail(row) if row else "")

    def _detail(self, row: _Row) -> str:
        if row.is_call:
            chain = f"a call of the {row.cap} cap: {row.module}"
        else:
            links = [row.module]
            seen = {row.module}
            importer = row.importer
            while importer and importer not in seen and len(links) < 8:
                links.append(importer)
                seen.add(importer)
                importer = self._importer_of.get(importer, "")
            chain = " ← ".join(links)
        calls = self._calls.get(row.cap)
        recent = "; ".join(calls.recent) if calls else "no calls yet"
        return f"{chain}\n{row.cap}: {recent}"
