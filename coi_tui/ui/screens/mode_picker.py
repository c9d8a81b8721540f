"""Pick a network mode for a container: r, a or o (as the action table has them), Esc cancels."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from coi_tui.models import Mode
from coi_tui.ui.actions import BY_ID, bindings


def description(mode: Mode) -> str:
    """The mode's line, from the action table (the key, its name, what it means)."""
    action = BY_ID[f"mode.{mode.value}"]
    return f"{action.keys.split(',')[0]}  {mode.value:<11} - {action.help}"


class ModePicker(ModalScreen[Mode | None]):
    BINDINGS = bindings("mode")

    def __init__(self, target: str, now: str | None) -> None:
        super().__init__()
        self.target = target  # a container's name, or "3 marked containers"
        self.now = now  # its mode now, when there is one to say

    def compose(self) -> ComposeResult:
        with Vertical(id="mode-dialog"):
            now = f" (now: {self.now})" if self.now else ""
            yield Label(f"Network mode for {self.target}{now}", id="mode-title")
            yield OptionList(
                *(Option(description(mode), id=mode.value)
                  for mode in (Mode.RESTRICTED, Mode.ALLOWLIST, Mode.OPEN)),
                id="mode-options",
            )
            yield Label("esc: change nothing", id="mode-hint")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Mode(str(event.option.id)))

    def action_pick(self, mode: str) -> None:
        self.dismiss(Mode(mode))

    def action_cancel(self) -> None:
        self.dismiss(None)
