"""COI's rule sets per mode, written out literally from coi-network-spec.md §2.3."""

from __future__ import annotations

from coi_tui.models import DirectRule, Mode, NetworkSettings
from coi_tui.services.policy import BASE_RULE, desired_rules, infer_mode, owned_by

IP = "10.147.0.5"
GW = "10.147.0.1"


def lines(rules: tuple[DirectRule, ...]) -> list[str]:
    return [str(r) for r in rules]


def test_the_base_rule_is_coi_s_shared_conntrack_accept() -> None:
    assert str(BASE_RULE) == (
        "ipv4 filter FORWARD -1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
    )


def test_restricted_by_default() -> None:
    assert lines(desired_rules(IP, Mode.RESTRICTED, NetworkSettings(), GW)) == [
        f"ipv4 filter FORWARD 0 -s {IP} -d 10.147.0.1/32 -j ACCEPT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 10.0.0.0/8 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 172.16.0.0/12 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 192.168.0.0/16 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 169.254.0.0/16 -j REJECT",
        f"ipv4 filter FORWARD 50 -s {IP} -d 0.0.0.0/0 -j ACCEPT",
    ]


def test_restricted_flags_and_local_access() -> None:
    no_blocks = NetworkSettings(block_private_networks=False, block_metadata_endpoint=False)
    assert lines(desired_rules(IP, Mode.RESTRICTED, no_blocks, None)) == [
        f"ipv4 filter FORWARD 50 -s {IP} -d 0.0.0.0/0 -j ACCEPT",
    ]
    local = NetworkSettings(allow_local_network_access=True)
    assert lines(desired_rules(IP, Mode.RESTRICTED, local, GW)) == [
        f"ipv4 filter FORWARD 0 -s {IP} -d 10.147.0.1/32 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 10.0.0.0/8 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 172.16.0.0/12 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 192.168.0.0/16 -j ACCEPT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 169.254.0.0/16 -j REJECT",
        f"ipv4 filter FORWARD 50 -s {IP} -d 0.0.0.0/0 -j ACCEPT",
    ]


def test_allowlist_sorts_ips_lexically_and_ignores_the_block_flags() -> None:
    settings = NetworkSettings(block_private_networks=False, block_metadata_endpoint=False)
    ips = ["203.0.113.20", "203.0.113.10", "198.51.100.0/24"]
    assert lines(desired_rules(IP, Mode.ALLOWLIST, settings, GW, ips)) == [
        f"ipv4 filter FORWARD 0 -s {IP} -d 10.147.0.1/32 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 198.51.100.0/24 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 203.0.113.10/32 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 203.0.113.20/32 -j ACCEPT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 10.0.0.0/8 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 172.16.0.0/12 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 192.168.0.0/16 -j REJECT",
        f"ipv4 filter FORWARD 10 -s {IP} -d 169.254.0.0/16 -j REJECT",
        f"ipv4 filter FORWARD 99 -s {IP} -d 0.0.0.0/0 -j REJECT",
    ]


def test_allowlist_with_local_access_skips_every_private_reject() -> None:
    local = NetworkSettings(allow_local_network_access=True)
    rules = lines(desired_rules(IP, Mode.ALLOWLIST, local, None, ["203.0.113.10"]))
    assert rules == [
        f"ipv4 filter FORWARD 1 -s {IP} -d 10.0.0.0/8 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 172.16.0.0/12 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 192.168.0.0/16 -j ACCEPT",
        f"ipv4 filter FORWARD 1 -s {IP} -d 203.0.113.10/32 -j ACCEPT",
        f"ipv4 filter FORWARD 99 -s {IP} -d 0.0.0.0/0 -j REJECT",
    ]


def test_open_is_one_accept_without_destination() -> None:
    assert lines(desired_rules(IP, Mode.OPEN, NetworkSettings(), GW)) == [
        f"ipv4 filter FORWARD 0 -s {IP} -j ACCEPT",
    ]


def test_each_mode_is_recognised_from_its_own_rules() -> None:
    for mode in Mode:
        rules = desired_rules(IP, mode, NetworkSettings(), GW, ["203.0.113.10"])
        assert infer_mode(rules) is mode
    assert infer_mode([BASE_RULE]) is None


def test_ownership_is_exact_never_a_substring() -> None:
    five = desired_rules("10.147.0.5", Mode.OPEN, NetworkSettings(), None)[0]
    fifty = desired_rules("10.147.0.50", Mode.OPEN, NetworkSettings(), None)[0]
    assert owned_by(five, "10.147.0.5") and not owned_by(five, "10.147.0.50")
    assert owned_by(fifty, "10.147.0.50") and not owned_by(fifty, "10.147.0.5")
    slash32 = DirectRule("ipv4", "filter", "FORWARD", 0, ("-s", "10.147.0.5/32", "-j", "ACCEPT"))
    assert owned_by(slash32, "10.147.0.5")
    assert not owned_by(BASE_RULE, "10.147.0.5")
