"""Reading `nft -j` output into records. The fixtures are real nft 1.0.6 answers, captured
from a scratch table filled as COI fills `ip coi` (table names then set to COI's)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coi_tui.eras.nft.cli import reason_line
from coi_tui.eras.nft.json_model import parse_document, parse_table, render_expr
from coi_tui.eras.nft.text import canonical_element, canonical_rule, join_tokens
from coi_tui.errors import FirewallError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nft"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def test_a_table_holds_its_sets_chains_and_rules_in_chain_order() -> None:
    table = parse_table(fixture("list_table_ip_coi.json"), "ip", "coi")
    assert (table.family, table.name) == ("ip", "coi")
    assert [c.name for c in table.chains] == ["forward", "input"]
    assert [s.name for s in table.sets] == [
        "coi_s_10_147_0_50", "coi_d_10_147_0_50", "coi_sp_10_147_0_50", "coi_dp_10_147_0_50"]
    forward = table.rules_in("forward")
    # the [[network.hosts]] rule was inserted last, so it is first; handles are not ordered
    assert forward[0].handle == 32 and forward[0].comment == "coi-10.147.0.5"
    assert [r.comment for r in forward[1:3]] == ["coi-base", "coi-boot-coi-lab-3"]
    assert [r.handle for r in table.rules_in("input")] == [34]


def test_rules_read_as_nft_prints_them() -> None:
    table = parse_table(fixture("list_table_ip_coi.json"), "ip", "coi")
    texts = [r.text for r in table.rules_in("forward")]
    assert texts == [
        "ip saddr 10.147.0.5 ip daddr 192.168.77.2 meta l4proto { tcp, udp } th dport 8080 accept",
        "ct state established,related accept",
        "iifname vethBOOT drop",
        "ip saddr 10.147.0.5 ip daddr 10.147.0.1 accept",
        "ip saddr 10.147.0.5 ip daddr 203.0.113.53 meta l4proto { tcp, udp } th dport 53 accept",
        "ip saddr 10.147.0.5 meta l4proto { tcp, udp } th dport 53 reject",
        "ip saddr 10.147.0.5 ip daddr 10.0.0.0/8 reject",
        "ip saddr 10.147.0.5 ip daddr 169.254.0.0/16 reject",
        "ip saddr 10.147.0.5 meta l4proto { tcp, udp } th dport { 80, 443 } accept",
        "ip saddr 10.147.0.5 meta l4proto { tcp, udp } th dport 443 accept",
        "ip saddr 10.147.0.5 icmp type echo-request limit rate 10/second accept",
        "ip saddr 10.147.0.5 reject",
        "ip saddr 10.147.0.5 accept",
        "ip saddr 10.147.0.50 meta l4proto { tcp, udp } th dport 53 reject",
        "ip saddr 10.147.0.50 ip daddr 10.147.0.1 udp dport { 67, 68 } accept",
        "ip saddr 10.147.0.50 meta l4proto { tcp, udp } ip daddr . th dport @coi_sp_10_147_0_50"
        " accept",
        "ip saddr 10.147.0.50 ip daddr @coi_s_10_147_0_50 icmp type echo-request limit rate"
        " 10/second accept",
    ]
    assert str(table.rules_in("input")[0]) == (
        'ip saddr 10.147.0.50 meta l4proto { tcp, udp } th dport 53 reject '
        'comment "coi-10.147.0.50" # handle 34')


def test_the_json_of_a_rule_equals_the_text_coi_wrote_for_it() -> None:
    # the bodies the fixture was made from (COI's text), in chain order
    written = [
        'ip saddr 10.147.0.5 ip daddr 192.168.77.2/32 meta l4proto { tcp, udp } th dport '
        '{ 8080 } accept comment "coi-10.147.0.5"',
        'ct state established,related accept comment "coi-base"',
        'iifname vethBOOT drop comment "coi-boot-coi-lab-3"',
        'ip saddr 10.147.0.5 ip daddr 10.147.0.1/32 accept comment "coi-10.147.0.5"',
    ]
    table = parse_table(fixture("list_table_ip_coi.json"), "ip", "coi")
    live = [r.canonical for r in table.rules_in("forward")[:4]]
    assert live == [canonical_rule(text) for text in written]


def test_set_elements_read_as_canonical_text() -> None:
    table = parse_table(fixture("list_table_ip_coi.json"), "ip", "coi")
    s = table.set("coi_s_10_147_0_50")
    assert s is not None and s.type == ("ipv4_addr",) and s.flags == ("interval",)
    # auto-merge folded 203.0.114.1/32 and .2/32 into one range; /32 is shown bare
    assert s.elements == ("198.51.100.7", "203.0.113.0/24", "203.0.114.1-203.0.114.2")
    d = table.set("coi_d_10_147_0_50")
    assert d is not None and d.elements == ("203.0.113.10", "203.0.113.11")  # timeout dropped
    sp = table.set("coi_sp_10_147_0_50")
    assert sp is not None and sp.type == ("ipv4_addr", "inet_service")
    assert sp.elements == ("198.51.100.7 . 22", "203.0.113.0/24 . 1-65535", "203.0.114.1 . 443")
    dp = table.set("coi_dp_10_147_0_50")
    assert dp is not None and dp.flags == ("interval", "timeout")
    assert dp.elements == ("203.0.113.10 . 1-65535", "203.0.113.11 . 443")
    # what COI writes reduces to what the kernel lists
    assert canonical_element("198.51.100.7/32 . 22") == "198.51.100.7 . 22"
    assert canonical_element("203.0.113.11 . 443 timeout 600s") == "203.0.113.11 . 443"


def test_base_chains_carry_hook_priority_and_policy() -> None:
    table = parse_table(fixture("list_table_ip_coi_empty.json"), "ip", "coi")
    forward, input_ = table.chains
    assert (forward.type, forward.hook, forward.priority, forward.policy) == (
        "filter", "forward", 10, "accept")
    assert (input_.hook, input_.priority) == ("input", 0)
    assert table.rules == () and table.sets == ()


def test_the_ip6_chain_listing_holds_the_name_keyed_drop() -> None:
    table = parse_table(fixture("list_chain_ip6_coi_forward.json"), "ip6", "coi")
    assert table.handle == 0  # `list chain` names no table object
    (rule,) = table.rules
    assert (rule.family, rule.chain, rule.comment, rule.text) == (
        "ip6", "forward", "coi6-coi-lab-1", "iifname veth1234 drop")


def test_monitor_log_rules_are_keyed_by_the_bracketed_ip() -> None:
    table = parse_table(fixture("list_chain_ip_filter_forward.json"), "ip", "filter")
    prefixes = [r.log_prefix for r in table.rules]
    assert prefixes == ["NFT_COI[10.147.0.5]: ", "NFT_DNS[10.147.0.5]: ",
                        "NFT_SUSPICIOUS[10.147.0.5]: ", "NFT_SUSPICIOUS[10.147.0.5]: "]
    assert {r.monitor_ip for r in table.rules} == {"10.147.0.5"}
    assert table.rules[2].text == (
        'ip saddr 10.147.0.5 tcp dport { 1234, 4444, 5555, 6666-6697, 12345, 31337 } '
        'log prefix "NFT_SUSPICIOUS[10.147.0.5]: " level info counter')
    # COI's text for the same rule (nft sorts the set; counter values are ignored)
    assert table.rules[3].canonical == canonical_rule(
        'ip saddr 10.147.0.5 ip daddr { 169.254.169.254, 10.0.0.0/8, 172.16.0.0/12, '
        '192.168.0.0/16 } log prefix "NFT_SUSPICIOUS[10.147.0.5]: " level info counter')


def test_unknown_expressions_never_look_like_coi_rules() -> None:
    expr = [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}},
                       "right": "10.0.0.5"}}, {"queue": {"num": 1}}]
    tokens = render_expr(expr)
    assert tokens[:3] == ("ip", "saddr", "10.0.0.5")
    assert tokens[3].startswith("{") and "queue" in tokens[3]
    assert tokens != canonical_rule('ip saddr 10.0.0.5 accept comment "coi-10.0.0.5"')


def test_unreadable_answers_are_one_line_errors() -> None:
    with pytest.raises(FirewallError, match="unreadable JSON"):
        parse_document("Error: nope")
    with pytest.raises(FirewallError, match="without an \"nftables\" list"):
        parse_document(json.dumps({"tables": []}))
    assert parse_table('{"nftables": []}', "ip", "coi").rules == ()


def test_the_error_reason_is_nft_s_first_error_line_without_location() -> None:
    out = ("/dev/stdin:1:53-55: Error: Could not process rule: No such file or directory\n"
           "delete rule ip coi forward handle 999\n         ^^^\n")
    assert reason_line(out) == "Could not process rule: No such file or directory"
    assert reason_line("Error: syntax error, unexpected junk\n") == (
        "syntax error, unexpected junk")


def test_canonical_text_handles_nft_input_forms() -> None:
    assert canonical_rule("add rule ip coi forward ip saddr 1.2.3.4 ip daddr { 443 } accept") \
        == ("ip", "saddr", "1.2.3.4", "ip", "daddr", "443", "accept")
    assert canonical_rule("udp dport {67,68} accept") == (
        "udp", "dport", "{", "67", "68", "}", "accept")
    assert canonical_rule("reject with icmp port-unreachable") == ("reject",)
    assert canonical_rule("limit rate 10/second burst 5 packets accept") == (
        "limit", "rate", "10/second", "accept")
    assert join_tokens(("iifname", "veth 1", "{", "a", "b", "}")) == 'iifname "veth 1" { a, b }'
