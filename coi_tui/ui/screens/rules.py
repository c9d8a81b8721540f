"""The Rules view: every live rule with its owner and state, plus the missing ones, and how
many packets each rule has matched where the kernel counts them (the firewalld era's direct
rules; COI's nft rules carry no counters: "-")."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from coi_tui.eras.firewalld.counters import CounterReading, RuleCounter
from coi_tui.models import CoiRule, Inventory
from coi_tui.services.drift import RuleRow, RuleState, rule_rows
from coi_tui.services.traffic.flows import short_count
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

COLUMNS = (
    Column("prio", "Prio", priority=1),
    Column("owner", "Owner", priority=0, max_width=24),
    Column("source", "Source", priority=4, address=True),
    Column("dest", "Destination", priority=1, max_width=22),
    Column("verdict", "Verdict", priority=0),
    Column("state", "State", priority=0),
    Column("hits", "Hits", priority=5),
    Column("args", "Rule", priority=2, fill=True, max_width=200, min_width=30),
)
STATE_COLOURS = {RuleState.MISSING.value: "error", RuleState.UNEXPECTED.value: "warning",
                 RuleState.ORPHAN.value: "warning"}
LEGEND = (
    ("ok", "present, and the container's mode wants it"),
    ("missing", "the mode wants it and it is not in the firewall (drift): f puts it back"),
    ("unexpected", "owned by a container whose mode does not want it"),
    ("orphan", "names an address no known container has (the Orphans view cleans it)"),
    ("shared", "not tied to one container: COI's base rule, or another tool's"),
    ("-", "owned, but what the mode wants is not known yet (an unresolved allowlist)"),
    ("hits", "packets it matched since it was added; COI's nft rules keep no count: the "
             "attempts the feed saw it decide (a sample); - : none"),
)
COUNTERS_EVERY = 2.0  # seconds between counter reads while the view is shown
# the rules' kernel counters, read off the UI thread
RuleCounters = Callable[[Sequence[CoiRule]], CounterReading]


class CountersRead(Message):
    def __init__(self, reading: CounterReading) -> None:
        super().__init__()
        self.reading = reading


def row_cells(row: RuleRow, counts: Mapping[CoiRule, RuleCounter] | None = None
              ) -> tuple[str, ...]:
    rule = row.rule
    counter = (counts or {}).get(rule) if row.state is not RuleState.MISSING else None
    return (
        str(rule.priority),
        row.owner.split("/", 1)[1] if row.owner else "-",
        rule.source or "any",
        rule.destination or "any",
        rule.verdict or "-",
        row.state.value,
        (short_count(counter.packets) if counter else None) or "-",
        " ".join(rule.args),
    )


def colour_of(_key: str, column: str, value: str) -> str:
    return STATE_COLOURS.get(value, "") if column == "state" else ""


class RulesView(Vertical):
    BINDINGS = bindings("rules")

    DEFAULT_CSS = """
    RulesView { height: 1fr; }
    RulesView #rules-summary { height: 1; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, counters: RuleCounters | None = None, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._inventory = Inventory()
        self._rows: list[RuleRow] = []
        self._counters = counters
        self._reading = CounterReading()

    def compose(self) -> ComposeResult:
        yield Static("", id="rules-summary", markup=False)
        yield ListTable(COLUMNS, table_id="rules-table", style_for=colour_of, id="rules-list",
                        placeholder="filter: any text of the rule (!text excludes)")

    def on_mount(self) -> None:
        if self._counters is not None:
            self.set_interval(COUNTERS_EVERY, self.read_counters)

    def on_show(self) -> None:
        self.read_counters()  # opening the view shows the counts of now

    @property
    def rows_list(self) -> ListTable:
        return self.query_one("#rules-list", ListTable)

    def read_counters(self) -> None:
        """One read in a thread worker, only while the view is on screen (idle costs none)."""
        reader, rules = self._counters, self._inventory.rules
        if reader is None or not rules or not self.region.area:
            return
        self.run_worker(lambda: self.post_message(CountersRead(reader(rules))), thread=True,
                        group="rule-counters", exclusive=True, exit_on_error=False)

    def on_counters_read(self, message: CountersRead) -> None:
        self._reading = message.reading
        self._show_rows()

    def show_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._rows = rule_rows(inventory)
        self._show_rows()

    def _show_rows(self) -> None:
        counts = self._reading.counts
        self.rows_list.show_rows({r.key: row_cells(r, counts) for r in self._rows})
        self._summary()

    def filter_for(self, container_name: str) -> None:
        self.rows_list.set_filter(container_name)
        self._summary()

    def on_input_changed(self) -> None:
        self._summary()  # the table filtered itself; the counts follow

    def _summary(self) -> None:
        shown, total = self.rows_list.counts
        missing = sum(1 for r in self._rows if r.state is RuleState.MISSING)
        text = self.rows_list.filter_text
        label = f"filter: {text} " if text else ""
        problem = f"  hits: {self._reading.problem}" if self._reading.problem else ""
        self.query_one("#rules-summary", Static).update(
            f"{label}({shown}/{total} rules, {missing} missing){problem}")
