"""The keeper's side of the backstop (eras/firewalld/backstop.py, chosen by wiring): one keeper
per host holds it (a lock), follows every snapshot with it, marks the containers it holds, and
removes it on a clean exit. A keeper that finds the lock taken leaves the backstop to the other
and tries again at each snapshot (it takes over when the other exits)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

from coi_tui.errors import CoiTuiError
from coi_tui.models import CoiRule, Inventory, Isolation, ModeSource
from coi_tui.runtime.hostlock import BACKSTOP, HostLock

HELD_REASON = "firewalld down, held by the backstop"


class EraBackstop(Protocol):
    active: bool  # set while this keeper holds the lock

    def follow(self, desired: Mapping[str, tuple[CoiRule, ...] | None]) -> None: ...
    def holds(self, ip: str, rules: Sequence[CoiRule]) -> bool: ...
    def remove(self) -> None: ...


def desired_of(inventory: Inventory) -> dict[str, tuple[CoiRule, ...] | None]:
    """Per address, the rules of its container's recorded mode (None: not known now)."""
    return {s.container.ipv4: s.expected_rules for s in inventory.containers
            if s.container.ipv4 and s.mode_source is ModeSource.SET and s.mode is not None
            and s.container.status == "Running"}


def marked(inventory: Inventory, holds: Callable[[str, Sequence[CoiRule]], bool]) -> Inventory:
    """EXPOSED containers whose blocks the backstop holds are BACKSTOP."""
    def reason(was: str) -> str:
        return HELD_REASON if inventory.firewall_down else f"{was}; held by the backstop"

    states = tuple(
        replace(s, isolation=Isolation.BACKSTOP, reason=reason(s.reason))
        if s.isolation is Isolation.EXPOSED and s.container.ipv4 and s.expected_rules
        and holds(s.container.ipv4, s.expected_rules) else s
        for s in inventory.containers)
    return replace(inventory, containers=states)


class KeptBackstop:
    def __init__(self, era: EraBackstop, say: Callable[[str], None] = lambda line: None,
                 lock: HostLock | None = None) -> None:
        self.era = era
        self.say = say
        self.lock = lock or HostLock(BACKSTOP)
        self.error = ""

    @property
    def kept(self) -> bool:
        return self.lock.held

    def follow(self, inventory: Inventory) -> Inventory:
        """On the poller thread, each snapshot: take it if free, follow, mark."""
        try:
            if not self.lock.held:
                if not self.lock.try_acquire():
                    return inventory  # another keeper holds it
                self.era.active = True
            self.era.follow(desired_of(inventory))
        except CoiTuiError as error:
            if str(error) != self.error:
                self.say(f"backstop: {error}")
            self.error = str(error)
            return inventory
        self.error = ""
        return marked(inventory, self.era.holds)

    def stop(self) -> None:
        if not self.lock.held:
            return
        self.era.active = False
        try:
            self.era.remove()
        except CoiTuiError as error:
            self.say(f"backstop: not removed: {error}")
        self.lock.release()
