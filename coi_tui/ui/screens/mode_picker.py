"""Pick a network mode for a container: o, r or a, Esc to cancel."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from coi_tui.models import Mode

DESCRIPTIONS = {
    Mode.RESTRICTED: "restricted  - internet yes; LAN (RFC1918) and metadata no",
    Mode.ALLOWLIST: "allowlist   - only the allowed domains, nothing else",
    Mode.OPEN: "open        - no restriction at all",
}


class ModePicker(ModalScreen[Mode | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="mode.cancel"),
        Binding("r", "pick('restricted')", "Restricted", id="mode.restricted"),
        Binding("a", "pick('allowlist')", "Allowlist", id="mode.allowlist"),
        Binding("o", "pick('open')", "Open", id="mode.open"),
    ]

    def __init__(self, container: str, current: Mode | None) -> None:
        super().__init__()
        self.container = container
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="mode-dialog"):
            now = self.current.value if self.current else "none (unprotected)"
            yield Label(f"Network mode for {self.container} (now: {now})")
            yield OptionList(
                *(Option(text, id=mode.value) for mode, text in DESCRIPTIONS.items()),
                id="mode-options",
            )

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(Mode(str(event.option.id)))

    def action_pick(self, mode: str) -> None:
        self.dismiss(Mode(mode))

    def action_cancel(self) -> None:
        self.dismiss(None)
