"""The Orphans view: what dead containers left behind, grouped by kind with counts, each item
with why it is an orphan; inherited rules of live containers in their own group.

Keys: space marks the item and moves down (on a group's heading: the whole group), `a` marks
every orphan shown (again: none), enter shows the item's details and why, `d` opens the review
of exactly what will go (Cancel focused; y / n / Esc), `m` on an inherited item asks for a mode.
The view does no I/O: the host feeds it reports (`show_report`) and handles
`CleanOrphansRequested` (run `services.orphan_clean.clean_job` on the engine) and
`InheritedModeRequested`.
"""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from coi_tui.services.orphans import KIND_TITLES, Orphan, OrphanKind, OrphanReport

COLUMNS = (("mark", " "), ("item", "Item"), ("why", "Why"))
GROUP = "group:"  # row keys of the group headings


class OrphansScanned(Message):
    """A fresh report from a scan off the UI thread (only the newest matters)."""

    def __init__(self, report: OrphanReport) -> None:
        super().__init__()
        self.report = report

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, OrphansScanned)


class CleanOrphansRequested(Message):
    """The user reviewed and confirmed these items: clean exactly them."""

    def __init__(self, items: Sequence[Orphan]) -> None:
        super().__init__()
        self.items = tuple(items)


class InheritedModeRequested(Message):
    """`m` on an inherited item: apply a mode to that (live) container."""

    def __init__(self, container: str) -> None:
        super().__init__()
        self.container = container


def review_lines(items: Sequence[Orphan]) -> list[str]:
    return [f"- {KIND_TITLES[o.kind].split(' ', 1)[-1]}: {o.detail}" for o in items]


class OrphanReview(ModalScreen[bool]):
    """Exactly what will go. Cancel is focused, so a stray Enter removes nothing."""

    BINDINGS = [
        Binding("y", "clean", "Clean", id="orphans.review.clean"),
        Binding("n,escape", "cancel", "Cancel", id="orphans.review.cancel"),
    ]

    def __init__(self, items: Sequence[Orphan]) -> None:
        super().__init__()
        self.items = tuple(items)

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-dialog"):
            yield Label(f"Clean {len(self.items)} orphan item(s)?", id="plan-title")
            yield Static("Each is checked again just before it goes (an item that came back to "
                         "life is skipped); nothing else is touched; firewalld is never "
                         "reloaded.", id="plan-summary")
            with VerticalScroll(id="plan-steps"):
                for line in review_lines(self.items):
                    yield Static(line, classes="plan-remove", markup=False)
            with Horizontal(id="plan-buttons"):
                yield Button("Cancel \\[n]", id="orphans-cancel", variant="primary")
                yield Button("Clean \\[y]", id="orphans-clean", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#orphans-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "orphans-clean")

    def action_clean(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)


class OrphansView(Vertical):
    BINDINGS = [
        Binding("space", "mark", "Mark", id="orphans.mark"),
        Binding("a", "mark_all", "Mark all", id="orphans.mark_all"),
        Binding("d", "clean", "Clean marked", id="orphans.clean"),
        Binding("m", "apply_mode", "Mode (inherited)", id="orphans.apply_mode"),
    ]

    DEFAULT_CSS = """
    OrphansView #orphans-table { height: 1fr; }
    OrphansView #orphans-summary, OrphansView #orphans-detail,
    OrphansView #orphans-skipped { height: auto; }
    OrphansView #orphans-notes { height: auto; max-height: 2; color: $text-muted; }
    OrphansView #orphans-skipped { color: $text-muted; }
    """

    def __init__(self, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.read_only = read_only
        self._report = OrphanReport()
        self._items: dict[str, Orphan] = {}
        self.marked: set[str] = set()

    def compose(self) -> ComposeResult:
        yield Static("no scan yet", id="orphans-summary")
        yield Static("", id="orphans-notes", markup=False)  # what was not checked
        table: DataTable[str] = DataTable(id="orphans-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="orphans-detail", markup=False)
        yield Static("", id="orphans-skipped", markup=False)

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#orphans-table", DataTable)

    @property
    def report(self) -> OrphanReport:
        return self._report

    @property
    def count(self) -> int:
        """Orphans proper, for the header."""
        return self._report.count

    def show_report(self, report: OrphanReport) -> None:
        """A fresh scan (UI thread). Marks stay on items that are still there."""
        self._report = report
        self._items = {o.key: o for o in report.orphans}
        self.marked &= self._items.keys()
        self._render_rows()

    def _rows(self) -> dict[str, tuple[str, ...]]:
        rows: dict[str, tuple[str, ...]] = {}
        for number, kind in enumerate(OrphanKind):
            items = [o for o in self._report.orphans if o.kind is kind]
            if not items:
                continue
            # zero-padded prefixes keep the groups in order under the table's sort
            rows[f"{GROUP}{number:02d}"] = ("", f"{KIND_TITLES[kind]} ({len(items)})", "")
            for index, item in enumerate(items):
                rows[f"{number:02d}:{index:05d}:{item.key}"] = (
                    "[x]" if item.key in self.marked else "[ ]", item.detail, item.reason)
        return rows

    def _render_rows(self) -> None:
        rows = self._rows()
        table = self.table
        if [str(k.value) for k in table.rows] != list(rows):
            # the rows are few and their order is the grouping: rebuild, keep the cursor's row
            current = self._cursor_key()
            table.clear()
            for key, cells in rows.items():
                table.add_row(*cells, key=key)
            if current is not None and current in rows:
                table.move_cursor(row=table.get_row_index(current))
        else:
            for key, cells in rows.items():
                if table.get_cell(key, "mark") != cells[0]:
                    table.update_cell(key, "mark", cells[0])
        inherited = len(self._report.orphans) - self._report.count
        errors = "; ".join(f"{part} not checked: {why}" for part, why in
                           sorted(self._report.errors.items()))
        self.query_one("#orphans-summary", Static).update(
            f"{self._report.count} orphan(s), {len(self.marked)} marked"
            + (f", {inherited} container(s) with inherited rules" if inherited else "")
            + (f" · WARNING: {errors}" if errors else ""))
        notes = self.query_one("#orphans-notes", Static)
        notes.display = bool(self._report.notes)
        notes.update(" · ".join(self._report.notes))
        skipped = self._report.skipped
        self.query_one("#orphans-skipped", Static).update(
            ("not orphans: " + "; ".join(f"{s.id} ({s.reason})" for s in skipped))
            if skipped else "")

    def _cursor_key(self) -> str | None:
        if self.table.row_count == 0:
            return None
        key = self.table.coordinate_to_cell_key(self.table.cursor_coordinate).row_key.value
        return None if key is None else str(key)

    def _item_at_cursor(self) -> Orphan | None:
        key = self._cursor_key()
        return None if key is None or key.startswith(GROUP) else self._items.get(
            key.split(":", 2)[2])

    def selected(self) -> Orphan | None:
        return self._item_at_cursor()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.read_only and action in ("clean", "apply_mode"):
            return None  # shown dimmed: visible but not possible
        return True

    def action_mark(self) -> None:
        key = self._cursor_key()
        if key is None:
            return
        if key.startswith(GROUP):
            kind = list(OrphanKind)[int(key.removeprefix(GROUP))]
            group = {o.key for o in self._report.orphans if o.kind is kind}
            self.marked = self.marked - group if group <= self.marked else self.marked | group
        else:
            item = key.split(":", 2)[2]
            self.marked ^= {item}
        self._render_rows()
        self.table.action_cursor_down()

    def action_mark_all(self) -> None:
        everything = {o.key for o in self._report.orphans if o.kind is not OrphanKind.INHERITED}
        self.marked = set() if everything and everything <= self.marked else everything
        self._render_rows()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        item = self._item_at_cursor()
        detail = self.query_one("#orphans-detail", Static)
        if item is None:
            detail.update("")
            return
        detail.update(f"{KIND_TITLES[item.kind]}: {item.detail}\n"
                      f"why: {item.reason}\nid: {item.id}"
                      + (f"\nfor: {item.owner}" if item.owner else ""))

    def marked_items(self) -> list[Orphan]:
        return [o for o in self._report.orphans if o.key in self.marked]

    def action_clean(self) -> None:
        items = self.marked_items()
        if not items:
            current = self._item_at_cursor()
            items = [current] if current is not None else []
        if not items:
            self.notify("nothing marked: space marks an item, a marks all", severity="warning")
            return

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self.marked -= {o.key for o in items}
                self.post_message(CleanOrphansRequested(items))
                self._render_rows()

        self.app.push_screen(OrphanReview(items), decided)

    def action_apply_mode(self) -> None:
        item = self._item_at_cursor()
        if item is None or item.kind is not OrphanKind.INHERITED or item.owner is None:
            self.notify("m applies a mode to a container with inherited rules",
                        severity="warning")
            return
        self.post_message(InheritedModeRequested(item.owner))
