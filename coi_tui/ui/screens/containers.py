"""The Containers view: every container with IP, veth, mode and flags; its rules below.

Its keys (from the action table) act on the highlighted container: `m` picks a mode, `f` puts
missing rules back, `d` removes its rules, enter shows them in the Rules view, `F` its
tracked connections, `i` turns its IPv6 off (the IPv6 bypass). Space marks
containers: `m` and `d` then act on all marked ones, in one plan. The view does no I/O: it
posts what the user asked for and the app plans it off the UI thread.
"""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from coi_tui.models import Container, ContainerState, Inventory, Ipv6, Isolation, Mode
from coi_tui.ui.actions import bindings
from coi_tui.ui.screens.mode_picker import ModePicker
from coi_tui.ui.widgets.list_table import Column, ListTable
from coi_tui.ui.widgets.reconcile import reconcile_rows

# Name, mode and flags never hide; the rest go from the right as the terminal narrows.
COLUMNS = (
    Column("mark", " ", priority=0, max_width=1),
    Column("name", "Name", priority=0, max_width=30),
    Column("status", "Status", priority=2, max_width=10),
    Column("ipv4", "IPv4", priority=1, address=True),
    Column("mode", "Mode", priority=0),
    Column("flags", "Flags", priority=0),
    Column("source", "Source", priority=3),
    Column("rules", "Rules", priority=4),
    Column("refresh", "IPs refresh", priority=5),
    Column("project", "Project", priority=6),
    Column("veth", "Host veth", priority=5),
)
IPV6_FLAG = "IPv6!"
LOUD = (Isolation.EXPOSED, Isolation.UNKNOWN, Isolation.HELD, Isolation.DRIFT,
        Isolation.BACKSTOP)
FLAG_COLOURS = {"EXPOSED": "error", "UNPROTECTED": "error", "UNKNOWN": "error",
                "DRIFT": "warning", "HELD": "warning", "INHERITED": "warning",
                "BACKSTOP": "warning", IPV6_FLAG: "error"}
MODE_COLOURS = {"restricted": "success", "allowlist": "accent", "open": "warning"}
# What the words of this view mean: `?` shows them.
LEGEND = (
    ("EXPOSED", "isolation NOT in force: the mode's blocks are missing or the firewall is down"),
    ("UNPROTECTED", "running with no COI rules at all: every destination is reachable"),
    ("DRIFT", "rules differ from the mode, but nothing the mode blocks gets through"),
    ("UNKNOWN", "its rules cannot be read: no claim either way"),
    ("HELD", "frozen by the guard until its rules are back (no traffic meanwhile)"),
    ("BACKSTOP", "firewalld down: coi-tui's own nft table blocks what the mode blocks"),
    ("INHERITED", "carries rules a deleted container left at its address"),
    (IPV6_FLAG, "a routed IPv6 address: it passes every IPv4 rule of the mode (i turns it off)"),
    ("restricted", "internet yes; LAN (RFC 1918) and cloud metadata no"),
    ("allowlist", "only the allowed domains' addresses, nothing else"),
    ("open", "no restriction at all"),
    ("set", "Source: the mode is the container's user.coi.network.mode key"),
    ("inferred", "Source: the mode is recognised from COI's rules (no key set)"),
)


def flags(state: ContainerState, inherited: bool = False) -> str:
    return " ".join(f for f in (_isolation_flag(state, inherited),
                                IPV6_FLAG if state.ipv6_bypass else "") if f)


def _isolation_flag(state: ContainerState, inherited: bool) -> str:
    if state.isolation in LOUD:
        return state.isolation.value.upper()
    if inherited:  # says more than UNPROTECTED: whose rules these are
        return "INHERITED"
    return "UNPROTECTED" if state.unprotected else ""


def colour_of(_key: str, column: str, value: str) -> str:
    if column == "flags":  # the loudest of its words
        colours = [FLAG_COLOURS.get(word, "") for word in value.split()]
        return "error" if "error" in colours else next((c for c in colours if c), "")
    if column == "mode":
        return MODE_COLOURS.get(value, "")
    return ""


def container_row(state: ContainerState, next_refresh: str = "",
                  inherited: bool = False, marked: bool = False) -> tuple[str, ...]:
    c = state.container
    return (
        "*" if marked else "",
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


def detail_text(state: ContainerState, inherited: bool) -> str:
    """One line of what the row has no room for; a second one only when something is wrong."""
    c = state.container
    mode = state.mode.value if state.mode else "none (unprotected)"
    text = (f"{c.name}  mode {mode} [{state.mode_source.value}]  ip {c.ipv4 or '-'}  "
            f"veth {c.veth or '-'} ({state.veth_master or '-'})")
    if c.ipv6 is Ipv6.GLOBAL:  # link-local reaches nothing past the bridge: not worth a word
        text += f"  ipv6 {c.ipv6}" + (" (COI's ip6 drop names the veth: drops nothing)"
                                          if state.ipv6_dropped else "")
    if state.isolation in LOUD:
        text += f"\n{state.isolation.value.upper()}: {state.reason}"
    elif inherited:
        text += "\nINHERITED: rules left at its address by a deleted container (m or d)"
    elif state.ipv6_bypass:
        text += f"\n{IPV6_FLAG} routed IPv6 passes every {state.mode} rule: i turns it off"
    return text


class ModeChangeRequested(Message):
    """Plan these containers' move to this mode, in one plan (the review follows)."""

    def __init__(self, names: tuple[str, ...], mode: Mode) -> None:
        super().__init__()
        self.names = names
        self.mode = mode


class DisableIpv6Requested(Message):
    """Plan turning these containers' IPv6 off, now and across restarts (the review follows)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names


class RulesRemovalRequested(Message):
    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names


class RulesOfRequested(Message):
    """Show this container's rules in the Rules view."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name


class FlowsRequested(Message):
    """Show this container's tracked connections."""

    def __init__(self, container: Container) -> None:
        super().__init__()
        self.container = container


class ContainersView(Vertical):
    """Owns no I/O: it renders whatever snapshot the app hands it."""

    BINDINGS = bindings("containers")
    WRITES = frozenset({"set_mode", "repair", "remove_rules", "ipv6_off"})

    DEFAULT_CSS = """
    ContainersView { height: 1fr; }
    ContainersView #containers-list { height: 2fr; }
    ContainersView #container-detail-title { background: $panel; padding: 0 1; height: auto;
        max-height: 2; text-wrap: nowrap; text-overflow: ellipsis; }
    ContainersView #container-rules { height: 1fr; }
    """

    def __init__(self, read_only: bool = False, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.read_only = read_only
        self._inventory = Inventory()
        self._next_refresh = ""  # when the allowlist refresher runs next (wall clock)
        # containers carrying rules a deleted container left at their address (orphan scan)
        self._inherited: frozenset[str] = frozenset()
        self.marked: set[str] = set()  # container keys

    def compose(self) -> ComposeResult:
        yield ListTable(COLUMNS, table_id="containers-table", name_column="name",
                        style_for=colour_of, id="containers-list")
        yield Static("", id="container-detail-title", markup=False)
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
    def rows_list(self) -> ListTable:
        return self.query_one("#containers-list", ListTable)

    @property
    def table(self) -> DataTable[str]:
        return self.rows_list.data

    @property
    def inventory(self) -> Inventory:
        return self._inventory

    def show_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self.marked &= {s.container.key for s in inventory.containers}
        self.rows_list.show_rows({
            s.container.key: container_row(s, self._next_refresh,
                                           s.container.key in self._inherited,
                                           s.container.key in self.marked)
            for s in inventory.containers})
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
        key = self.rows_list.cursor_key()
        return next((s for s in self._inventory.containers if s.container.key == key), None)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table is self.table:
            self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is self.table:
            event.stop()
            self.action_show_rules()

    def _show_detail(self) -> None:
        state = self.selected()
        title = self.query_one("#container-detail-title", Static)
        detail = self.query_one("#container-rules", DataTable)
        if state is None:
            shown, total = self.rows_list.counts
            title.update("No container selected" if not total else
                         f"no container matches the filter ({shown}/{total})")
            detail.clear()
            return
        title.update(detail_text(state, state.container.key in self._inherited))
        rows = {
            str(r): (str(r.priority), r.destination or "any", r.verdict or "-", str(r))
            for r in sorted(state.rules, key=lambda r: (r.ipv, r.chain, r.priority, r.args))
        }
        reconcile_rows(detail, rows, ["prio", "dest", "verdict", "rule"], sort_key=int)

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in self.WRITES and self.read_only:
            return None  # shown dimmed: visible but not possible
        return True

    def targets(self) -> list[ContainerState]:
        """The marked containers, else the highlighted one."""
        marked = [s for s in self._inventory.containers if s.container.key in self.marked]
        state = self.selected()
        return marked or ([state] if state is not None else [])

    def action_mark(self) -> None:
        state = self.selected()
        if state is not None:
            self.marked ^= {state.container.key}
            self.show_inventory(self._inventory)
            self.rows_list.action_cursor_down()

    def action_set_mode(self) -> None:
        targets = self.targets()
        if not targets:
            return
        names = tuple(s.container.name for s in targets)
        title = names[0] if len(names) == 1 else f"{len(names)} marked containers"
        mode = targets[0].mode
        now = None if len(names) > 1 else mode.value if mode else "none (unprotected)"

        def picked(mode: Mode | None) -> None:
            if mode is not None:
                self._clear_marks()
                self.post_message(ModeChangeRequested(names, mode))

        self.app.push_screen(ModePicker(title, now), picked)

    def _clear_marks(self) -> None:
        if self.marked:
            self.marked = set()
            self.show_inventory(self._inventory)

    def action_repair(self) -> None:
        state = self.selected()
        if state is None or state.mode is None:
            self.notify("no mode to repair: set one with m", severity="warning")
            return
        self.post_message(ModeChangeRequested((state.container.name,), state.mode))

    def action_remove_rules(self) -> None:
        targets = self.targets()
        if targets:
            self._clear_marks()
            self.post_message(RulesRemovalRequested(tuple(s.container.name for s in targets)))

    def action_ipv6_off(self) -> None:
        targets = self.targets()
        if targets:
            self._clear_marks()
            self.post_message(DisableIpv6Requested(tuple(s.container.name for s in targets)))

    def action_show_rules(self) -> None:
        state = self.selected()
        if state is not None:
            self.post_message(RulesOfRequested(state.container.name))

    def action_flows(self) -> None:
        state = self.selected()
        if state is not None:
            self.post_message(FlowsRequested(state.container))
