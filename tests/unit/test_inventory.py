"""The inventory join: exact rule ownership and where a container's mode comes from."""

from __future__ import annotations

from coi_tui.models import Container, DirectRule, Link, Mode, ModeSource
from coi_tui.services.inventory import join_inventory


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
    inventory = join_inventory([five, fifty], [BASE, FIVE_REJECT, FIFTY_ACCEPT], {})
    assert inventory.owner_of(FIVE_REJECT) == "default/five"
    assert inventory.owner_of(FIFTY_ACCEPT) == "default/fifty"
    assert inventory.owner_of(BASE) is None
    by_name = {s.container.name: s for s in inventory.containers}
    assert by_name["five"].rules == (FIVE_REJECT,)
    assert by_name["fifty"].rules == (FIFTY_ACCEPT,)


def test_the_recorded_mode_wins_over_the_rules() -> None:
    c = container("a", "10.147.0.5", mode_key="open")
    (state,) = join_inventory([c], [FIVE_REJECT], {}).containers
    assert (state.mode, state.mode_source) == (Mode.OPEN, ModeSource.SET)


def test_without_a_recorded_mode_coi_signatures_are_recognised() -> None:
    c = container("a", "10.147.0.5")
    restricted = rule(50, "-s", "10.147.0.5", "-d", "0.0.0.0/0", "-j", "ACCEPT")
    (state,) = join_inventory([c], [restricted], {}).containers
    assert (state.mode, state.mode_source) == (Mode.RESTRICTED, ModeSource.INFERRED)


def test_a_running_container_without_mode_or_rules_is_unprotected() -> None:
    (state,) = join_inventory([container("a", "10.147.0.7")], [BASE], {}).containers
    assert state.mode is None and state.mode_source is ModeSource.NONE
    assert state.unprotected


def test_a_stopped_container_is_not_flagged_unprotected() -> None:
    (state,) = join_inventory([container("a", None)], [], {}).containers
    assert not state.unprotected


def test_the_veth_master_comes_from_the_links() -> None:
    links = {"veth-a": Link("veth-a", "veth", "incusbr0")}
    (state,) = join_inventory([container("a", "10.147.0.7")], [], links).containers
    assert state.veth_master == "incusbr0"


def test_drift_compares_expected_and_actual_rule_sets() -> None:
    c = container("a", "10.147.0.5", mode_key="restricted")

    def expected(_c: Container, _m: Mode, _gw: str | None) -> tuple[DirectRule, ...]:
        return (FIVE_REJECT,)

    (ok,) = join_inventory([c], [FIVE_REJECT], {}, expected=expected).containers
    (drifted,) = join_inventory([c], [], {}, expected=expected).containers
    assert not ok.drift
    assert drifted.drift
