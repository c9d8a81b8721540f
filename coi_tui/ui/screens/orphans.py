"""The Orphans view: what dead containers left behind, grouped by kind with counts, each item
with why it is an orphan; inherited rules of live containers in their own group.

Keys: space marks the item and moves down (on a group's heading: the whole group), `a` marks
every orphan shown (again: none), enter shows the item's details and why, `d` opens the review
of exactly what will go (Cancel focused; y / n / Esc), `m` on an inherited item asks for a mode.
Item and Why share the width (each elided to its share); the row under the table has the
highlighted row's both in full, enter opens it all. What COI would take for an orphan and is
none is the table's last group (Not orphans), not prose.
The view does no I/O: the host feeds it reports (`show_report`) and handles
`CleanOrphansRequested` (run `services.orphan_clean.clean_job` on the engine) and
`InheritedModeRequested`.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label, Static

from coi_tui.services.orphans import KIND_TITLES, Orphan, OrphanKind, OrphanReport
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

COLUMNS = (
    Column("mark", " ", priority=0, max_width=3),
    Column("item", "Item", priority=0, fill=True, max_width=400),
    Column("why", "Why", priority=0, fill=True, max_width=400),
)
GROUP = "group:"  # row keys of the group headings
SKIPPED = "skipped:"  # row keys of the last group: looks like an orphan, is none
SKIPPED_TITLE = "Not orphans"


# what `?` explains, one line each (word, meaning)
LEGEND = (
    ("[ ] [x]", "not marked / marked for the clean-up review (d)"),
    ("Item, Why", "each elided to its share; the line under the table has both"),
    ("enter", "the row in full (kind, item, why, id, owner); again: closes"),
    ("Inherited", "a live container holds a dead one's address and rules (m)"),
    ("Not orphans", "look like orphans to COI, are none here: never cleaned"),
    ("a heading", "enter: the scan's warnings and what it did not check"),
)


def heading_style(key: str, column: str, _value: str) -> str:
    return " bold" if column == "item" and (key.startswith(GROUP) or key == SKIPPED) else ""


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

    BINDINGS = bindings("clean")

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
    BINDINGS = bindings("orphans")

    # one row per text, elided: the table gets the rest; the detail opens (wraps) on enter
    DEFAULT_CSS = """
    OrphansView #orphans-table { height: 1fr; }
    OrphansView #orphans-summary, OrphansView #orphans-notes, OrphansView #orphans-detail {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    OrphansView #orphans-notes { color: $text-muted; }
    OrphansView #orphans-detail { background: $panel; }
    OrphansView #orphans-detail.-open { text-wrap: wrap; max-height: 8; }
    """

    def __init__(self, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.read_only = read_only
        self._report = OrphanReport()
        self._items: dict[str, Orphan] = {}
        self.marked: set[str] = set()
        self._open: str | None = None  # the row whose detail enter opened

    def compose(self) -> ComposeResult:
        yield Static("no scan yet", id="orphans-summary", markup=False)
        yield Static("", id="orphans-notes", markup=False)  # what was not checked
        yield ListTable(COLUMNS, table_id="orphans-table", sortable=False, name_column="item",
                        style_for=heading_style, id="orphans-list")
        yield Static("", id="orphans-detail", markup=False)

    @property
    def rows_list(self) -> ListTable:
        return self.query_one("#orphans-list", ListTable)

    @property
    def table(self) -> DataTable[str | Text]:
        return self.rows_list.data

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

    def _rows(self) -> dict[str, tuple[str, str, str]]:
        rows: dict[str, tuple[str, str, str]] = {}
        for number, kind in enumerate(OrphanKind):
            items = [o for o in self._report.orphans if o.kind is kind]
            if not items:
                continue
            # zero-padded prefixes keep the groups in order under the table's sort
            rows[f"{GROUP}{number:02d}"] = ("", f"{KIND_TITLES[kind]} ({len(items)})", "")
            for index, item in enumerate(items):
                rows[f"{number:02d}:{index:05d}:{item.key}"] = (
                    "[x]" if item.key in self.marked else "[ ]", item.detail, item.reason)
        skipped = self._report.skipped
        if skipped:  # last, so they never push an orphan off the screen
            rows[SKIPPED] = ("", f"{SKIPPED_TITLE} ({len(skipped)})", "")
            for index, kept in enumerate(skipped):
                rows[f"{SKIPPED}{index:05d}"] = ("", kept.id, kept.reason)
        return rows

    def _render_rows(self) -> None:
        self.rows_list.show_rows(self._rows())
        self.query_one("#orphans-summary", Static).update(self._summary())
        notes = self.query_one("#orphans-notes", Static)
        notes.display = bool(self._report.notes)
        notes.update(" · ".join(self._report.notes))
        self._show_detail()

    def _errors(self) -> list[str]:
        return [f"{part} not checked: {why}" for part, why in sorted(self._report.errors.items())]

    def _summary(self) -> str:
        inherited = len(self._report.orphans) - self._report.count
        skipped = len(self._report.skipped)
        errors = "; ".join(self._errors())
        return (f"{self._report.count} orphan(s), {len(self.marked)} marked"
                + (f", {inherited} container(s) with inherited rules" if inherited else "")
                + (f" · {skipped} not orphans (listed last)" if skipped else "")
                + (f" · WARNING: {errors}" if errors else ""))

    def _detail_lines(self, key: str, opened: bool) -> list[str]:
        """The cursor's row: one line, or in full once enter opened it."""
        if key.startswith(GROUP) or key == SKIPPED:
            if opened:
                return [*self._errors(), *self._report.notes] or ["every part was checked"]
            return ["looks like an orphan to COI, is none here: never cleaned"
                    if key == SKIPPED else "space marks the whole group; enter: the scan's "
                    "warnings"]
        if key.startswith(SKIPPED):
            kept = self._report.skipped[int(key.removeprefix(SKIPPED))]
            return [f"not an orphan: {kept.id}: {kept.reason}"]
        item = self._items[key.split(":", 2)[2]]
        if not opened:  # both cells in full, as far as the row goes
            return [f"{item.detail} · why: {item.reason}"]
        return [f"{KIND_TITLES[item.kind]}: {item.detail}", f"why: {item.reason}",
                f"id: {item.id}", *([f"for: {item.owner}"] if item.owner else [])]

    def _show_detail(self) -> None:
        key = self._cursor_key()
        detail = self.query_one("#orphans-detail", Static)
        detail.display = key is not None
        if key is None:
            return
        opened = key == self._open
        detail.set_class(opened, "-open")
        detail.update("\n".join(self._detail_lines(key, opened)))

    def _cursor_key(self) -> str | None:
        return self.rows_list.cursor_key()

    def _item_at_cursor(self) -> Orphan | None:
        key = self._cursor_key()
        if key is None or key.startswith((GROUP, SKIPPED)):
            return None
        return self._items.get(key.split(":", 2)[2])

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
        if key.startswith(SKIPPED):
            pass  # not an orphan: never marked
        elif key.startswith(GROUP):
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

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value != self._open:
            self._open = None  # the cursor moved on: the detail is one row again
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter: the row in full (kind, item, why, id, owner); enter again closes it."""
        key = event.row_key.value
        self._open = None if self._open == key else key
        self._show_detail()

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
