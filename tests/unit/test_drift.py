"""Rule states against the desired set: ok, missing, unexpected, orphan, shared."""

from __future__ import annotations

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Container, Mode
from coi_tui.services.drift import RuleState, rule_rows
from coi_tui.services.inventory import join_inventory

FIREWALLD = FirewalldEra()


def rule(priority: int, *args: str) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", priority, tuple(args))


BASE = rule(-1, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
WANTED = rule(10, "-s", "10.147.0.5", "-d", "10.0.0.0/8", "-j", "REJECT")
ALSO_WANTED = rule(50, "-s", "10.147.0.5", "-d", "0.0.0.0/0", "-j", "ACCEPT")
STRAY = rule(20, "-s", "10.147.0.5", "-d", "192.0.2.1", "-j", "ACCEPT")
GONE = rule(10, "-s", "10.147.0.99", "-d", "10.0.0.0/8", "-j", "REJECT")
FIVE = Container("five", "default", "Running", "10.147.0.5", "veth1", "incusbr0", "restricted")


def expected(_c: Container, _m: Mode, _gw: str | None) -> tuple[DirectRule, ...]:
    return (WANTED, ALSO_WANTED)


def test_every_rule_gets_its_state_and_missing_rules_are_listed() -> None:
    inventory = join_inventory([FIVE], [BASE, WANTED, STRAY, GONE], {}, expected=expected,
                               era=FIREWALLD)
    states = {(row.rule, row.state) for row in rule_rows(inventory)}
    assert states == {
        (BASE, RuleState.SHARED),
        (WANTED, RuleState.OK),
        (ALSO_WANTED, RuleState.MISSING),
        (STRAY, RuleState.UNEXPECTED),
        (GONE, RuleState.ORPHAN),
    }


def test_without_a_known_desired_set_owned_rules_are_not_judged() -> None:
    inventory = join_inventory([FIVE], [WANTED], {}, era=FIREWALLD)
    (row,) = rule_rows(inventory)
    assert row.state is RuleState.UNKNOWN and row.owner == "default/five"
