"""The reference evaluator the planner's properties are checked with."""

from __future__ import annotations

import bisect
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coi_tui.eras.firewalld.policy import BASE_RULE
from coi_tui.eras.firewalld.rules import DirectRule
from tests.unit.netsim import may_allow, surely_rejects, witnesses

IP = "10.147.0.5"


def rule(priority: int, dest: str | None, *tail: str) -> DirectRule:
    return DirectRule(
        "ipv4", "filter", "FORWARD", priority, ("-s", IP, *(("-d", dest) if dest else ()), *tail)
    )


def test_the_lowest_matching_priority_decides() -> None:
    rules = [rule(10, "192.168.0.0/16", "-j", "REJECT"), rule(1, "192.168.77.2/32", "-j", "ACCEPT"),
             rule(99, None, "-j", "REJECT")]
    assert may_allow(rules, "192.168.77.2")
    assert surely_rejects(rules, "192.168.77.3")
    assert surely_rejects(rules, "203.0.113.10")


def test_within_one_priority_an_accept_may_win() -> None:
    rules = [rule(10, "192.168.0.0/16", "-j", "REJECT"), rule(10, None, "-j", "ACCEPT")]
    assert may_allow(rules, "192.168.77.2")
    assert not surely_rejects(rules, "192.168.77.2")


def test_no_match_is_allowed_and_the_base_rule_never_matches_a_new_flow() -> None:
    assert may_allow([], "192.168.77.2")
    assert may_allow([BASE_RULE, rule(10, "10.0.0.0/8", "-j", "REJECT")], "192.168.77.2")
    assert surely_rejects([BASE_RULE, rule(10, "10.0.0.0/8", "-j", "REJECT")], "10.1.2.3")


def test_targets_drop_return_log_and_ctstate() -> None:
    assert surely_rejects([rule(0, None, "-j", "DROP")], "203.0.113.10")
    assert may_allow([rule(0, None, "-j", "RETURN"), rule(1, None, "-j", "DROP")], "203.0.113.10")
    assert surely_rejects([rule(0, None, "-j", "LOG"), rule(1, None, "-j", "DROP")], "8.8.8.8")
    new_only = rule(0, None, "-m", "conntrack", "--ctstate", "NEW", "-j", "REJECT")
    assert surely_rejects([new_only], "203.0.113.10")


def test_a_jump_into_another_chain_cannot_be_judged() -> None:
    with pytest.raises(ValueError, match="coi-chain"):
        may_allow([rule(0, None, "-j", "coi-chain")], "203.0.113.10")


addresses = st.ip_addresses(v=4).map(str)
cidrs = st.builds(
    lambda a, p: str(ipaddress.IPv4Network(f"{a}/{p}", strict=False)), addresses, st.integers(0, 32)
)
random_rules = st.builds(
    lambda prio, dest, target: rule(prio, dest, "-j", target),
    st.integers(-2, 12),
    st.none() | cidrs,
    st.sampled_from(["ACCEPT", "REJECT", "DROP", "RETURN", "LOG"]),
)


@settings(max_examples=300, deadline=None)
@given(rules=st.lists(random_rules, max_size=12), dest=addresses)
def test_the_witnesses_stand_for_every_destination(rules: list[DirectRule], dest: str) -> None:
    points = witnesses(rules)
    numbers = [int(ipaddress.IPv4Address(p)) for p in points]
    # the witness of dest's range: the last range start at or below it
    witness = points[bisect.bisect_right(numbers, int(ipaddress.IPv4Address(dest))) - 1]
    assert may_allow(rules, dest) == may_allow(rules, witness)
