"""Plan review: every line a change runs (direct rules, or the nft transaction's script),
before anything runs.

Cancel is focused, so a stray Enter never applies; y applies, n and Esc cancel.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from coi_tui.plans import Plan, plan_summary, review_lines
from coi_tui.ui.actions import bindings


class PlanReview(ModalScreen[bool]):
    BINDINGS = bindings("plan")

    DEFAULT_CSS = """
    PlanReview #plan-note { height: 1; text-wrap: nowrap; text-overflow: ellipsis;
                            color: $warning; }
    """

    def __init__(self, plan: Plan, title: str | None = None, note: str = "") -> None:
        super().__init__()
        self.plan = plan
        self.title_text = title or plan.title or "Review the plan"
        # one line under the summary (e.g. which domains keep COI's cached addresses)
        self.note = " ".join(note.split())

    def compose(self) -> ComposeResult:
        with Vertical(id="plan-dialog"):
            yield Label(self.title_text, id="plan-title")
            if self.plan.empty:
                yield Static("Nothing to change: the rules already match.", id="plan-summary")
            else:
                yield Static(plan_summary(self.plan), id="plan-summary")
            if self.note:
                yield Static(self.note, id="plan-note", markup=False)
            with VerticalScroll(id="plan-steps"):
                for line in review_lines(self.plan):
                    kind = {"+": "plan-add", "-": "plan-remove"}.get(line[0], "plan-other")
                    yield Static(line, classes=kind, markup=False)
            with Horizontal(id="plan-buttons"):
                yield Button("Cancel \\[n]", id="plan-cancel", variant="primary")
                yield Button("Apply \\[y]", id="plan-apply", variant="warning",
                             disabled=self.plan.empty)

    def on_mount(self) -> None:
        self.query_one("#plan-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "plan-apply" and not self.plan.empty)

    def action_apply(self) -> None:
        self.dismiss(not self.plan.empty)

    def action_cancel(self) -> None:
        self.dismiss(False)
