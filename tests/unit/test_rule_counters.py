"""The kernel's counters of COI's firewalld direct rules: matched to their rules from
`nft -j list table ip filter` (as iptables-nft writes them), deltas never negative, a reader
that says in one line why it cannot read, and the Rules view's hits column."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from textual.app import App, ComposeResult

from coi_tui.eras.firewalld.counters import (
    CounterReading,
    RuleCounter,
    RuleCounterReader,
    counter_deltas,
    match_counters,
)
from coi_tui.eras.firewalld.policy import BASE_RULE, desired_rules
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.json_model import parse_table
from coi_tui.eras.nft.model import NftTable
from coi_tui.eras.nft.objects import NftCoiRule
from coi_tui.errors import PermissionDenied
from coi_tui.models import CoiRule, Container, ContainerState, Inventory, Mode, NetworkSettings
from coi_tui.ui.screens.rules import RulesView
from tests.waiting import wait_until

IP = "10.147.0.7"
RULES = [BASE_RULE, *desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), "10.147.0.1")]


def match(field: str, right: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": field}},
                      "right": right}}


def address(text: str) -> Any:
    if "/" not in text:
        return text
    addr, length = text.split("/")
    return {"prefix": {"addr": addr, "len": int(length)}}


def kernel_rule(rule: DirectRule, handle: int, packets: int, chain: str = "FORWARD"
                ) -> dict[str, Any]:
    """The rule as iptables-nft puts it in the kernel and `nft -j` prints it."""
    expr: list[Any] = []
    if rule.source:
        expr.append(match("saddr", address(rule.source)))
    if rule.destination and rule.destination != "0.0.0.0/0":
        # iptables drops the /32 of a single host
        expr.append(match("daddr", address(rule.destination.removesuffix("/32"))))
    if "conntrack" in rule.args:
        expr.append({"xt": {"type": "match", "name": "conntrack"}})
    expr.append({"counter": {"packets": packets, "bytes": packets * 60}})
    if rule.verdict == "ACCEPT":
        expr.append({"accept": None})
    else:
        expr.append({"xt": {"type": "target", "name": rule.verdict}})
    return {"rule": {"family": "ip", "table": "filter", "chain": chain, "handle": handle,
                     "expr": expr}}


def table_of(rules: list[dict[str, Any]]) -> NftTable:
    text = json.dumps({"nftables": [
        {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
        {"table": {"family": "ip", "name": "filter", "handle": 1}},
        {"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 1,
                   "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
        *rules]})
    return parse_table(text, "ip", "filter")


def kernel_table(packets: dict[DirectRule, int], chain: str = "FORWARD") -> NftTable:
    # the kernel orders by firewalld's priority; handles as iptables-nft hands them out
    ordered = sorted(RULES, key=lambda r: r.priority)
    return table_of([kernel_rule(r, 10 + i, packets.get(r, 0), chain)
                     for i, r in enumerate(ordered)])


def private_reject() -> DirectRule:
    return next(r for r in RULES if r.destination == "192.168.0.0/16")


def test_each_direct_rule_gets_the_counter_of_its_kernel_rule() -> None:
    reject = private_reject()
    found = match_counters(RULES, kernel_table({reject: 3, BASE_RULE: 11}))
    assert set(found) == set(RULES)
    assert found[reject].packets == 3 and found[reject].bytes == 180
    assert found[BASE_RULE].packets == 11
    assert all(c.packets == 0 for r, c in found.items() if r not in (reject, BASE_RULE))
    assert len({c.handle for c in found.values()}) == len(RULES)


def test_firewalld_direct_chains_and_foreign_rules() -> None:
    reject = private_reject()
    direct = match_counters(RULES, kernel_table({reject: 2}, chain="FORWARD_direct"))
    assert direct[reject].packets == 2
    # a rule of another tool with other addresses matches nothing of COI's
    foreign = table_of([kernel_rule(DirectRule("ipv4", "filter", "FORWARD", 0, (
        "-s", "10.147.0.99", "-d", "192.168.0.0/16", "-j", "REJECT")), 5, 9)])
    assert match_counters(RULES, foreign) == {}
    assert match_counters(RULES, None) == {}


def test_two_rules_with_one_key_pair_up_in_order() -> None:
    low = DirectRule("ipv4", "filter", "FORWARD", 5, ("-s", IP, "-d", "192.0.2.1", "-j", "DROP"))
    high = replace(low, priority=40)
    table = table_of([kernel_rule(low, 1, 4), kernel_rule(high, 2, 9)])
    found = match_counters([high, low], table)
    assert (found[low].packets, found[high].packets) == (4, 9)


def test_deltas_never_go_negative_and_a_re_added_rule_starts_from_its_own_count() -> None:
    reject = private_reject()
    before = {reject: RuleCounter(handle=7, packets=10, bytes=600)}
    assert counter_deltas(before, {reject: RuleCounter(7, 13, 780)}) == {
        reject: RuleCounter(7, 3, 180)}
    re_added = {reject: RuleCounter(handle=31, packets=2, bytes=120)}
    assert counter_deltas(before, re_added) == re_added
    reset = {reject: RuleCounter(handle=7, packets=1, bytes=60)}  # zeroed in place
    assert counter_deltas(before, reset) == reset
    assert counter_deltas({}, re_added) == re_added


class FakeNft:
    def __init__(self, table: NftTable | None = None, refuse: str | None = None) -> None:
        self.table, self.refuse, self.calls = table, refuse, 0

    def list_table(self, family: str, table: str) -> NftTable | None:
        self.calls += 1
        assert (family, table) == ("ip", "filter")
        if self.refuse:
            raise PermissionDenied(self.refuse)
        return self.table


def test_the_reader_reads_once_and_says_in_one_line_why_it_cannot() -> None:
    nft = FakeNft(kernel_table({private_reject(): 5}))
    reading = RuleCounterReader(nft)(RULES)
    assert reading.problem is None and reading.counts[private_reject()].packets == 5
    assert nft.calls == 1
    refused = RuleCounterReader(FakeNft(refuse="sudo refused nft (to list table ip filter)"))(
        RULES)
    assert refused.counts == {}
    assert refused.problem == ("rule counters not readable: sudo refused nft "
                               "(to list table ip filter)")


def test_the_nft_eras_rules_carry_no_counters_and_cost_no_read() -> None:
    nft = FakeNft(kernel_table({}))
    rule = NftCoiRule("ip", "coi", "forward", ("ip", "saddr", IP, "reject"),
                      comment=f"coi-{IP}", handle=4)
    reading = RuleCounterReader(nft)([rule])
    assert reading == CounterReading() and nft.calls == 0


class Host(App[None]):
    def __init__(self, view: RulesView) -> None:
        super().__init__()
        self.view = view

    def compose(self) -> ComposeResult:
        yield self.view


def inventory() -> Inventory:
    state = ContainerState(Container("coi-a", "default", "Running", IP, "veth1", "incusbr0",
                                     "restricted"),
                           rules=tuple(RULES[1:]), mode=Mode.RESTRICTED,
                           expected_rules=tuple(RULES[1:]))
    return Inventory(containers=(state,), rules=tuple(RULES),
                     owners={r: "default/coi-a" for r in RULES[1:]})


async def test_the_rules_view_shows_hits_and_hides_them_first_when_narrow() -> None:
    reads: list[int] = []

    def counters(rules: object) -> CounterReading:
        reads.append(1)
        found: dict[CoiRule, RuleCounter] = {private_reject(): RuleCounter(3, 1234, 74040)}
        return CounterReading(found)

    view = RulesView(counters)
    app = Host(view)
    async with app.run_test(size=(160, 30)) as pilot:
        view.show_inventory(inventory())
        view.read_counters()
        key = f"False|{private_reject()}"
        await wait_until(lambda: view.rows_list.cell(key, "hits") == "1.2k")
        assert "hits" in view.rows_list.shown_columns()
        base = f"False|{BASE_RULE}"
        assert view.rows_list.cell(base, "hits") == "-"  # no count known
        await pilot.resize_terminal(80, 24)
        await pilot.pause(0.3)
        assert "hits" not in view.rows_list.shown_columns()
        assert {"owner", "verdict", "state"} <= set(view.rows_list.shown_columns())


async def test_the_rules_view_says_why_there_are_no_hits() -> None:
    view = RulesView(lambda rules: CounterReading(problem="rule counters not readable: no"))
    app = Host(view)
    async with app.run_test(size=(160, 30)):
        view.show_inventory(inventory())
        view.read_counters()
        summary = view.query_one("#rules-summary")
        await wait_until(lambda: "hits: rule counters not readable" in str(summary.render()))
        assert all(view.rows_list.cell(k, "hits") == "-" for k in view.rows_list.shown_keys())
