"""Messages that carry results from worker threads to the UI thread."""

from __future__ import annotations

from textual.message import Message

from coi_tui.changes import BuildChange, Change, ChangePlanner
from coi_tui.keep.grants import Grant
from coi_tui.keep.refresher import DnsState
from coi_tui.models import Inventory
from coi_tui.plans import Plan
from coi_tui.runtime.engine import EngineEvent
from coi_tui.services.traffic.feed import FeedUpdate


class InventoryUpdated(Message):
    """A fresh snapshot. Only the newest matters, so a backlog collapses to one."""

    def __init__(self, inventory: Inventory) -> None:
        super().__init__()
        self.inventory = inventory

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, InventoryUpdated)


class EngineUpdate(Message):
    """An event of the firewall worker. Never coalesced: every step result must show."""

    def __init__(self, event: EngineEvent) -> None:
        super().__init__()
        self.event = event


class ChangeReady(Message):
    """A change was planned off the UI thread and awaits review."""

    def __init__(self, change: Change, planner: ChangePlanner, build: BuildChange,
                 offer: bool = False) -> None:
        super().__init__()
        self.change = change
        self.planner = planner
        self.build = build  # plans it again under the writer lock, to check nothing moved
        self.offer = offer  # after a config save: ask "apply to N containers?" first


class DnsUpdated(Message):
    """The refresher's newest state (only the newest matters)."""

    def __init__(self, state: DnsState) -> None:
        super().__init__()
        self.state = state

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DnsUpdated)


class ChangeFailed(Message):
    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason


class TrafficUpdated(Message):
    """Attempts, counts or a problem from the traffic feed. Never coalesced: each carries
    attempts of its own."""

    def __init__(self, update: FeedUpdate) -> None:
        super().__init__()
        self.update = update


class GrantReady(Message):
    """A grant was planned off the UI thread and awaits review."""

    def __init__(self, grant: Grant, plan: Plan) -> None:
        super().__init__()
        self.grant = grant
        self.plan = plan


class RatesUpdated(Message):
    """Each running container's (rx, tx) bytes/s. Only the newest matters."""

    def __init__(self, rates: dict[str, tuple[float, float]]) -> None:
        super().__init__()
        self.rates = rates

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, RatesUpdated)
