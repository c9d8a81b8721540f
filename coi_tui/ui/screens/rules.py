"""The Rules view: every live rule with its owner and state, plus the missing ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from coi_tui.models import Inventory
from coi_tui.services.drift import RuleRow, RuleState, rule_rows
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

COLUMNS = (
    Column("prio", "Prio", priority=1),
    Column("owner", "Owner", priority=0, max_width=24),
    Column("source", "Source", priority=4, address=True),
    Column("dest", "Destination", priority=1, max_width=22),
    Column("verdict", "Verdict", priority=0),
    Column("state", "State", priority=0),
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
)


def row_cells(row: RuleRow) -> tuple[str, ...]:
    rule = row.rule
    return (
        str(rule.priority),
        row.owner.split("/", 1)[1] if row.owner else "-",
        rule.source or "any",
        rule.destination or "any",
        rule.verdict or "-",
        row.state.value,
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

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._inventory = Inventory()
        self._rows: list[RuleRow] = []

    def compose(self) -> ComposeResult:
        yield Static("", id="rules-summary")
        yield ListTable(COLUMNS, table_id="rules-table", style_for=colour_of, id="rules-list",
                        placeholder="filter: any text of the rule (!text excludes)")

    @property
    def rows_list(self) -> ListTable:
        return self.query_one("#rules-list", ListTable)

    def show_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._rows = rule_rows(inventory)
        self.rows_list.show_rows({r.key: row_cells(r) for r in self._rows})
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
        self.query_one("#rules-summary", Static).update(
            f"{label}({shown}/{total} rules, {missing} missing)")
