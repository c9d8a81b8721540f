"""Each COI rule with its state against the desired rules: ok, missing, unexpected, orphan."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from coi_tui.models import CoiRule, Inventory


class RuleState(StrEnum):
    OK = "ok"  # present and desired
    MISSING = "missing"  # desired, not in firewalld (drift)
    UNEXPECTED = "unexpected"  # owned by a container whose desired set lacks it
    UNKNOWN = "-"  # owned, but the desired set cannot be known (e.g. unresolved allowlist)
    ORPHAN = "orphan"  # names one host that no known container has
    SHARED = "shared"  # not tied to a host (COI's base rule, other tools' rules)


@dataclass(frozen=True)
class RuleRow:
    rule: CoiRule
    owner: str | None  # container key
    state: RuleState

    @property
    def key(self) -> str:
        return f"{self.state is RuleState.MISSING}|{self.rule}"


def rule_rows(inventory: Inventory) -> list[RuleRow]:
    rows = []
    expected = {s.container.key: s.expected_rules for s in inventory.containers}
    for rule in inventory.rules:
        owner = inventory.owner_of(rule)
        if owner is None:
            state = RuleState.ORPHAN if rule.source_ip() else RuleState.SHARED
        elif expected.get(owner) is None:
            state = RuleState.UNKNOWN
        else:
            state = RuleState.OK if rule in (expected[owner] or ()) else RuleState.UNEXPECTED
        rows.append(RuleRow(rule, owner, state))
    present = set(inventory.rules)
    for key, want in expected.items():
        rows.extend(RuleRow(r, key, RuleState.MISSING) for r in want or () if r not in present)
    return sorted(rows, key=lambda r: (r.rule.ipv, r.rule.chain, r.rule.priority, r.owner or "",
                                       r.rule.args))
