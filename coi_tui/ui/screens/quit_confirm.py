"""`q` while a firewall job runs: ask first. "Keep running" is focused, so Enter quits nothing."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from coi_tui.ui.actions import bindings


class QuitConfirm(ModalScreen[bool]):
    BINDINGS = bindings("quit")

    DEFAULT_CSS = """
    QuitConfirm { align: center middle; }
    QuitConfirm #quit-dialog { width: 100%; max-width: 72; height: auto;
        border: thick $warning; background: $surface; padding: 0 1; }
    QuitConfirm #quit-dialog Label { text-wrap: nowrap; text-overflow: ellipsis; width: 100%; }
    QuitConfirm #quit-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    QuitConfirm #quit-buttons Button { margin-left: 2; }
    """

    def __init__(self, job: str) -> None:
        super().__init__()
        self.job = job

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-dialog"):
            yield Label("A firewall job is running:", id="quit-title")
            yield Label(self.job, id="quit-job")
            yield Label("Quit now and it stops between two steps (each step is checked).")
            with Horizontal(id="quit-buttons"):
                yield Button("Keep running \\[n]", id="quit-cancel", variant="primary")
                yield Button("Quit \\[y]", id="quit-confirm", variant="warning")

    def on_mount(self) -> None:
        self.query_one("#quit-cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit-confirm")

    def action_quit_now(self) -> None:
        self.dismiss(True)

    def action_cancel(self) -> None:
        self.dismiss(False)
