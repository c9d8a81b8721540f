"""The Rules view: every live direct rule with its owner and state, plus the missing ones."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import DataTable, Input, Static

from coi_tui.models import Inventory
from coi_tui.services.drift import RuleRow, rule_rows
from coi_tui.ui.widgets.reconcile import reconcile_rows

COLUMNS = (
    ("prio", "Prio"),
    ("owner", "Owner"),
    ("source", "Source"),
    ("dest", "Destination"),
    ("verdict", "Verdict"),
    ("state", "State"),
    ("args", "Arguments"),
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


def matches(row: RuleRow, text: str) -> bool:
    """Substring on the owner name; a leading ! inverts."""
    if not text:
        return True
    invert = text.startswith("!")
    needle = text.removeprefix("!").lower()
    found = needle in (row.owner or "").lower()
    return found != invert


class RulesView(Vertical):
    BINDINGS = [
        Binding("slash", "filter", "Filter", id="rules.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="rules.clear_filter"),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._inventory = Inventory()

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter by container (!name to exclude)", id="rules-filter")
        yield Static("", id="rules-summary")
        table: DataTable[str] = DataTable(id="rules-table", cursor_type="row")
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table

    @property
    def table(self) -> DataTable[str]:
        return self.query_one("#rules-table", DataTable)

    def show_inventory(self, inventory: Inventory) -> None:
        self._inventory = inventory
        self._render_rows()

    def filter_for(self, container_name: str) -> None:
        self.query_one("#rules-filter", Input).value = container_name

    def on_input_changed(self, event: Input.Changed) -> None:
        self._render_rows()

    def action_filter(self) -> None:
        self.query_one("#rules-filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#rules-filter", Input).value = ""
        self.table.focus()

    def _render_rows(self) -> None:
        text = self.query_one("#rules-filter", Input).value.strip()
        rows = rule_rows(self._inventory)
        shown = [r for r in rows if matches(r, text)]
        reconcile_rows(
            self.table,
            {r.key: row_cells(r) for r in shown},
            [key for key, _ in COLUMNS],
            sort_key=int,
        )
        missing = sum(1 for r in rows if r.state.value == "missing")
        label = f"filter: {text} " if text else ""
        self.query_one("#rules-summary", Static).update(
            f"{label}({len(shown)}/{len(rows)} rules, {missing} missing)"
        )
