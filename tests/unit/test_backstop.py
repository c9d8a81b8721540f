"""The backstop's pure parts: a mode's rules as nft, the whole table in one transaction, the
union while a plan moves a container, and what it holds after a snapshot."""

from __future__ import annotations

from dataclasses import replace

import pytest

from coi_tui.eras.firewalld.backstop import (
    Backstop,
    BackstopStep,
    chain_ip,
    chain_name,
    live_chains,
    script,
    statements,
    with_backstop,
)
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.eras.firewalld.rules import DirectRule, rule_steps
from coi_tui.eras.nft.json_model import parse_table
from coi_tui.eras.nft.model import NftTable
from coi_tui.errors import BadInput
from coi_tui.keep.backstop import HELD_REASON, desired_of, marked
from coi_tui.models import Container, Isolation, Mode, NetworkSettings
from coi_tui.services.inventory import join_inventory
from tests.unit.fakes import FakeFirewall

IP, GW = "10.147.0.5", "10.147.0.1"
RESTRICTED = desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW)
ALLOWLIST = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW, ["203.0.113.10"])
OPEN = desired_rules(IP, Mode.OPEN, NetworkSettings(), GW)


class FakeNft:
    def __init__(self) -> None:
        self.scripts: list[str] = []

    def run_script(self, text: str, *, action: str = "") -> None:
        self.scripts.append(text)


class Listing:
    """`nft -j list table` as NftCli parses it."""

    def __init__(self, document: str) -> None:
        self.document = document

    def list_table(self, family: str, table: str) -> NftTable:
        return parse_table(self.document, family, table)


def backstop() -> tuple[Backstop, FakeNft]:
    nft = FakeNft()
    stop = Backstop(nft=nft)  # type: ignore[arg-type]
    stop.active = True
    return stop, nft


def test_restricted_blocks_exactly_its_rejects_in_priority_order_and_the_gateway_first() -> None:
    assert statements(RESTRICTED) == (
        "ip daddr 10.147.0.1/32 return",
        "ip daddr 10.0.0.0/8 reject", "ip daddr 172.16.0.0/12 reject",
        "ip daddr 192.168.0.0/16 reject", "ip daddr 169.254.0.0/16 reject",
        "ip daddr 0.0.0.0/0 return")
    assert statements(ALLOWLIST)[:2] == ("ip daddr 10.147.0.1/32 return",
                                         "ip daddr 203.0.113.10/32 return")
    assert statements(ALLOWLIST)[-1] == "ip daddr 0.0.0.0/0 reject"
    assert statements(OPEN) == ("return",)  # open blocks nothing


def test_the_whole_table_is_replaced_in_one_script_and_chains_say_whose_they_are() -> None:
    text = script({IP: (RESTRICTED,)})
    first = text.splitlines()[:3]
    assert first == ["table ip coi_tui_backstop {}", "delete table ip coi_tui_backstop",
                     "table ip coi_tui_backstop {"]
    name = chain_name(IP, RESTRICTED)
    assert f"ip saddr {IP} jump {name}" in text
    assert chain_ip(name) == IP and chain_name(IP, ALLOWLIST) != name
    where = '"family": "ip", "table": "coi_tui_backstop"'
    listing = ('{"nftables": [{"metainfo": {}}, {"table": {"family": "ip", '
               '"name": "coi_tui_backstop"}}, '
               f'{{"chain": {{{where}, "name": "forward"}}}}, '
               f'{{"chain": {{{where}, "name": "{name}"}}}}]}}')
    assert live_chains(Listing(listing)) == frozenset({name})  # type: ignore[arg-type]


def test_a_plan_holds_old_and_new_first_and_leaves_the_new_only_last() -> None:
    stop, nft = backstop()
    stop.follow({IP: RESTRICTED})
    container = Container("coi-a", "default", "Running", IP, "veth1", "incusbr0", "restricted")
    plan = FirewalldEra(stop).transition(container, list(RESTRICTED), Mode.OPEN,
                                         NetworkSettings(), GW, {})
    plan = with_backstop(FirewalldEra().merge([plan], "open for coi-a"), stop)
    first, last = plan.steps[0], plan.steps[-1]
    assert isinstance(first, BackstopStep) and not first.settling
    assert isinstance(last, BackstopStep) and last.settling
    firewall = FakeFirewall(list(RESTRICTED))
    first.run(firewall)
    assert stop.held[IP] == (RESTRICTED, OPEN)  # both chains: restricted's rejects still hold
    for step in rule_steps(plan):
        step.run(firewall)
    last.run(firewall)
    assert stop.held[IP] == (OPEN,)
    assert chain_name(IP, RESTRICTED) not in nft.scripts[-1]


def test_a_snapshot_holds_recorded_modes_only_and_lets_a_reused_address_go() -> None:
    stop, nft = backstop()
    stop.follow({IP: RESTRICTED, "10.147.0.6": None})
    assert set(stop.held) == {IP}
    stop.follow({})  # the container is gone; a new one at its address has no recorded mode
    assert stop.held == {}
    assert f"jump {chain_name(IP, RESTRICTED)}" not in nft.scripts[-1]


def test_a_backstop_this_process_does_not_keep_is_never_touched() -> None:
    stop, nft = backstop()
    stop.active = False
    stop.hold(IP, RESTRICTED)
    stop.settle(IP, RESTRICTED)
    assert nft.scripts == []


def test_exposed_containers_the_backstop_holds_say_so() -> None:
    container = Container("coi-a", "default", "Running", IP, "veth1", "incusbr0", "restricted")
    inventory = join_inventory([container], [], {}, era=FirewalldEra(),
                               expected=lambda c, mode, gw: RESTRICTED)
    exposed = replace(inventory, containers=tuple(
        replace(s, isolation=Isolation.EXPOSED) for s in inventory.containers))
    assert desired_of(exposed) == {IP: RESTRICTED}
    held = marked(exposed, lambda ip, rules: tuple(rules) == RESTRICTED)
    assert held.containers[0].isolation is Isolation.BACKSTOP
    assert HELD_REASON not in held.containers[0].reason  # firewalld runs: rules missing


def test_a_grants_port_scoped_accept_is_held_with_its_port() -> None:
    granted = DirectRule("ipv4", "filter", "FORWARD", 1,
                         ("-s", IP, "-d", "192.168.77.2/32", "-p", "tcp", "--dport", "80",
                          "-j", "ACCEPT"))
    lines = statements((granted, *RESTRICTED))
    held = "ip daddr 192.168.77.2/32 tcp dport 80 return"
    assert lines.index(held) < lines.index("ip daddr 192.168.0.0/16 reject")
    odd = DirectRule("ipv4", "filter", "FORWARD", 1,
                     ("-s", IP, "-d", "192.168.77.2/32", "-p", "icmp", "--dport", "80",
                      "-j", "ACCEPT"))
    with pytest.raises(BadInput):
        statements((odd,))
