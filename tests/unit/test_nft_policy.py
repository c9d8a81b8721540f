"""COI's nft rule text per mode, written out from docs/coi-nft-era.md §2 line by line; the
allowlist grammar and set elements (§4); mode inference (§5); exact ownership (§1.1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi_tui.eras.nft.json_model import parse_table
from coi_tui.eras.nft.model import HostEntry, NftSettings, PortRange
from coi_tui.eras.nft.policy import (
    BASE_RULE,
    coi_commands,
    comment_ips,
    desired_policy,
    infer_mode,
    monitor_rules,
    owned_rules,
    owned_sets,
    parse_allow_entry,
)
from coi_tui.errors import BadInput
from coi_tui.models import Mode

IP, GW, NAME, VETH = "10.147.0.5", "10.147.0.1", "coi-lab-1", "veth1234"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nft"
P = f'add rule ip coi forward ip saddr {IP}'
C = f'comment "coi-{IP}"'
IP6 = f'add rule ip6 coi forward iifname {VETH} drop comment "coi6-{NAME}"'


def commands(mode: Mode, settings: NftSettings, gateway: str | None = GW,
             resolved: dict[str, list[str]] | None = None) -> list[str]:
    policy = desired_policy(IP, NAME, mode, settings, gateway, VETH, resolved)
    return list(coi_commands(policy))


def test_the_shared_base_rule() -> None:
    assert BASE_RULE.command() == (
        'add rule ip coi forward ct state established,related accept comment "coi-base"')


def test_open_is_one_accept_and_no_ipv6_drop() -> None:
    assert commands(Mode.OPEN, NftSettings()) == [f"{P} accept {C}"]


def test_restricted_default() -> None:
    assert commands(Mode.RESTRICTED, NftSettings()) == [
        f"{P} ip daddr {GW}/32 accept {C}",
        f"{P} ip daddr 10.0.0.0/8 reject {C}",
        f"{P} ip daddr 172.16.0.0/12 reject {C}",
        f"{P} ip daddr 192.168.0.0/16 reject {C}",
        f"{P} ip daddr 169.254.0.0/16 reject {C}",
        f"{P} accept {C}",
        IP6,
    ]


def test_restricted_without_gateway_or_blocks() -> None:
    settings = NftSettings(block_private_networks=False, block_metadata_endpoint=False)
    assert commands(Mode.RESTRICTED, settings, gateway=None) == [f"{P} accept {C}", IP6]


def test_restricted_local_access_replaces_the_private_rejects_metadata_stays() -> None:
    settings = NftSettings(allow_local_network_access=True)
    assert commands(Mode.RESTRICTED, settings) == [
        f"{P} ip daddr {GW}/32 accept {C}",
        f"{P} ip daddr 10.0.0.0/8 accept {C}",
        f"{P} ip daddr 172.16.0.0/12 accept {C}",
        f"{P} ip daddr 192.168.0.0/16 accept {C}",
        f"{P} ip daddr 169.254.0.0/16 reject {C}",
        f"{P} accept {C}",
        IP6,
    ]


def test_restricted_dns_pins_then_ports_cap() -> None:
    settings = NftSettings(dns_servers=("203.0.113.53", "203.0.113.53", " 203.0.113.54"),
                           allowed_ports=(443, 80, 443))
    assert commands(Mode.RESTRICTED, settings) == [
        f"{P} ip daddr {GW}/32 accept {C}",
        f"{P} ip daddr 203.0.113.53/32 meta l4proto {{ tcp, udp }} th dport 53 accept {C}",
        f"{P} ip daddr 203.0.113.54/32 meta l4proto {{ tcp, udp }} th dport 53 accept {C}",
        f"{P} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
        f"{P} ip daddr 10.0.0.0/8 reject {C}",
        f"{P} ip daddr 172.16.0.0/12 reject {C}",
        f"{P} ip daddr 192.168.0.0/16 reject {C}",
        f"{P} ip daddr 169.254.0.0/16 reject {C}",
        f"{P} meta l4proto {{ tcp, udp }} th dport {{ 80, 443 }} accept {C}",
        f"{P} icmp type echo-request limit rate 10/second accept {C}",
        f"{P} reject {C}",
        IP6,
    ]


def test_restricted_local_access_is_port_capped_too() -> None:
    settings = NftSettings(allow_local_network_access=True, allowed_ports=(443,))
    lines = commands(Mode.RESTRICTED, settings)
    assert lines[1:4] == [
        f"{P} ip daddr {net} meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {C}"
        for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def test_bad_egress_values_are_refused() -> None:
    with pytest.raises(BadInput, match=r"dns_servers: 'dns\.example' is not a valid IPv4"):
        commands(Mode.RESTRICTED, NftSettings(dns_servers=("dns.example",)))
    with pytest.raises(BadInput, match=r"allowed_ports: 70000 is out of range \(1-65535\)"):
        commands(Mode.RESTRICTED, NftSettings(allowed_ports=(70000,)))


ALLOW = NftSettings(allowed_domains=("api.lab.test", "203.0.113.0/24:443,8000-8100",
                                     "198.51.100.7", "Pkg.Lab.Test.:22"))
RESOLVED = {"api.lab.test": ["203.0.113.10", "203.0.113.11"], "pkg.lab.test": ["198.51.100.9"]}
S, D, SP, DP = (f"coi_{k}_10_147_0_5" for k in ("s", "d", "sp", "dp"))


def test_allowlist_sets_elements_dns_block_and_batch_in_coi_s_order() -> None:
    assert commands(Mode.ALLOWLIST, ALLOW, resolved=RESOLVED) == [
        f"add set ip coi {S} {{ type ipv4_addr ; flags interval ; auto-merge ; }}",
        f"add set ip coi {D} {{ type ipv4_addr ; flags timeout ; }}",
        f"add set ip coi {SP} {{ type ipv4_addr . inet_service ; flags interval ; auto-merge ; }}",
        f"add set ip coi {DP} {{ type ipv4_addr . inet_service ; flags interval , timeout ; "
        "auto-merge ; }",
        f"add element ip coi {S} {{ 198.51.100.7/32, 203.0.113.0/24 }}",
        f"add element ip coi {D} {{ 203.0.113.10, 203.0.113.11, 198.51.100.9 }}",
        f"add element ip coi {SP} {{ 198.51.100.7/32 . 1-65535, 203.0.113.0/24 . 443, "
        "203.0.113.0/24 . 8000-8100 }",
        f"add element ip coi {DP} {{ 203.0.113.10 . 1-65535, 203.0.113.11 . 1-65535, "
        "198.51.100.9 . 22 }",
        f"{P} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
        f"add rule ip coi input ip saddr {IP} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
        f"{P} ip daddr {GW}/32 udp dport {{ 67, 68 }} accept {C}",
        f"{P} ip daddr 10.0.0.0/8 reject {C}",
        f"{P} ip daddr 172.16.0.0/12 reject {C}",
        f"{P} ip daddr 192.168.0.0/16 reject {C}",
        f"{P} ip daddr 169.254.0.0/16 reject {C}",
        f"{P} meta l4proto {{ tcp, udp }} ip daddr . th dport @{SP} accept {C}",
        f"{P} meta l4proto {{ tcp, udp }} ip daddr . th dport @{DP} accept {C}",
        f"{P} ip daddr @{S} icmp type echo-request limit rate 10/second accept {C}",
        f"{P} ip daddr @{D} icmp type echo-request limit rate 10/second accept {C}",
        f"{P} reject {C}",
        IP6,
    ]


def test_allowlist_forward_rules_are_eleven() -> None:
    policy = desired_policy(IP, NAME, Mode.ALLOWLIST, ALLOW, GW, VETH)
    assert len(policy.forward) == 11 and len(policy.input) == 1


def test_allowlist_local_access_drops_the_metadata_reject_and_caps_ports() -> None:
    settings = NftSettings(allowed_domains=("203.0.113.0/24",), allow_local_network_access=True,
                           allowed_ports=(443,), block_metadata_endpoint=True)
    lines = commands(Mode.ALLOWLIST, settings)
    assert not any("169.254" in line for line in lines)
    assert f"{P} ip daddr 10.0.0.0/8 meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {C}" \
        in lines
    assert f"add element ip coi {SP} {{ 203.0.113.0/24 . 443 }}" in lines


def test_allowlist_preconditions() -> None:
    with pytest.raises(BadInput, match="required for allowlist mode"):
        commands(Mode.ALLOWLIST, ALLOW, gateway=None)
    with pytest.raises(BadInput, match="dns_servers is not compatible with allowlist"):
        commands(Mode.ALLOWLIST, NftSettings(allowed_domains=("a.test",),
                                             dns_servers=("203.0.113.53",)))
    with pytest.raises(BadInput, match="allowed_domains"):
        commands(Mode.ALLOWLIST, NftSettings())


def test_allowed_domains_grammar() -> None:
    assert parse_allow_entry("API.Lab.Test.") == parse_allow_entry("api.lab.test")
    entry = parse_allow_entry("10.1.2.3/8:443,80,100-200,80")
    assert entry.static and entry.dest == "10.0.0.0/8"
    assert entry.ports == (PortRange(80, 80), PortRange(100, 200), PortRange(443, 443))
    assert parse_allow_entry("198.51.100.7").dest == "198.51.100.7/32"
    with pytest.raises(BadInput, match="wildcard"):
        parse_allow_entry("*.lab.test")
    with pytest.raises(BadInput, match="no destination"):
        parse_allow_entry(":443")
    with pytest.raises(BadInput, match="invalid port"):
        parse_allow_entry("a.test:0")
    with pytest.raises(BadInput):
        parse_allow_entry("300.1.1.1")


def test_hosts_restricted_private_is_inserted_at_the_top_in_config_order() -> None:
    settings = NftSettings(hosts=(HostEntry("192.168.77.2", ("lan",), (8080,)),
                                  HostEntry("10.9.9.9", ("nas",))))
    policy = desired_policy(IP, NAME, Mode.RESTRICTED, settings, GW, VETH)
    inserts = [
        f"insert rule ip coi forward ip saddr {IP} ip daddr 192.168.77.2/32 "
        f"meta l4proto {{ tcp, udp }} th dport {{ 8080 }} accept {C}",
        f"insert rule ip coi forward ip saddr {IP} ip daddr 10.9.9.9/32 accept {C}",
    ]
    # COI runs them in config order after the rest; each goes on top, so the chain shows
    # the last host first
    assert list(coi_commands(policy)[-3:-1]) == inserts
    assert [r.command() for r in policy.forward[:2]] == inserts[::-1]
    assert not any(r.insert for r in policy.forward[2:])


def test_hosts_allowlist_public_goes_into_the_sets() -> None:
    settings = NftSettings(allowed_domains=("api.lab.test",),
                           hosts=(HostEntry("203.0.113.80", ("web",), (443,)),))
    policy = desired_policy(IP, NAME, Mode.ALLOWLIST, settings, GW, VETH)
    sets = {s.kind: s.elements for s in policy.sets}
    # AddStaticIPs([entry.IP]), AddStaticTuples: the bare address, as COI writes it
    assert sets["s"] == ("203.0.113.80",) and sets["sp"] == ("203.0.113.80 . 443",)
    with pytest.raises(BadInput, match="link-local"):
        desired_policy(IP, NAME, Mode.ALLOWLIST, NftSettings(
            allowed_domains=("a.test",), hosts=(HostEntry("169.254.169.254"),)), GW, VETH)
    with pytest.raises(BadInput, match="private address; allowlist mode opens a LAN host "
                                       "only on explicit ports"):
        desired_policy(IP, NAME, Mode.ALLOWLIST, NftSettings(
            allowed_domains=("a.test",), hosts=(HostEntry("192.168.1.5"),)), GW, VETH)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("settings", [
    NftSettings(allowed_domains=("203.0.113.0/24",)),
    NftSettings(allowed_domains=("203.0.113.0/24",), block_private_networks=False,
                block_metadata_endpoint=False),
    NftSettings(allowed_domains=("203.0.113.0/24",), allowed_ports=(443,),
                allow_local_network_access=True),
])
def test_inference_recognises_every_mode_coi_emits(mode: Mode, settings: NftSettings) -> None:
    policy = desired_policy(IP, NAME, mode, settings, GW, VETH)
    sets = [s.name for s in policy.sets]
    assert infer_mode(IP, policy.forward, sets, ip6_drop=bool(policy.ip6)) is mode


def test_inference_edge_cases() -> None:
    bare = desired_policy(IP, NAME, Mode.RESTRICTED, NftSettings(
        block_private_networks=False, block_metadata_endpoint=False), None, VETH)
    # restricted with nothing to block is one blanket accept: only the IPv6 drop tells it
    assert infer_mode(IP, bare.forward, ip6_drop=True) is Mode.RESTRICTED
    assert infer_mode(IP, bare.forward, ip6_drop=False) is Mode.OPEN
    assert infer_mode(IP, []) is None
    assert infer_mode(IP, [], sets=[S]) is Mode.ALLOWLIST  # COI's own test: the set
    other = desired_policy("10.147.0.50", NAME, Mode.ALLOWLIST, ALLOW, GW, VETH)
    assert infer_mode(IP, [], sets=[s.name for s in other.sets]) is None


def test_ownership_is_by_exact_comment_5_is_not_50() -> None:
    table = parse_table((FIXTURES / "list_table_ip_coi.json").read_text(), "ip", "coi")
    five = owned_rules(table, "10.147.0.5")
    fifty = owned_rules(table, "10.147.0.50")
    assert {r.comment for r in five} == {"coi-10.147.0.5"} and len(five) == 11
    assert {r.comment for r in fifty} == {"coi-10.147.0.50"} and len(fifty) == 4
    assert not set(five) & set(fifty)
    assert owned_sets(table, "10.147.0.5") == ()
    assert len(owned_sets(table, "10.147.0.50")) == 4
    assert [r.handle for r in owned_rules(table, "10.147.0.50", "input")] == [34]
    assert owned_rules(table, "10.147.0.5", "input") == ()
    assert comment_ips(table) == ("10.147.0.5", "10.147.0.50")  # no base, no boot block
    monitor = parse_table((FIXTURES / "list_chain_ip_filter_forward.json").read_text(),
                          "ip", "filter")
    assert len(monitor_rules(monitor, "10.147.0.5")) == 4
    assert monitor_rules(monitor, "10.147.0.50") == ()
    assert infer_mode("10.147.0.50", fifty, [s.name for s in owned_sets(
        table, "10.147.0.50")]) is Mode.ALLOWLIST
