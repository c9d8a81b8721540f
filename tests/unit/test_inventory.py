"""The inventory join: exact rule ownership and where a container's mode comes from."""

from __future__ import annotations

from dataclasses import replace

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import (
    BackendStatus,
    Container,
    ContainerState,
    Isolation,
    Link,
    Mode,
    ModeSource,
)
from coi_tui.services.inventory import join_inventory

FIREWALLD = FirewalldEra()


def container(name: str, ip: str | None, mode_key: str | None = None) -> Container:
    return Container(
        name=name,
        project="default",
        status="Running" if ip else "Stopped",
        ipv4=ip,
        veth=f"veth-{name}" if ip else None,
        network="incusbr0",
        mode_key=mode_key,
    )


def rule(priority: int, *args: str) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", priority, tuple(args))


BASE = rule(-1, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")
FIVE_REJECT = rule(10, "-s", "10.147.0.5", "-d", "10.0.0.0/8", "-j", "REJECT")
FIFTY_ACCEPT = rule(50, "-s", "10.147.0.50/32", "-d", "0.0.0.0/0", "-j", "ACCEPT")


def test_a_rule_belongs_to_the_container_whose_ip_equals_its_source_never_a_substring() -> None:
    five, fifty = container("five", "10.147.0.5"), container("fifty", "10.147.0.50")
    inventory = join_inventory([five, fifty], [BASE, FIVE_REJECT, FIFTY_ACCEPT], {}, era=FIREWALLD)
    assert inventory.owner_of(FIVE_REJECT) == "default/five"
    assert inventory.owner_of(FIFTY_ACCEPT) == "default/fifty"
    assert inventory.owner_of(BASE) is None
    by_name = {s.container.name: s for s in inventory.containers}
    assert by_name["five"].rules == (FIVE_REJECT,)
    assert by_name["fifty"].rules == (FIFTY_ACCEPT,)


def test_the_recorded_mode_wins_over_the_rules() -> None:
    c = container("a", "10.147.0.5", mode_key="open")
    (state,) = join_inventory([c], [FIVE_REJECT], {}, era=FIREWALLD).containers
    assert (state.mode, state.mode_source) == (Mode.OPEN, ModeSource.SET)


def test_without_a_recorded_mode_coi_signatures_are_recognised() -> None:
    c = container("a", "10.147.0.5")
    restricted = rule(50, "-s", "10.147.0.5", "-d", "0.0.0.0/0", "-j", "ACCEPT")
    (state,) = join_inventory([c], [restricted], {}, era=FIREWALLD).containers
    assert (state.mode, state.mode_source) == (Mode.RESTRICTED, ModeSource.INFERRED)


def test_a_running_container_without_mode_or_rules_is_unprotected() -> None:
    (state,) = join_inventory([container("a", "10.147.0.7")], [BASE], {}, era=FIREWALLD).containers
    assert state.mode is None and state.mode_source is ModeSource.NONE
    assert state.unprotected


def test_a_stopped_container_is_not_flagged_unprotected() -> None:
    (state,) = join_inventory([container("a", None)], [], {}, era=FIREWALLD).containers
    assert not state.unprotected


def test_the_veth_master_comes_from_the_links() -> None:
    links = {"veth-a": Link("veth-a", "veth", "incusbr0")}
    (state,) = join_inventory([container("a", "10.147.0.7")], [], links, era=FIREWALLD).containers
    assert state.veth_master == "incusbr0"


FIVE_ACCEPT = rule(50, "-s", "10.147.0.5", "-d", "0.0.0.0/0", "-j", "ACCEPT")
FIVE_EXTRA = rule(1, "-s", "10.147.0.5", "-d", "203.0.113.9", "-j", "ACCEPT")
UP = BackendStatus("firewalld", True, firewall=True)
STOPPED = BackendStatus("firewalld", False, "firewalld is not running", down=True, firewall=True)
UNREADABLE = BackendStatus("firewalld", False, "sudo refused firewall-cmd; add: ...", firewall=True)


def restricted_five(*rules: DirectRule, firewall: BackendStatus = UP,
                    status: str = "Running", mode: str = "restricted") -> ContainerState:
    c = replace(container("a", "10.147.0.5", mode_key=mode), status=status)

    def expected(_c: Container, _m: Mode, _gw: str | None) -> tuple[DirectRule, ...]:
        return (FIVE_REJECT, FIVE_ACCEPT)

    (state,) = join_inventory([c], rules, {}, expected=expected, backends=(firewall,),
                              era=FIREWALLD).containers
    return state


def test_rules_as_the_mode_says_are_in_force() -> None:
    state = restricted_five(FIVE_REJECT, FIVE_ACCEPT)
    assert state.isolation is Isolation.OK and not state.drift and not state.exposed


def test_an_extra_rule_is_drift_not_exposure() -> None:
    state = restricted_five(FIVE_REJECT, FIVE_ACCEPT, FIVE_EXTRA)
    assert state.isolation is Isolation.DRIFT and state.drift and not state.exposed


def test_a_recorded_mode_without_its_rules_is_exposed_never_just_drift() -> None:
    state = restricted_five()
    assert state.isolation is Isolation.EXPOSED and not state.drift
    assert "none of its restricted rules" in state.reason


def test_a_missing_reject_is_exposed_even_when_other_rules_remain() -> None:
    state = restricted_five(FIVE_ACCEPT)
    assert state.isolation is Isolation.EXPOSED and "REJECT" in state.reason


def test_open_mode_without_its_rules_is_drift_it_rejected_nothing() -> None:
    assert restricted_five(mode="open").isolation is Isolation.DRIFT


def test_firewalld_stopped_exposes_every_enforcing_container_and_the_inventory_says_so() -> None:
    c = container("a", "10.147.0.5", mode_key="restricted")
    inventory = join_inventory([c, container("b", "10.147.0.6")], [], {}, backends=(STOPPED,),
                               era=FIREWALLD)
    a, b = inventory.containers
    assert a.isolation is Isolation.EXPOSED and "firewalld is not running" in a.reason
    assert b.unprotected and b.isolation is None
    assert inventory.exposed == (a,) and inventory.firewall_down and not inventory.in_force


def test_unreadable_rules_are_unknown_never_unprotected_or_drift() -> None:
    c = container("b", "10.147.0.6")
    inventory = join_inventory([c], [], {}, backends=(UNREADABLE,), era=FIREWALLD)
    (b,) = inventory.containers
    assert b.isolation is Isolation.UNKNOWN and "sudo refused" in b.reason
    assert not b.unprotected and not b.drift and not b.exposed
    assert restricted_five(firewall=UNREADABLE).isolation is Isolation.UNKNOWN
    assert not inventory.in_force


def test_a_frozen_container_without_its_rules_is_held_not_exposed() -> None:
    assert restricted_five(firewall=STOPPED, status="Frozen").isolation is Isolation.HELD
    assert restricted_five(FIVE_REJECT, FIVE_ACCEPT, status="Frozen").isolation is Isolation.OK
