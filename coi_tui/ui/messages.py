"""Messages that carry results from worker threads to the UI thread."""

from __future__ import annotations

from textual.message import Message

from coi_tui.models import Inventory


class InventoryUpdated(Message):
    """A fresh snapshot. Only the newest matters, so a backlog collapses to one."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__()
        self.inventory = inventory

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, InventoryUpdated)
