"""COI's firewalld era as a `CoiEra`: direct rules in `ipv4 filter FORWARD`, owned by `-s IP`,
changed rule by rule in the fail-closed order (planner.py)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from coi_tui.eras.firewalld.backstop import Backstop, with_backstop
from coi_tui.eras.firewalld.planner import plan_many, plan_removal, plan_transition
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.eras.firewalld.policy import infer_mode as infer_direct_mode
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.seam import Allowed, flat, owned
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanStep


class FirewalldEra:
    name = "firewalld"
    writes_container_hosts = False  # DNS stays open: the container resolves by itself
    keeps_old_answers = False  # a refresh replaces the /32 ACCEPTs (docs/coi-firewalld-era.md §3.2)

    def __init__(self, backstop: Backstop | None = None) -> None:
        # a keeper's (the TUI's, `watch`'s): every plan then moves the backstop too
        self.backstop = backstop

    @staticmethod
    def _direct(rules: Iterable[CoiRule]) -> list[DirectRule]:
        return [r for r in rules if isinstance(r, DirectRule)]

    def infer_mode(self, container: Container, mine: Sequence[CoiRule]) -> Mode | None:
        return infer_direct_mode(tuple(self._direct(mine)))

    def desired(self, container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> tuple[CoiRule, ...]:
        assert container.ipv4 is not None
        return desired_rules(container.ipv4, mode, settings, gateway, flat(allowed))

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        assert container.ipv4 is not None
        want = desired_rules(container.ipv4, mode, settings, gateway, flat(allowed))
        return plan_transition(self._direct(owned(container, live)), want,
                               container=container.name, present=self._direct(live))

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan:
        return plan_removal(self._direct(owned(container, live)), container=container.name)

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        plan = plan_many(plans, title)
        return plan if self.backstop is None else with_backstop(plan, self.backstop)

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """Its priority-1 `-d HOST/32 -j ACCEPT` rules (allow_local's RFC 1918 ACCEPTs at
        priority 1 are networks, not hosts)."""
        return frozenset(
            (r.destination or "")[:-3] for r in self._direct(owned(container, live))
            if r.priority == 1 and r.verdict == "ACCEPT"
            and (r.destination or "").endswith("/32"))

    def resolved_pins(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        return frozenset()

    def hosts_steps(self, container: Container, settings: NetworkSettings, allowed: Allowed,
                    *, setup: bool = False) -> tuple[PlanStep, ...]:
        return ()

    def prune(self, container: Container, live: Sequence[CoiRule], addresses: Iterable[str],
              settings: NetworkSettings, allowed: Allowed) -> Plan:
        raise BadInput("the firewalld era keeps no old answers: each refresh replaces the "
                       "pinned addresses, so there is nothing to prune")

    def settle(self, expected: Sequence[CoiRule], live: Sequence[CoiRule]
               ) -> tuple[CoiRule, ...]:
        return tuple(expected)
