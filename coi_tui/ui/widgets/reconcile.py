"""Update a DataTable in place from keyed rows, keeping the cursor on its row key."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

Cell = str


def reconcile_rows(
    table: DataTable[Cell],
    rows: Mapping[str, Sequence[Cell]],
    column_keys: Sequence[str],
    sort_key: Callable[[Any], Any] | None = None,
) -> None:
    """Remove gone keys, add new ones, touch only the cells that changed."""
    current = _cursor_key(table)
    existing = {str(key.value) for key in table.rows}
    for key in existing - rows.keys():
        table.remove_row(key)
    added = False
    for key, values in rows.items():
        if key in existing:
            for column, value in zip(column_keys, values, strict=True):
                if table.get_cell(key, column) != value:
                    # recomputing widths lays the table out again: only when the cell grows
                    grow = len(value) > table.columns[ColumnKey(column)].content_width
                    table.update_cell(key, column, value, update_width=grow)
        else:
            table.add_row(*values, key=key)
            added = True
    if added:
        table.sort(column_keys[0], key=sort_key)
    if current is not None and current in rows:
        table.move_cursor(row=table.get_row_index(current))


def _cursor_key(table: DataTable[Cell]) -> str | None:
    if table.row_count == 0:
        return None
    try:
        row_key: RowKey = table.coordinate_to_cell_key(table.cursor_coordinate).row_key
    except CellDoesNotExist:
        return None
    return None if row_key.value is None else str(row_key.value)
