"""A reference evaluator of direct rules for NEW flows of one source, worst case.

Rules are tried by ascending priority; the first priority with a matching -d decides. firewalld
does not order rules within one priority, so when a priority holds both an ACCEPT and a REJECT
for the destination, the flow *may* be allowed. No match: allowed (policy ACCEPT, zone trusted).
The conntrack base rule never matches a NEW flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from itertools import groupby

from coi_tui.models import DirectRule


def _matches(rule: DirectRule, destination: str) -> bool:
    if "conntrack" in rule.args:
        return False
    dest = rule.destination
    if dest is None:
        return True
    return ipaddress.ip_address(destination) in ipaddress.ip_network(dest, strict=False)


def may_allow(rules: Iterable[DirectRule], destination: str) -> bool:
    ordered = sorted(rules, key=lambda r: r.priority)
    for _priority, group in groupby(ordered, key=lambda r: r.priority):
        verdicts = {r.verdict for r in group if _matches(r, destination)}
        if verdicts:
            return "ACCEPT" in verdicts
    return True


def surely_rejects(rules: Iterable[DirectRule], destination: str) -> bool:
    return not may_allow(rules, destination)
