"""The flows of one container: its tracked connections (conntrack), read in a thread worker
every two seconds while the screen is open. Esc closes it.

The reader is the app's (`Wiring.flows`): it blocks, so it never runs on the UI thread.
"""

from __future__ import annotations

from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from coi_tui.models import Container
from coi_tui.services.traffic.flows import (
    ACCOUNTING_NOTE,
    Flow,
    FlowReport,
    short_count,
    short_duration,
)
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

REFRESH_EVERY = 2.0  # seconds
FlowSource = Callable[[Container], FlowReport]  # blocking: call it off the UI thread

COLUMNS = (
    Column("proto", "Proto", priority=0, max_width=5),
    Column("dest", "Destination", priority=0, address=True, max_width=15),
    Column("name", "Name", priority=2, max_width=30),
    Column("port", "Port", priority=0, max_width=5),
    Column("state", "State", priority=0, max_width=11),
    Column("sent", "Sent", priority=1, max_width=6),
    Column("received", "Recv", priority=1, max_width=6),
    Column("expires", "Expires", priority=3, max_width=7),
)
STATE_COLOURS = {"ESTABLISHED": "success", "UNREPLIED": "warning", "SYN_SENT": "warning"}


def flow_key(flow: Flow) -> str:
    return f"{flow.protocol} {flow.destination}:{flow.port} from {flow.sport}"


def flow_cells(flow: Flow) -> tuple[str, ...]:
    return (
        flow.protocol,
        flow.destination,
        flow.name or "-",
        "-" if flow.port is None else str(flow.port),
        flow.state,
        short_count(flow.sent_bytes) or "-",
        short_count(flow.received_bytes) or "-",
        short_duration(flow.timeout) or "-",
    )


def summary_text(report: FlowReport) -> str:
    if report.problem:
        return report.problem
    text = f"{report.total} tracked flows"
    if report.more:
        text += f" ({len(report.flows)} shown, {report.more} more)"
    if report.accounting is False:
        text += f"; {ACCOUNTING_NOTE}"
    return text


def colour_of(_key: str, column: str, value: str) -> str:
    return STATE_COLOURS.get(value, "") if column == "state" else ""


class FlowsRead(Message):
    def __init__(self, report: FlowReport) -> None:
        super().__init__()
        self.report = report


class FlowsScreen(ModalScreen[None]):
    BINDINGS = bindings("flows")

    DEFAULT_CSS = """
    FlowsScreen { align: center middle; }
    FlowsScreen #flows-dialog { width: 100%; max-width: 120; height: 100%; max-height: 40;
        border: round $primary; background: $surface; padding: 0 1; }
    FlowsScreen #flows-title { text-style: bold; }
    FlowsScreen #flows-summary { height: auto; max-height: 2; color: $text-muted; }
    FlowsScreen #flows-hint { color: $text-muted; height: 1; }
    """

    def __init__(self, container: Container, reader: FlowSource) -> None:
        super().__init__()
        self.container = container
        self._reader = reader
        self.report: FlowReport | None = None  # the last one shown

    def compose(self) -> ComposeResult:
        with Vertical(id="flows-dialog"):
            yield Label(f"Flows of {self.container.name} ({self.container.ipv4 or 'no IPv4'})",
                        id="flows-title", markup=False)
            yield Static("reading conntrack...", id="flows-summary", markup=False)
            yield ListTable(COLUMNS, table_id="flows-table", name_column="dest",
                            style_for=colour_of, id="flows-list",
                            placeholder="filter: any text of the flow (!text excludes)")
            yield Label(f"esc closes · / filters · read every {REFRESH_EVERY:g} s",
                        id="flows-hint")

    @property
    def rows_list(self) -> ListTable:
        return self.query_one("#flows-list", ListTable)

    def on_mount(self) -> None:
        self.rows_list.data.focus()
        self.load()
        self.set_interval(REFRESH_EVERY, self.load)

    def load(self) -> None:
        reader, container = self._reader, self.container
        self.run_worker(lambda: self.post_message(FlowsRead(reader(container))), thread=True,
                        group="flows", exclusive=True, exit_on_error=False)

    def on_flows_read(self, message: FlowsRead) -> None:
        self.report = message.report
        self.rows_list.show_rows({flow_key(f): flow_cells(f) for f in message.report.flows})
        self.query_one("#flows-summary", Static).update(summary_text(message.report))

    def action_close(self) -> None:
        self.dismiss(None)
