"""The Containers view: every container with IP, veth, mode and flags; its rules below."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Static

from coi_tui.models import ContainerState, Inventory, Isolation, Mode
from coi_tui.ui.widgets.reconcile import reconcile_rows

# What must be seen first comes first: at 80 columns the flags are on screen.
COLUMNS = (
    ("name", "Name"),
    ("status", "Status"),
    ("ipv4", "IPv4"),
    ("mode", "Mode"),
    ("flags", "Flags"),
    ("source", "Source"),
    ("rules", "Rules"),
    ("refresh", "IPs refresh"),
    ("project", "Project"),
    ("veth", "Host veth"),
)
LOUD = (Isolation.EXPOSED, Isolation.UNKNOWN, Isolation.HELD, Isolation.DRIFT)


def flags(state: ContainerState, inherited: bool = False) -> str:
    if state.isolation in LOUD:
        return state.isolation.value.upper()
    if inherited:  # says more than UNPROTECTED: whose rules these are
        return "INHERITED"
    return "UNPROTECTED" if state.unprotected else ""


def container_row(state: ContainerState, next_refresh: str = "",
                  inherited: bool = False) -> tuple[str, ...]:
    c = state.container
    return (
        c.name,
        c.status,
        c.ipv4 or "-",
        state.mode.value if state.mode else "-",
        flags(state, inherited),
        state.mode_source.value,
        str(len(state.rules)),
        next_refresh if state.mode is Mode.ALLOWLIST else "",
        c.project,
        c.veth or "-",
    )


class ContainerTable(DataTable[str]):
    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="containers.down"),
        Binding("k", "cursor_up", "Up", show=False, id="containers.up"),
        Binding("g", "scroll_top", "Top", show=False, id="containers.top"),
        Binding("G", "scroll_bottom", "Bottom", show=False, id="containers.bottom"),
    ]


class ContainersView(Vertical):
    """Owns no I/O: it renders whatever snapshot the app hands it."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._inventory = Inventory()
        self._next_refresh = ""  # when the allowlist refresher runs next (wall clock)
        # containers carrying rules a deleted container left at their address (orphan scan)
        self._inherited: frozenset[str] = frozenset()

    def compose(self) -> ComposeResult:
        table: ContainerTable = ContainerTable(id="containers-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="container-detail-title")
        detail: DataTable[str] = DataTable(id="container-rules", cursor_type="row")
        # fixed widths: rows of the next container must not be cut to the first one's widths
        detail.add_column("Prio", key="prio", width=4)
        detail.add_column("Destination", key="dest", width=18)
        detail.add_column("Verdict", key="verdict", width=7)
        detail.add_column("Rule", key="rule")
        yield detail

    def on_mount(self) -> None:
        self.table.focus()

    @property
    def table(self) -> ContainerTable:
        return self.query_one("#containers-table", ContainerTable)

    def show_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        rows = {s.container.key: container_row(s, self._next_refresh,
                                               s.container.key in self._inherited)
                for s in inventory.containers}
        reconcile_rows(self.table, rows, [key for key, _ in COLUMNS])
        self._show_detail()

    def show_inherited(self, keys: frozenset[str]) -> None:
        if keys != self._inherited:
            self._inherited = keys
            self.show_inventory(self._inventory)

    def show_next_refresh(self, at: float | None) -> None:
        """An absolute time, so it needs no ticking timer of its own."""
        text = time.strftime("%H:%M:%S", time.localtime(at)) if at is not None else ""
        if text != self._next_refresh:
            self._next_refresh = text
            self.show_inventory(self._inventory)

    def selected(self) -> ContainerState | None:
        table = self.table
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((s for s in self._inventory.containers if s.container.key == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self._show_detail()

    def _show_detail(self) -> None:
        state = self.selected()
        title = self.query_one("#container-detail-title", Static)
        detail = self.query_one("#container-rules", DataTable)
        if state is None:
            title.update("No container selected")
            detail.clear()
            return
        c = state.container
        mode = state.mode.value if state.mode else "none (unprotected)"
        why = f"\n{state.isolation.value.upper()}: {state.reason}" if state.isolation in LOUD \
            else ""
        if c.key in self._inherited:
            why += ("\nINHERITED: these rules were left at its address by a deleted container; "
                    "m applies a mode, d removes them")
        title.update(
            f"{c.name}  ip {c.ipv4 or '-'}  veth {c.veth or '-'} "
            f"(bridge {state.veth_master or '-'})  mode {mode} [{state.mode_source.value}]{why}"
        )
        rows = {
            str(r): (str(r.priority), r.destination or "any", r.verdict or "-", str(r))
            for r in sorted(state.rules, key=lambda r: (r.ipv, r.chain, r.priority, r.args))
        }
        reconcile_rows(detail, rows, ["prio", "dest", "verdict", "rule"], sort_key=int)
