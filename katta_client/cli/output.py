"""Tables for the human output. Cells are plain text: names come from users, never rich markup."""
from __future__ import annotations

from typing import Any, Iterable, Sequence

from rich.table import Table
from rich.text import Text


def table(columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    result = Table(box=None, pad_edge=False)
    for column in columns:
        result.add_column(column, overflow="fold")  # ids must stay whole: users copy them
    for row in rows:
        result.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    return result


def fields(rows: Iterable[tuple[str, Any]]) -> Table:
    result = Table(show_header=False, box=None, pad_edge=False)
    result.add_column(style="bold")
    result.add_column()
    for label, value in rows:
        result.add_row(Text(label), Text("" if value is None else str(value)))
    return result
