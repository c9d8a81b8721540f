"""The one table every list of the TUI is: filter as you type, natural sort by any column,
columns that hide by priority when the terminal is narrow, long text elided (never wrapped),
colour that means something, and copy of a row's name or address (OSC 52).

A view hands it all its rows, keyed (`show_rows`); the table shows the ones that match the
filter, touching only the cells that changed, and keeps the cursor on its row key.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.widgets import DataTable, Input, Label
from textual.widgets.data_table import CellDoesNotExist

from coi_tui.ui.actions import bindings

CELL_PADDING = 2  # DataTable pads each cell by one column on either side
SCROLLBAR = 2


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    priority: int = 1  # 0 never hides; when narrow, the highest numbers hide first
    max_width: int = 40  # longer text is elided to this
    fill: bool = False  # takes the width that is left (shared with the other fill columns)
    min_width: int = 12  # a fill column: what it keeps before lower columns may show
    address: bool = False  # what `Y` copies


# (row key, column key, cell text) -> "<theme variable> [bold]" ("error", ...) or "" for none
StyleFor = Callable[[str, str, str], str]


def natural_key(text: str) -> tuple[tuple[int, int | str], ...]:
    """coi-lab-2 before coi-lab-10; 10.0.0.9 before 10.0.0.10."""
    return tuple((0, int(part)) if part.isdigit() else (1, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


def matches(cells: Sequence[str], text: str) -> bool:
    """Substring of any cell, case-insensitive; a leading ! excludes."""
    if not text:
        return True
    invert = text.startswith("!")
    needle = text.removeprefix("!").lower()
    found = any(needle in cell.lower() for cell in cells)
    return found != invert


def fit_columns(columns: Sequence[Column], widths: Sequence[int], space: int) -> dict[str, int]:
    """Which columns show, and how wide, in `space` cells: priority 0 always, then the others
    by priority while they fit; fill columns share what is left."""
    fills = [i for i, c in enumerate(columns) if c.fill]
    chosen = {i for i, c in enumerate(columns) if c.priority == 0 and not c.fill}
    used = sum(min(widths[i], columns[i].max_width) + CELL_PADDING for i in chosen)
    kept = [i for i in fills if columns[i].priority == 0]  # shown, however narrow
    reserve = sum(min(widths[i], columns[i].min_width) + CELL_PADDING for i in fills)
    order = sorted((i for i, c in enumerate(columns) if c.priority and not c.fill),
                   key=lambda i: (columns[i].priority, i))
    for i in order:
        need = min(widths[i], columns[i].max_width) + CELL_PADDING
        if used + need + reserve > space:
            break  # strictly by priority: no lower column shows where a higher one could not
        chosen.add(i)
        used += need
    shown_fills = [i for i in fills if i in kept or used + reserve <= space]
    used += len(shown_fills) * CELL_PADDING
    shares = fill_shares([min(widths[i], columns[i].max_width) for i in shown_fills],
                         max(0, space - used), [columns[i].min_width for i in shown_fills])
    result: dict[str, int] = {}
    for i, column in enumerate(columns):
        if i in shown_fills:
            result[column.key] = shares[shown_fills.index(i)]
        elif i in chosen:
            result[column.key] = min(widths[i], column.max_width)
    return result


def fill_shares(needs: Sequence[int], space: int, least: Sequence[int] = ()) -> list[int]:
    """Widths for the fill columns: each gets what it needs when all fit; else the short ones
    keep theirs (up to an even share) and the long ones split the rest; never below `least`
    (nor below what they need, when that is less)."""
    shares = [0] * len(needs)
    left, open_ = space, sorted(range(len(needs)), key=lambda i: needs[i])
    while open_:
        even = left // len(open_)
        i = open_.pop(0)
        floor = min(needs[i], least[i] if i < len(least) else 12)
        shares[i] = max(floor, min(needs[i], even))
        left -= shares[i]
    return shares


class ListTable(Vertical):
    """A filterable, sortable DataTable (its inner table is `.data`, with the id given)."""

    BINDINGS = bindings("list")

    DEFAULT_CSS = """
    ListTable { height: 1fr; }
    ListTable > .list-filter-row { height: 1; }
    ListTable .list-filter { width: 1fr; }
    ListTable .list-count { width: auto; padding: 0 1; color: $text-muted; }
    ListTable > DataTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[Column], *, table_id: str, sortable: bool = True,
                 name_column: str | None = None, style_for: StyleFor | None = None,
                 zebra: bool = False,
                 placeholder: str = "filter (!text excludes), Esc clears",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.columns = tuple(columns)
        self._table_id = table_id
        self._sortable = sortable
        self._style_for = style_for
        self._zebra = zebra
        self._placeholder = placeholder
        self._all: dict[str, tuple[str, ...]] = {}
        self._shown: dict[str, tuple[str, ...]] = {}
        self._widths: dict[str, int] = {}  # the columns on screen, and their widths
        # what a row is called: the first sort, the tie-break, what `y` copies
        self._name_index = next(i for i, c in enumerate(self.columns)
                          if c.key == (name_column or self.columns[0].key))
        self._sort = self._name_index  # index into self.columns
        self._reverse = False

    def compose(self) -> ComposeResult:
        with Horizontal(classes="list-filter-row") as row:
            row.display = False
            yield Input(placeholder=self._placeholder, id=f"{self._table_id}-filter",
                        classes="list-filter", compact=True)
            yield Label("", classes="list-count")
        yield DataTable(id=self._table_id, cursor_type="row", zebra_stripes=self._zebra)

    @property
    def data(self) -> DataTable[Any]:
        return self.query_one(f"#{self._table_id}", DataTable)

    @property
    def filter_text(self) -> str:
        return self.query_one(".list-filter", Input).value.strip()

    @property
    def counts(self) -> tuple[int, int]:
        """(shown, total): what the filter lets through."""
        return len(self._shown), len(self._all)

    def shown_keys(self) -> list[str]:
        return [str(k.value) for k in self.data.rows]

    def shown_columns(self) -> list[str]:
        return list(self._widths)

    # ------------------------------------------------------------------ rows
    def show_rows(self, rows: Mapping[str, Sequence[str]]) -> None:
        self._all = {key: tuple(cells) for key, cells in rows.items()}
        self._show()

    def cell(self, key: str, column: str) -> str:
        """The full text of a cell (before elision), or "" for none."""
        cells = self._all.get(key)
        index = next((i for i, c in enumerate(self.columns) if c.key == column), None)
        return "" if cells is None or index is None else cells[index]

    def cursor_key(self) -> str | None:
        table = self.data
        if table.row_count == 0:
            return None
        try:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        except CellDoesNotExist:
            return None
        return None if key is None else str(key)

    def move_to(self, key: str) -> None:
        if key in self._shown:
            self.data.move_cursor(row=self.data.get_row_index(key))

    def _show(self) -> None:
        text = self.filter_text
        self._shown = {k: v for k, v in self._all.items() if matches(v, text)}
        self._count_label(text)
        if not self.is_mounted:
            return
        widths = self._fit()
        if widths != self._widths:
            self._rebuild(widths)
        else:
            self._reconcile()

    def _count_label(self, text: str) -> None:
        if self.is_mounted:
            # display set directly (not by a CSS class): it applies before the next key
            self.query_one(".list-filter-row").display = (
                bool(text) or self.query_one(".list-filter", Input).has_focus)
            self.query_one(".list-count", Label).update(
                f"{len(self._shown)}/{len(self._all)}")

    def _fit(self) -> dict[str, int]:
        widths = [max([len(self._label(i)), *(len(cells[i]) for cells in self._all.values())])
                  for i in range(len(self.columns))]
        space = self.size.width - SCROLLBAR
        if space <= 0:  # not laid out yet: everything, as wide as its text allows
            return {c.key: min(w, c.max_width) for c, w in zip(self.columns, widths, strict=True)}
        return fit_columns(self.columns, widths, space)

    def _visible(self) -> list[int]:
        return [i for i, c in enumerate(self.columns) if c.key in self._widths]

    def _rendered(self, key: str, index: int, value: str) -> Text:
        style = ""
        if self._style_for is not None:
            variable, _, bold = self._style_for(key, self.columns[index].key, value).partition(" ")
            style = " ".join(filter(None, (self.app.theme_variables.get(variable, ""), bold)))
        return Text(value, style=style, no_wrap=True, overflow="ellipsis", end="")

    def _row_cells(self, key: str, cells: tuple[str, ...]) -> list[Text]:
        return [self._rendered(key, i, cells[i]) for i in self._visible()]

    def _label(self, index: int) -> str:
        label = self.columns[index].label
        if self._sortable and index == self._sort:
            return f"{label} {'v' if self._reverse else '^'}"
        return label

    def _rebuild(self, widths: dict[str, int]) -> None:
        table = self.data
        current = self.cursor_key()
        with self.app.batch_update():
            table.clear(columns=True)
            self._widths = widths
            for i in self._visible():
                column = self.columns[i]
                table.add_column(self._label(i), key=column.key, width=widths[column.key])
            for key, cells in self._ordered(self._shown):
                table.add_row(*self._row_cells(key, cells), key=key)
            self._restore(current)

    def _ordered(self, rows: Mapping[str, tuple[str, ...]]) -> list[tuple[str, tuple[str, ...]]]:
        if not self._sortable:
            return list(rows.items())
        return sorted(rows.items(), key=lambda kv: self._sort_key(kv[1]), reverse=self._reverse)

    def _sort_key(self, cells: Sequence[str]) -> tuple[Any, ...]:
        return natural_key(cells[self._sort]), natural_key(cells[self._name_index])

    def _reconcile(self) -> None:
        table = self.data
        current = self.cursor_key()
        existing = {str(key.value) for key in table.rows}
        visible = self._visible()
        keys = [self.columns[i].key for i in visible]
        moved = False
        with self.app.batch_update():
            for key in existing - self._shown.keys():
                table.remove_row(key)
            for key, cells in self._shown.items():
                if key not in existing:
                    table.add_row(*self._row_cells(key, cells), key=key)
                    moved = True
                    continue
                for i, column in zip(visible, keys, strict=True):
                    value = self._rendered(key, i, cells[i])
                    before = table.get_cell(key, column)
                    if str(before) != value.plain or before.style != value.style:
                        table.update_cell(key, column, value)
                        moved = moved or i == self._sort
            if self._sortable and moved:
                table.sort(*(self.columns[i].key for i in (self._sort, self._name_index)
                             if i in visible),
                           key=self._sort_cells, reverse=self._reverse)
            elif not self._sortable and self.shown_keys() != list(self._shown):
                self._rebuild(self._widths)  # the order is the meaning (groups): lay it out
                return
            self._restore(current)

    def _sort_cells(self, values: Any) -> tuple[Any, ...]:
        values = values if isinstance(values, tuple) else (values,)
        return tuple(natural_key(str(v)) for v in values)

    def _restore(self, key: str | None) -> None:
        # only when the row moved: a move_cursor may land after a later cursor key (deferred)
        if key is not None and key in self._shown and key != self.cursor_key():
            self.data.move_cursor(row=self.data.get_row_index(key))

    def on_resize(self, _event: Resize) -> None:
        self._show()

    # ------------------------------------------------------------------ filter
    def on_input_changed(self, _event: Input.Changed) -> None:
        self._show()  # the event goes on up: the view's counts follow

    def action_keep_filter(self) -> None:
        self.screen.set_focus(self.data)  # at once, as `/` does: the next key is the list's

    def on_descendant_blur(self) -> None:
        self._count_label(self.filter_text)

    def action_filter(self) -> None:
        self.query_one(".list-filter-row").display = True
        # at once (a priority key): the keys typed right after it go to the filter, so a
        # name's "m" never opens the mode picker
        self.screen.set_focus(self.query_one(".list-filter", Input))

    def set_filter(self, text: str) -> None:
        self.query_one(".list-filter", Input).value = text
        self.query_one(".list-filter-row").display = bool(text)

    def action_clear_filter(self) -> None:
        self.set_filter("")
        self.data.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # the screen's focus, not has_focus: that follows only once the Input saw its Focus
        typing = self.screen.focused is self.query_one(".list-filter", Input)
        if action == "clear_filter":  # Esc goes on to the dialog or view when there is none
            return bool(self.filter_text) or typing
        if action == "filter":  # in the filter, "/" is a character (10.0.0.0/8)
            return not typing
        if action == "keep_filter":  # elsewhere, enter is the list's own
            return typing
        return True

    # ------------------------------------------------------------------ moving, sorting
    def action_cursor_down(self) -> None:
        self.data.action_cursor_down()

    def action_cursor_up(self) -> None:
        self.data.action_cursor_up()

    def action_top(self) -> None:
        if self.data.row_count:
            self.data.move_cursor(row=0)

    def action_bottom(self) -> None:
        if self.data.row_count:
            self.data.move_cursor(row=self.data.row_count - 1)

    def action_sort(self) -> None:
        if not self._sortable:
            return
        visible = [i for i, c in enumerate(self.columns) if c.key in self._widths] \
            or list(range(len(self.columns)))
        after = [i for i in visible if i > self._sort]
        self._sort = after[0] if after else visible[0]
        self._resort()

    def action_reverse(self) -> None:
        if self._sortable:
            self._reverse = not self._reverse
            self._resort()

    def _resort(self) -> None:
        self._widths = {}  # the header label changes: lay the table out again
        self._show()
        self.notify(f"sorted by {self.columns[self._sort].label}"
                    f"{' (reversed)' if self._reverse else ''}", timeout=2)

    # ------------------------------------------------------------------ copy
    def action_copy(self, which: str) -> None:
        key = self.cursor_key()
        if key is None or key not in self._all:
            return
        column = next((c for c in self.columns if c.address), None) if which == "address" \
            else self.columns[self._name_index]
        value = self.cell(key, column.key) if column is not None else ""
        if not value or value == "-":
            self.notify(f"nothing to copy: no {which} here", severity="warning")
            return
        self.app.copy_to_clipboard(value)
        self.notify(f"copied {value}", timeout=3)
