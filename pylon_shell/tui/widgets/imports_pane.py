"""The Imports pane: which cap every import hit, what the grants said, and how
many calls each cap then made; a filter, and the selected row's import chain
and the last calls of its cap.

The verdict is the first column, so a long call row (a URL) never pushes it
off a narrow pane; the long text is cut in its column and shown whole in the
detail. One vocabulary for the verdicts, the filter and the detail alike:
granted, denied, free (a module that needs no grant to import: the stdlib's
own, or one a cap serves such as ssl, whose calls are what the grants decide). Enter on a denied row
asks for the why view (WhyRequested).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Static

from pylon_shell.caps.catalog import CAPS
from pylon_shell.caps.grants import CapCallEvent, Event, ImportEvent

#: Narrow panes show the first columns: the verdict, the cap and what it was.
COLUMNS = ("verdict", "cap", "what", "calls", "importer", "provider", "time")
#: Characters of a row's "what" shown in its column (the detail shows it whole).
WHAT_WIDTH = 32
GRANTED, DENIED, FREE = "granted", "denied", "free"
_VERDICTS = {"prompt-once": "granted once", "prompt-session": "granted (session)"}
_STYLES = {DENIED: "bold red", FREE: "cyan"}


def clock(at: float) -> str:
    """A row's time, as the time column shows it."""
    return time.strftime("%H:%M:%S", time.localtime(at))


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
    operation: str = ""
    target: str = ""

    def cells(self, calls: int) -> tuple[str, ...]:
        what = self.module
        if len(what) > WHAT_WIDTH:
            what = what[: WHAT_WIDTH - 1] + "…"
        when = clock(self.at)
        return (self.verdict, self.cap, what, str(calls), self.importer, self.provider, when)

    def styled(self, calls: int) -> tuple[str | Text, ...]:
        verdict, *rest = self.cells(calls)
        return (Text(verdict, style=_STYLES.get(verdict, "green")), *rest)


@dataclass
class _CapCalls:
    count: int = 0
    recent: deque[str] = field(default_factory=lambda: deque(maxlen=5))


class ImportsPane(Vertical):
    class WhyRequested(Message):
        """Enter on a denied row: show why, and what would allow it."""

        def __init__(self, cap: str, operation: str, target: str, is_import: bool) -> None:
            super().__init__()
            self.cap, self.operation, self.target = cap, operation, target
            self.is_import = is_import

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.border_title = "Imports"
        self._rows: list[_Row] = []
        self._by_import: dict[tuple[str, str], _Row] = {}
        self._importer_of: dict[str, str] = {}
        self._calls: dict[str, _CapCalls] = {}
        self._filter = ""
        #: The row whose detail is shown.
        self._shown: _Row | None = None

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: module, cap, denied…", id="imports-filter")
        # fixed_columns: the verdict stays in view however the table is scrolled.
        yield DataTable(id="imports-table", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        yield Static("", id="import-detail", markup=False)

    @property
    def table(self) -> DataTable[str | Text]:
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
        # A module no cap guards (json, zlib) or a cap's free one (ssl) needs no
        # grant to import: say so, not "granted".
        needs_none = event.free or event.cap in ("stdlib", "builtin")
        verdict = FREE if needs_none else GRANTED if event.granted else DENIED
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
            target=event.module,
        )
        self._by_import[(event.module, event.importer)] = row
        self._add(row)

    def _call(self, event: CapCallEvent) -> None:
        calls = self._calls.setdefault(event.cap, _CapCalls())
        calls.count += 1
        said = _VERDICTS.get(event.decided_by, GRANTED) if event.granted else DENIED
        calls.recent.append(f"{event.operation} {event.target}"[:70] + f" ({said})")
        for row in self._rows:
            if row.cap == event.cap:
                self._update(row)
        shown = self._shown
        if shown is not None and shown.cap == event.cap:
            self._show_detail(shown)  # its count and last calls, now
        if not event.granted or event.decided_by.startswith("prompt"):
            # A denied call, or one the user decided: a row of its own.
            self._add(
                _Row(
                    f"r{len(self._rows)}",
                    f"{event.operation} {event.target}",
                    "(call)",
                    event.cap,
                    "",
                    said,
                    event.at,
                    is_call=True,
                    operation=event.operation,
                    target=event.target,
                )
            )

    def _count(self, row: _Row) -> int:
        return self._calls.get(row.cap, _CapCalls()).count

    def _matches(self, row: _Row) -> bool:
        needle = self._filter.lower()
        words = (row.verdict, row.cap, row.module, row.importer)
        return not needle or any(needle in word.lower() for word in words)

    def _add(self, row: _Row) -> None:
        self._rows.append(row)
        if self._matches(row):
            table = self.table
            table.add_row(*row.styled(self._count(row)), key=row.key)
            # To the new row, at the table's left: scrolling the cursor's (whole
            # row) into view would scroll a wide row to its right end.
            table.move_cursor(row=table.row_count - 1, scroll=False)
            table.call_after_refresh(table.scroll_to, x=0, y=table.max_scroll_y, animate=False)

    def _update(self, row: _Row) -> None:
        if row.key in self.table.rows:
            for column, value in zip(COLUMNS, row.styled(self._count(row)), strict=True):
                self.table.update_cell(row.key, column, value)

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._filter = event.value.strip()
        self.table.clear()
        for row in self._rows:
            if self._matches(row):
                self.table.add_row(*row.styled(self._count(row)), key=row.key)

    def _row(self, key: str | None) -> _Row | None:
        return next((r for r in self._rows if r.key == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail(self._row(event.row_key.value))

    def _show_detail(self, row: _Row | None) -> None:
        self._shown = row
        self.query_one("#import-detail", Static).update(self._detail(row) if row else "")

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        row = self._row(event.row_key.value)
        if row is not None and row.verdict == DENIED:
            event.stop()
            self.post_message(
                self.WhyRequested(row.cap, row.operation, row.target, not row.is_call)
            )

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
        lines = [chain, f"{row.cap}: {self._calls_said(row)}"]
        if row.verdict == DENIED:
            lines.append("denied: Enter shows why and what would allow it")
        elif row.verdict == FREE and row.cap in CAPS:
            lines.append(f"free: importing it needs no grant; the {row.cap} cap decides its calls")
        elif row.verdict == FREE:
            lines.append("free: no cap guards it")
        return "\n".join(lines)

    def _calls_said(self, row: _Row) -> str:
        calls = self._calls.get(row.cap)
        if calls and calls.count:
            return f"{calls.count} calls; last: " + "; ".join(calls.recent)
        if _enforcement(row.cap, row.provider) == "policy":
            # The cap runs inside the interpreter: its calls never reach the host.
            return "granted or denied at import (policy); its calls run inside the guest, unseen"
        return "no calls yet"


def _enforcement(cap: str, provider: str) -> str | None:
    if cap not in CAPS or not provider:
        return None
    try:
        return CAPS[cap].provider(provider).enforcement
    except (KeyError, ValueError):
        return None
