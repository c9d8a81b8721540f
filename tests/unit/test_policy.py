"""COI's rule sets per mode, written out literally from docs/coi-firewalld-era.md §2.3; mode
signatures; exact ownership; the DNS-rebinding filter."""

from __future__ import annotations

import random

import pytest

from coi_tui.eras.firewalld.policy import (
    BASE_RULE,
    desired_rules,
    filter_allowed_ips,
    infer_mode,
    owned_by,
    rebinding_reason,
)
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Mode, NetworkSettings
from tests.unit.netsim import may_allow, surely_rejects

IP = "10.147.0.5"
GW = "10.147.0.1"


def lines(rules: tuple[DirectRule, ...]) -> list[str]:
    return [str(r) for r in rules]


def flags(private: bool, metadata: bool, local: bool) -> NetworkSettings:
    return NetworkSettings(
        block_private_networks=private,
        block_metadata_endpoint=metadata,
        allow_local_network_access=local,
    )


def test_the_base_rule_is_coi_s_shared_conntrack_accept_and_in_no_mode_s_set() -> None:
    assert str(BASE_RULE) == (
        "ipv4 filter FORWARD -1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    )
    for mode in Mode:
        assert BASE_RULE not in desired_rules(IP, mode, NetworkSettings(), GW, ["203.0.113.10"])


# (block_private_networks, block_metadata_endpoint, allow_local_network_access) -> rules
RESTRICTED = {
    (True, True, False): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 10.0.0.0/8 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 172.16.0.0/12 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 192.168.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (True, False, False): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 10.0.0.0/8 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 172.16.0.0/12 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 192.168.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (False, True, False): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (False, False, False): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    # local access replaces the private REJECTs by ACCEPTs at 1, whatever the private flag
    (True, True, True): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (False, True, True): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (True, False, True): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
    (False, False, True): [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ],
}


@pytest.mark.parametrize("combination", sorted(RESTRICTED))
def test_restricted_for_every_flag_combination(combination: tuple[bool, bool, bool]) -> None:
    rules = desired_rules(IP, Mode.RESTRICTED, flags(*combination), GW, ["203.0.113.10"])
    assert lines(rules) == RESTRICTED[combination]


def test_without_a_gateway_the_gateway_accept_is_left_out() -> None:
    assert lines(desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), None)) == [
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 10.0.0.0/8 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 172.16.0.0/12 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 192.168.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 50 -s 10.147.0.5 -d 0.0.0.0/0 -j ACCEPT",
    ]
    assert lines(desired_rules(IP, Mode.ALLOWLIST, flags(True, True, True), None)) == [
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 99 -s 10.147.0.5 -d 0.0.0.0/0 -j REJECT",
    ]


ALLOWLIST_IPS = ["203.0.113.20", "203.0.113.100", "203.0.113.20", "198.51.100.0/24", "10.0.0.9"]


@pytest.mark.parametrize("private", [True, False])
@pytest.mark.parametrize("metadata", [True, False])
def test_allowlist_ignores_the_block_flags(private: bool, metadata: bool) -> None:
    # lexical order: "10.0.0.9" < "198..." and "203.0.113.100" < "203.0.113.20"; a CIDR stays
    # as written, a bare address gets /32, a duplicate is one rule
    rules = desired_rules(IP, Mode.ALLOWLIST, flags(private, metadata, False), GW, ALLOWLIST_IPS)
    assert lines(rules) == [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.9/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 198.51.100.0/24 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 203.0.113.100/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 203.0.113.20/32 -j ACCEPT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 10.0.0.0/8 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 172.16.0.0/12 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 192.168.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 99 -s 10.147.0.5 -d 0.0.0.0/0 -j REJECT",
    ]


@pytest.mark.parametrize("private", [True, False])
@pytest.mark.parametrize("metadata", [True, False])
def test_allowlist_with_local_access_has_no_private_or_metadata_reject(
    private: bool, metadata: bool
) -> None:
    rules = desired_rules(IP, Mode.ALLOWLIST, flags(private, metadata, True), GW, ["203.0.113.10"])
    assert lines(rules) == [
        "ipv4 filter FORWARD 0 -s 10.147.0.5 -d 10.147.0.1/32 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 10.0.0.0/8 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 172.16.0.0/12 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 192.168.0.0/16 -j ACCEPT",
        "ipv4 filter FORWARD 1 -s 10.147.0.5 -d 203.0.113.10/32 -j ACCEPT",
        "ipv4 filter FORWARD 99 -s 10.147.0.5 -d 0.0.0.0/0 -j REJECT",
    ]


def test_allowlist_without_any_ip_is_default_deny() -> None:
    assert lines(desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), None)) == [
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 10.0.0.0/8 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 172.16.0.0/12 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 192.168.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -d 169.254.0.0/16 -j REJECT",
        "ipv4 filter FORWARD 99 -s 10.147.0.5 -d 0.0.0.0/0 -j REJECT",
    ]


@pytest.mark.parametrize("combination", sorted(RESTRICTED))
def test_open_is_one_accept_without_destination_whatever_the_settings(
    combination: tuple[bool, bool, bool],
) -> None:
    rules = desired_rules(IP, Mode.OPEN, flags(*combination), GW, ["203.0.113.10"])
    assert lines(rules) == ["ipv4 filter FORWARD 0 -s 10.147.0.5 -j ACCEPT"]


def test_the_argv_is_what_firewall_cmd_takes() -> None:
    rule = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW)[-1]
    assert rule.cli_args() == [
        "ipv4", "filter", "FORWARD", "99", "-s", "10.147.0.5", "-d", "0.0.0.0/0", "-j", "REJECT",
    ]


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("combination", sorted(RESTRICTED))
@pytest.mark.parametrize("gateway", [GW, None])
def test_each_mode_is_recognised_from_its_own_rules_in_any_order(
    mode: Mode, combination: tuple[bool, bool, bool], gateway: str | None
) -> None:
    for ips in ([], ["203.0.113.10", "192.168.77.2"]):
        rules = list(desired_rules(IP, mode, flags(*combination), gateway, ips))
        random.Random(len(rules)).shuffle(rules)
        assert infer_mode([BASE_RULE, *rules]) is mode


def test_no_signature_means_no_mode() -> None:
    assert infer_mode([]) is None
    assert infer_mode([BASE_RULE]) is None
    # COI's private REJECTs alone, another tool's rules, a subnet source: no COI signature
    assert infer_mode(desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW)[1:-1]) is None
    assert infer_mode([DirectRule("ipv4", "filter", "FORWARD", 0, ("-j", "ACCEPT"))]) is None
    subnet = ("-s", "10.147.0.0/24", "-d", "0.0.0.0/0", "-j", "REJECT")
    assert infer_mode([DirectRule("ipv4", "filter", "FORWARD", 99, subnet)]) is None
    other_chain = ("-s", IP, "-d", "0.0.0.0/0", "-j", "ACCEPT")
    assert infer_mode([DirectRule("ipv4", "filter", "INPUT", 50, other_chain)]) is None


def test_a_mixed_set_is_named_by_its_strictest_signature() -> None:
    restricted = desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW)
    allowlist = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW)
    opened = desired_rules(IP, Mode.OPEN, NetworkSettings(), GW)
    assert infer_mode([*restricted, *allowlist]) is Mode.ALLOWLIST
    assert infer_mode([*opened, *restricted]) is Mode.RESTRICTED


def test_a_slash_32_source_is_recognised_and_owned() -> None:
    rule = DirectRule("ipv4", "filter", "FORWARD", 0, ("-s", f"{IP}/32", "-j", "ACCEPT"))
    assert infer_mode([rule]) is Mode.OPEN
    assert owned_by(rule, IP)


def test_ownership_is_exact_never_a_substring() -> None:
    five = desired_rules("10.147.0.5", Mode.RESTRICTED, NetworkSettings(), GW)
    fifty = desired_rules("10.147.0.50", Mode.RESTRICTED, NetworkSettings(), GW)
    assert all(owned_by(r, "10.147.0.5") and not owned_by(r, "10.147.0.50") for r in five)
    assert all(owned_by(r, "10.147.0.50") and not owned_by(r, "10.147.0.5") for r in fifty)
    # COI's substring match would also take a rule that merely names the IP as destination
    to_five = DirectRule("ipv4", "filter", "FORWARD", 1, ("-s", "10.147.0.7", "-d", "10.147.0.5"))
    assert not owned_by(to_five, "10.147.0.5")
    subnet = DirectRule("ipv4", "filter", "FORWARD", 1, ("-s", "10.147.0.5/24", "-j", "DROP"))
    assert not owned_by(subnet, "10.147.0.5")
    assert not owned_by(BASE_RULE, "10.147.0.5")


@pytest.mark.parametrize(
    ("ip", "reason"),
    [
        ("10.0.0.1", "private network (RFC 1918)"),
        ("172.16.0.1", "private network (RFC 1918)"),
        ("172.31.255.255", "private network (RFC 1918)"),
        ("192.168.77.2", "private network (RFC 1918)"),
        ("127.0.0.1", "loopback"),
        ("127.53.0.1", "loopback"),
        ("169.254.169.254", "cloud metadata endpoint (link-local)"),
        ("169.254.77.1", "link-local"),
        ("100.64.0.1", "carrier-grade NAT (RFC 6598)"),
        ("100.127.255.255", "carrier-grade NAT (RFC 6598)"),
        ("0.0.0.0", "unspecified (this network)"),
        ("224.0.0.251", "multicast"),
        ("255.255.255.255", "reserved"),
    ],
)
def test_a_dns_answer_into_local_space_is_blocked_with_its_reason(ip: str, reason: str) -> None:
    assert rebinding_reason(ip) == reason
    assert filter_allowed_ips([ip], False) == ((), {ip: reason})


@pytest.mark.parametrize(
    "ip", ["203.0.113.10", "198.51.100.7", "8.8.8.8", "172.15.255.255", "172.32.0.0",
           "100.63.255.255", "100.128.0.0", "169.253.255.255", "11.0.0.0", "223.255.255.255"]
)
def test_public_answers_pass_including_the_documentation_ranges_the_lab_uses(ip: str) -> None:
    assert rebinding_reason(ip) is None
    assert filter_allowed_ips([ip], False) == ((ip,), {})


def test_the_filter_keeps_input_order_once_each_and_local_access_lifts_it() -> None:
    answers = ["203.0.113.20", "192.168.77.2", "203.0.113.10", "203.0.113.20", "169.254.169.254"]
    assert filter_allowed_ips(answers, False) == (
        ("203.0.113.20", "203.0.113.10"),
        {"192.168.77.2": "private network (RFC 1918)",
         "169.254.169.254": "cloud metadata endpoint (link-local)"},
    )
    assert filter_allowed_ips(answers, True) == (
        ("203.0.113.20", "192.168.77.2", "203.0.113.10", "169.254.169.254"),
        {},
    )


def test_a_rebinding_answer_opens_the_lan_in_coi_and_not_after_the_filter() -> None:
    """A domain resolving to the LAN host: COI's ACCEPT at 1 beats its REJECT at 10."""
    answers = ["203.0.113.10", "192.168.77.2"]
    coi = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW, answers)
    allowed, _blocked = filter_allowed_ips(answers, False)
    ours = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW, allowed)
    assert may_allow(coi, "192.168.77.2")
    assert surely_rejects(ours, "192.168.77.2")
    assert may_allow(ours, "203.0.113.10")


def test_a_literal_the_user_wrote_is_the_caller_s_to_keep() -> None:
    """The filter only sees DNS answers; a literal in allowed_domains goes straight in."""
    literals = ["192.168.77.2"]
    allowed, _blocked = filter_allowed_ips(["203.0.113.10"], False)
    rules = desired_rules(IP, Mode.ALLOWLIST, NetworkSettings(), GW, [*literals, *allowed])
    assert may_allow(rules, "192.168.77.2") and surely_rejects(rules, "192.168.77.3")


def test_rebinding_reason_wants_an_ipv4_address() -> None:
    with pytest.raises(ValueError):
        rebinding_reason("::1")
