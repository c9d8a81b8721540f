"""A reference evaluator of direct rules for NEW flows from one source, in the worst case.

Rules are tried by ascending priority; the first priority holding a deciding rule whose -d
contains the destination (no -d: every destination) decides. firewalld does not order the rules
within one priority, so when that priority holds both an ACCEPT and a REJECT for the
destination, the flow *may* be allowed (some order allows it). No match: allowed (FORWARD
policy ACCEPT, the bridge in zone trusted). The conntrack base rule never matches a NEW flow.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import cache
from itertools import groupby

from coi_tui.eras.firewalld.rules import DirectRule

_ALLOWS = frozenset({"ACCEPT", "RETURN"})  # RETURN falls through to the trusted zone's accept
_REJECTS = frozenset({"REJECT", "DROP"})
_PASSES = frozenset({None, "LOG"})  # decides nothing


def _matches_new(rule: DirectRule) -> bool:
    args = rule.args
    states = {args[i + 1] for i in range(len(args) - 1) if args[i] == "--ctstate"}
    return all("NEW" in value.split(",") for value in states)


@cache
def _judge(rule: DirectRule) -> tuple[int, int, bool] | None:
    """(first, last) destination address as integers and whether the rule allows, for a rule
    that decides NEW flows; None for one that decides none."""
    verdict = rule.verdict
    if verdict in _PASSES or not _matches_new(rule):
        return None
    if verdict not in _ALLOWS | _REJECTS:
        raise ValueError(f"cannot evaluate target {verdict!r} of: {rule}")
    net = ipaddress.IPv4Network(rule.destination or "0.0.0.0/0", strict=False)
    return int(net.network_address), int(net.broadcast_address), verdict in _ALLOWS


def _deciding_groups(rules: Iterable[DirectRule]) -> list[list[tuple[int, int, bool]]]:
    """The rules that decide NEW flows, judged, in groups of one priority, lowest first."""
    ordered = sorted(rules, key=lambda r: r.priority)
    groups = ([j for r in group if (j := _judge(r)) is not None]
              for _priority, group in groupby(ordered, lambda r: r.priority))
    return [group for group in groups if group]


def allowed(rules: Iterable[DirectRule], destinations: Iterable[str]) -> set[str]:
    """The destinations to which some order within the deciding priority lets a NEW flow."""
    groups = _deciding_groups(rules)
    found = set()
    for destination in destinations:
        address = int(ipaddress.IPv4Address(destination))
        for group in groups:
            verdicts = {allows for first, last, allows in group if first <= address <= last}
            if verdicts:
                if True in verdicts:
                    found.add(destination)
                break
        else:
            found.add(destination)
    return found


def may_allow(rules: Iterable[DirectRule], destination: str) -> bool:
    """Some order within the deciding priority lets a NEW flow to `destination` through."""
    return bool(allowed(rules, [destination]))


def surely_rejects(rules: Iterable[DirectRule], destination: str) -> bool:
    """Every order within the deciding priority rejects a NEW flow to `destination`."""
    return not may_allow(rules, destination)


def witnesses(*rule_sets: Iterable[DirectRule]) -> list[str]:
    """One destination for each range of addresses that these rules cannot tell apart (every
    start of a -d, every address just past one, and 0.0.0.0): checking these checks all of
    IPv4 for every one of the sets."""
    points = {0}
    for rules in rule_sets:
        for rule in rules:
            judged = _judge(rule)
            if judged is not None:
                points.add(judged[0])
                points.add(judged[1] + 1)
    return [str(ipaddress.IPv4Address(p)) for p in sorted(points) if p < 2**32]
