"""The fail-closed planner: at no step is a container allowed more than the more permissive of
its old and new policy, and the plan ends exactly at the desired set."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coi_tui.models import DirectRule, Mode, NetworkSettings, Plan, StepAction
from coi_tui.services.planner import plan_removal, plan_transition
from coi_tui.services.policy import BASE_RULE, desired_rules
from tests.unit.netsim import may_allow

IP = "10.147.0.5"
GW = "10.147.0.1"

ipv4 = st.builds(
    lambda a, b, c, d: f"{a}.{b}.{c}.{d}",
    st.sampled_from([10, 172, 192, 169, 203, 8, 100, 127]),
    st.sampled_from([0, 16, 31, 168, 254, 0, 113]),
    st.integers(0, 255),
    st.integers(0, 255),
)
# destinations that hit the interesting edges, plus anything
destinations = st.one_of(
    st.sampled_from(["10.147.0.1", "192.168.77.2", "169.254.169.254", "169.254.77.1",
                     "203.0.113.10", "203.0.113.20", "172.16.5.5", "8.8.8.8"]),
    ipv4,
)
network_settings = st.builds(
    NetworkSettings,
    block_private_networks=st.booleans(),
    block_metadata_endpoint=st.booleans(),
    allow_local_network_access=st.booleans(),
)
policies = st.builds(
    lambda mode, s, gw, ips: frozenset(desired_rules(IP, mode, s, gw, ips)),
    st.sampled_from(list(Mode)),
    network_settings,
    st.sampled_from([GW, None]),
    st.lists(st.one_of(ipv4, st.sampled_from(["203.0.113.10", "192.168.77.2"])),
             max_size=4),
)
rules = st.builds(
    lambda prio, dest, verdict: DirectRule(
        "ipv4", "filter", "FORWARD", prio,
        ("-s", IP, *(("-d", dest) if dest else ()), "-j", verdict),
    ),
    st.sampled_from([0, 1, 10, 50, 99]),
    st.one_of(st.none(), st.sampled_from(["10.0.0.0/8", "192.168.0.0/16", "0.0.0.0/0",
                                          "203.0.113.10/32", "169.254.0.0/16"])),
    st.sampled_from(["ACCEPT", "REJECT"]),
)


def states(actual: frozenset[DirectRule], plan: Plan) -> list[set[DirectRule]]:
    """Every rule set the firewall passes through while the plan runs."""
    current = set(actual)
    seen = [set(current)]
    for step in plan.steps:
        if step.action is StepAction.ADD:
            current.add(step.rule)
        else:
            current.discard(step.rule)
        seen.append(set(current))
    return seen


def never_beyond_the_more_permissive(
    old: frozenset[DirectRule], new: frozenset[DirectRule], plan: Plan, dest: str
) -> bool:
    allowed_either = may_allow(old, dest) or may_allow(new, dest)
    return all(allowed_either or not may_allow(s, dest) for s in states(old, plan))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=policies, new=policies, dest=destinations)
def test_no_intermediate_state_allows_what_both_policies_reject(
    old: frozenset[DirectRule], new: frozenset[DirectRule], dest: str
) -> None:
    plan = plan_transition(old, new, present=(BASE_RULE,))
    assert never_beyond_the_more_permissive(old, new, plan, dest)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.frozensets(rules, max_size=8), new=st.frozensets(rules, max_size=8),
       dest=destinations)
def test_the_order_holds_for_arbitrary_rule_sets_too(
    old: frozenset[DirectRule], new: frozenset[DirectRule], dest: str
) -> None:
    plan = plan_transition(old, new, present=(BASE_RULE,))
    assert never_beyond_the_more_permissive(old, new, plan, dest)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=policies, new=policies)
def test_the_plan_ends_exactly_at_the_desired_set(
    old: frozenset[DirectRule], new: frozenset[DirectRule]
) -> None:
    plan = plan_transition(old, new, present=(BASE_RULE,))
    assert states(old, plan)[-1] == set(new)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(policy=policies)
def test_desired_to_desired_is_an_empty_plan(policy: frozenset[DirectRule]) -> None:
    assert plan_transition(policy, policy, present=(BASE_RULE,)).empty


def test_the_base_rule_is_added_when_missing_and_never_removed() -> None:
    new = desired_rules(IP, Mode.OPEN, NetworkSettings(), None)
    plan = plan_transition((), new, present=())
    assert plan.steps[0].rule == BASE_RULE and plan.steps[0].action is StepAction.ADD
    removal = plan_removal([*new, BASE_RULE])
    assert BASE_RULE not in {s.rule for s in removal.steps}


def test_removal_takes_accepts_out_before_rejects() -> None:
    rules = desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW)
    verdicts = [s.rule.verdict or "" for s in plan_removal(rules).steps]
    assert verdicts == sorted(verdicts)  # every ACCEPT before any REJECT


def test_coi_order_remove_all_then_re_add_violates_the_property() -> None:
    """The property can fail: COI's refresh order opens the LAN between the two halves."""
    old = frozenset(desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW))
    new = frozenset(desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW, ["203.0.113.10"]))
    coi = Plan(plan_removal(old).steps + plan_transition((), new).steps)
    assert not may_allow(old, "192.168.77.2") and not may_allow(new, "192.168.77.2")
    assert not never_beyond_the_more_permissive(old, new, coi, "192.168.77.2")
