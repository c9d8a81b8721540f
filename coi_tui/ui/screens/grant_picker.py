"""`a` on a rejected attempt: for how long to let it through, and whether to save it to COI's
config too. Cancel is focused, so a stray Enter grants nothing; the plan is reviewed next."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from coi_tui.services.traffic.attempts import Attempt
from coi_tui.ui.actions import bindings

CHOICES = {"ten": 600.0, "hour": 3600.0, "stop": None}  # seconds; None: until it stops
Choice = tuple[float | None, bool]  # (seconds, also save to COI's config)


class GrantPicker(ModalScreen[Choice | None]):
    BINDINGS = bindings("grant")

    DEFAULT_CSS = """
    GrantPicker { align: center middle; }
    GrantPicker #grant-dialog { width: 100%; max-width: 76; height: auto;
        border: thick $warning; background: $surface; padding: 0 1; }
    GrantPicker #grant-dialog Label { text-wrap: nowrap; text-overflow: ellipsis; width: 100%; }
    GrantPicker #grant-buttons { height: auto; margin-top: 1; }
    GrantPicker #grant-buttons Button { margin-right: 1; min-width: 10; }
    """

    def __init__(self, attempt: Attempt, can_save: bool) -> None:
        super().__init__()
        self.attempt = attempt
        self.can_save = can_save
        self.save = False

    def compose(self) -> ComposeResult:
        attempt = self.attempt
        what = (f"{attempt.query} (asked by DNS: every port)" if attempt.query
                else f"{attempt.target} ({attempt.destination})" if attempt.name
                else attempt.target)
        with Vertical(id="grant-dialog"):
            yield Label(f"Let {attempt.container} reach {what}?", id="grant-title")
            yield Label(f"rejected: {attempt.why}", id="grant-why")
            yield Label(self._save_text(), id="grant-save")
            with Horizontal(id="grant-buttons"):
                yield Button("Cancel \\[n]", id="grant-cancel", variant="primary")
                yield Button("10 min \\[1]", id="grant-ten")
                yield Button("1 h \\[h]", id="grant-hour")
                yield Button("Until it stops \\[u]", id="grant-stop")

    def _save_text(self) -> str:
        if not self.can_save:
            return "COI's config is not edited here (no config file)"
        return ("[x] also save it to COI's config [s]" if self.save
                else "[ ] also save it to COI's config [s]")

    def on_mount(self) -> None:
        self.query_one("#grant-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        which = (event.button.id or "").removeprefix("grant-")
        if which in CHOICES:
            self.action_pick(which)
        else:
            self.dismiss(None)

    def action_pick(self, which: str) -> None:
        self.dismiss((CHOICES[which], self.save))

    def action_toggle_save(self) -> None:
        if self.can_save:
            self.save = not self.save
            self.query_one("#grant-save", Label).update(self._save_text())

    def action_cancel(self) -> None:
        self.dismiss(None)
