"""The transaction builder on real JSON: what each script touches, and only that."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from coi_tui.eras.nft.json_model import parse_table
from coi_tui.eras.nft.model import NftSettings, NftState
from coi_tui.eras.nft.policy import desired_policy
from coi_tui.eras.nft.transaction import (
    apply_script,
    owned_objects,
    prune_script,
    refresh_script,
    remove_script,
)
from coi_tui.errors import BadInput
from coi_tui.models import Mode

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nft"
GW = "10.147.0.1"
FORBIDDEN = re.compile(r"^(flush|delete (table|chain))\b|coi-base", re.MULTILINE)


def state() -> NftState:
    return NftState(
        ip=parse_table((FIXTURES / "list_table_ip_coi.json").read_text(), "ip", "coi"),
        ip6=parse_table((FIXTURES / "list_chain_ip6_coi_forward.json").read_text(), "ip6",
                        "coi"),
        monitor=parse_table((FIXTURES / "list_chain_ip_filter_forward.json").read_text(), "ip",
                            "filter"),
    )


def handles(lines: tuple[str, ...], prefix: str) -> list[int]:
    return [int(line.split(" handle ", 1)[1].split()[0]) for line in lines
            if line.startswith(prefix)]


def test_remove_deletes_exactly_the_container_s_own_rules_by_handle() -> None:
    script = remove_script(state(), "10.147.0.5", "coi-lab-1")
    assert all(line.startswith("delete rule ") for line in script.lines)
    assert handles(script.lines, "delete rule ip coi forward handle") == [
        32, 9, 11, 13, 14, 15, 18, 20, 21, 22, 23]  # not base 3, not lab-3's boot block 4
    assert handles(script.lines, "delete rule ip6 coi forward handle") == [2]
    assert handles(script.lines, "delete rule ip filter FORWARD handle") == [7, 6, 5, 3]
    assert not FORBIDDEN.search(script.text)
    # 10.147.0.50's rules, input rule and sets are untouched
    assert 34 not in handles(script.lines, "delete rule") and "coi_s_" not in script.text


def test_remove_of_50_takes_its_sets_after_its_rules_and_its_own_boot_block() -> None:
    script = remove_script(state(), "10.147.0.50", "coi-lab-3")
    lines = script.lines
    assert handles(lines, "delete rule ip coi forward handle") == [25, 27, 29, 30, 4]
    assert handles(lines, "delete rule ip coi input handle") == [34]
    sets = [i for i, line in enumerate(lines) if line.startswith("delete set")]
    assert [lines[i] for i in sets] == [f"delete set ip coi coi_{k}_10_147_0_50"
                                        for k in ("s", "d", "sp", "dp")]
    assert min(sets) > max(i for i, line in enumerate(lines) if line.startswith("delete rule"))
    assert not FORBIDDEN.search(script.text)


def test_remove_of_an_unknown_container_is_empty() -> None:
    assert remove_script(state(), "10.147.0.6", "nobody").empty


def test_refresh_only_adds_missing_elements() -> None:
    ip = "10.147.0.50"
    script = refresh_script(state(), ip, {
        "coi_d_10_147_0_50": ["203.0.113.10", "203.0.113.12"],
        "coi_dp_10_147_0_50": ["203.0.113.10 . 1-65535", "203.0.113.12 . 1-65535"],
        # covered by the auto-merged range 203.0.114.1-203.0.114.2: nothing to add
        "coi_s_10_147_0_50": ["203.0.114.2/32"],
    }, table="coi")
    assert script.lines == (
        "add element ip coi coi_d_10_147_0_50 { 203.0.113.12 }",
        "add element ip coi coi_dp_10_147_0_50 { 203.0.113.12 . 1-65535 }",
    )


def test_refresh_never_removes_an_element_dns_no_longer_gives() -> None:
    """COI's contract (docs/coi-nft-era.md §4.3, §11 item 9): resolved elements are
    permanent, since the container's /etc/hosts (or a process that read it) may still name an
    old address."""
    ip = "10.147.0.50"
    # live: coi_d_ {.10, .11}; DNS now gives only .12
    script = refresh_script(state(), ip, {
        "coi_d_10_147_0_50": ["203.0.113.12"],
        "coi_dp_10_147_0_50": ["203.0.113.12 . 1-65535"],
    })
    assert script.lines == (
        "add element ip coi coi_d_10_147_0_50 { 203.0.113.12 }",
        "add element ip coi coi_dp_10_147_0_50 { 203.0.113.12 . 1-65535 }",
    )
    assert not any(line.startswith("delete") for line in script.lines)
    with pytest.raises(TypeError):
        refresh_script(state(), ip, {}, remove_stale=True)  # type: ignore[call-arg]


def test_prune_takes_out_exactly_the_old_answers_and_their_tuples() -> None:
    ip = "10.147.0.50"
    script = prune_script(state(), ip, ["203.0.113.11"])
    assert script.lines == (
        "delete element ip coi coi_d_10_147_0_50 { 203.0.113.11 }",
        "delete element ip coi coi_dp_10_147_0_50 { 203.0.113.11 . 443 }",
    )
    assert prune_script(state(), ip, ["198.51.100.99"]).empty  # not pinned: nothing to do
    with pytest.raises(BadInput, match="not an allowlist container"):
        prune_script(state(), "10.147.0.5", ["203.0.113.11"])


def test_refresh_refuses_sets_that_are_not_the_container_s() -> None:
    with pytest.raises(BadInput, match="does not belong"):
        refresh_script(state(), "10.147.0.5", {"coi_d_10_147_0_50": ["203.0.113.1"]})
    with pytest.raises(BadInput, match="apply allowlist mode first"):
        refresh_script(state(), "10.147.0.5", {"coi_d_10_147_0_5": ["203.0.113.1"]})


def test_apply_on_an_empty_host_creates_what_coi_creates() -> None:
    desired = desired_policy("10.147.0.7", "coi-lab-7", Mode.ALLOWLIST,
                             NftSettings(allowed_domains=("203.0.113.0/24",)), GW, "veth7")
    lines = apply_script(NftState(), desired).lines
    assert lines[:6] == (
        "add table ip coi",
        "add chain ip coi forward { type filter hook forward priority 10 ; policy accept ; }",
        "add chain ip coi input { type filter hook input priority filter ; policy accept ; }",
        'add rule ip coi forward ct state established,related accept comment "coi-base"',
        "add table ip6 coi",
        "add chain ip6 coi forward { type filter hook forward priority 10 ; policy accept ; }",
    )
    first_rule = next(i for i, line in enumerate(lines) if "@coi_" in line)
    assert all(i < first_rule for i, line in enumerate(lines) if line.startswith("add set"))


def test_switch_allowlist_to_restricted_replaces_rules_then_drops_the_sets() -> None:
    desired = desired_policy("10.147.0.50", "coi-lab-3", Mode.RESTRICTED, NftSettings(), GW,
                             "veth50")
    lines = apply_script(state(), desired).lines
    deletes = [line for line in lines if line.startswith("delete")]
    assert handles(tuple(deletes), "delete rule ip coi forward handle") == [25, 27, 29, 30, 4]
    assert handles(tuple(deletes), "delete rule ip coi input handle") == [34]
    assert deletes[-4:] == [f"delete set ip coi coi_{k}_10_147_0_50"
                            for k in ("s", "d", "sp", "dp")]
    assert not FORBIDDEN.search("\n".join(deletes))
    adds = [line for line in lines if line.startswith("add rule")]
    assert [line.split(" ", 5)[5] for line in adds] == [r.body for r in (
        *desired.forward, *desired.ip6)]
    # the chains exist and coi-base is there: nothing is re-created
    assert not any(line.startswith(("add table", "add chain")) for line in lines)


def test_owned_objects_split_by_kind() -> None:
    owned = owned_objects(state(), "10.147.0.50", "coi-lab-3")
    assert [r.handle for r in owned.boot] == [4]
    assert owned.ip6 == () and owned.monitor == ()
    assert len(owned.forward) == 4 and len(owned.sets) == 4
