"""Reload recovery: firewalld's reload wipes every runtime direct rule; put COI's back at once.

On the `Reloaded` signal, every container with a recorded mode gets its desired rules again,
through the firewall engine like any other change (so it is audited and reported).
"""

from __future__ import annotations

from collections.abc import Callable

from coi_tui.backends.base import FirewallBackend
from coi_tui.changes import ChangePlanner, record_outcome
from coi_tui.engine import Built, FirewallEngine, Job


class ReloadRecovery:
    def __init__(self, engine: FirewallEngine, make_planner: Callable[[], ChangePlanner]) -> None:
        self._engine = engine
        self._make_planner = make_planner

    def __call__(self, event: str, _payload: object = None) -> None:
        """A FirewallSignals sink; only reloads matter here."""
        if event == "Reloaded":
            self._engine.notice("firewalld reloaded (runtime rules wiped): re-applying")
            self._engine.submit(self.job())

    def job(self) -> Job:
        def build(firewall: FirewallBackend) -> Built:
            planner = self._make_planner()
            change = planner.reapply(firewall.list_rules(), only_recorded=True)
            return change.plan, record_outcome(change, planner.containers)

        return Job("reload recovery: re-apply recorded modes", build, "reload-recovery")
