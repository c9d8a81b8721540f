"""After a config save that changes running containers' policy: offer to apply it now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from coi_tui.ui.actions import bindings


class ApplyOffer(ModalScreen[bool]):
    BINDINGS = bindings("offer")

    def __init__(self, containers: int, detail: str) -> None:
        super().__init__()
        self.containers = containers
        self.detail = detail

    def compose(self) -> ComposeResult:
        with Vertical(id="offer-dialog"):
            yield Label(f"The saved config changes the policy of {self.containers} running "
                        f"container(s): {self.detail}")
            with Horizontal(id="offer-buttons"):
                yield Button("Not now \\[n]", id="offer-later", variant="primary")
                yield Button(f"Apply to {self.containers} container(s)... \\[y]",
                             id="offer-review", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#offer-later", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "offer-review")

    def action_accept(self) -> None:
        self.dismiss(True)

    def action_decline(self) -> None:
        self.dismiss(False)
