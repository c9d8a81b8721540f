"""The nft era's names (pure): a plan that installs resolved addresses rewrites the container's
/etc/hosts blocks after its one transaction; a refresh never deletes a resolved element and
the block names the new answers only; old answers are kept (not drift) and pruned only on
request; the firewalld era writes no file and keeps its own refresh."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.nft.era import NftEra, NftTransaction
from coi_tui.eras.nft.hosts_file import (
    ALLOWLIST_BEGIN,
    ALLOWLIST_END,
    HOSTS_BEGIN,
    HOSTS_END,
    HostsBlockStep,
)
from coi_tui.eras.nft.objects import NftCoiChain, NftCoiRule, NftCoiSet
from coi_tui.eras.nft.policy import BASE_RULE
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Container, HostEntry, Mode, NetworkSettings
from coi_tui.plans import Plan
from tests.unit.fakes import lab_like_container

GW = "10.147.0.1"
NAME = "www.lab.test"
OLD, NEW = "203.0.113.10", "203.0.113.20"
BOX = lab_like_container("coi-lab-3", "10.147.0.130")
SETTINGS = NetworkSettings(mode=Mode.ALLOWLIST, allowed_domains=(NAME, "198.51.100.7"))
ERA = NftEra(shell=lambda: pytest.fail("a plan is never run here"))


def live_with(answers: Sequence[str], settings: NetworkSettings = SETTINGS,
              box: Container = BOX) -> tuple[CoiRule, ...]:
    """COI's table with the container's objects as an earlier apply with these answers
    left them."""
    table = (NftCoiChain("ip", "coi", "forward", "forward"),
             NftCoiChain("ip", "coi", "input", "input"),
             NftCoiChain("ip6", "coi", "forward", "forward"),
             NftCoiRule(BASE_RULE.family, "coi", BASE_RULE.chain, BASE_RULE.canonical,
                        BASE_RULE.comment, 1, 0))
    mine = ERA.desired(box, Mode.ALLOWLIST, settings, GW, {NAME: tuple(answers)})
    return table + tuple(mine)


def script_of(plan: Plan) -> tuple[str, ...]:
    (step,) = [s for s in plan.steps if isinstance(s, NftTransaction)]
    return step.script.lines


def blocks(plan: Plan) -> list[str]:
    return [s.block.text for s in plan.steps if isinstance(s, HostsBlockStep)]


def test_setup_writes_the_allowlist_block_then_the_hosts_block_after_the_transaction() -> None:
    settings = NetworkSettings(mode=Mode.ALLOWLIST, allowed_domains=(NAME, "198.51.100.7"),
                               hosts=(HostEntry("198.51.100.9", ("mirror", "cache")),))
    plan = ERA.transition(BOX, (), Mode.ALLOWLIST, settings, GW, {NAME: (OLD,)})
    assert [type(s).__name__ for s in plan.steps] == [
        "NftTransaction", "HostsBlockStep", "HostsBlockStep"]  # firewall first, file second
    assert blocks(plan) == [
        f"{ALLOWLIST_BEGIN}\n{OLD}\t{NAME}\n{ALLOWLIST_END}",  # a literal entry is no name
        f"{HOSTS_BEGIN}\n198.51.100.9\tcache mirror\n{HOSTS_END}",
    ]
    assert all(s.container == BOX.name for s in plan.steps)


def test_a_refresh_adds_the_new_answer_deletes_nothing_and_names_the_new_answer() -> None:
    plan = ERA.transition(BOX, live_with([OLD]), Mode.ALLOWLIST, SETTINGS, GW, {NAME: (NEW,)})
    lines = script_of(plan)
    assert lines == (
        f"add element ip coi coi_d_10_147_0_130 {{ {NEW} }}",
        f"add element ip coi coi_dp_10_147_0_130 {{ {NEW} . 1-65535 }}",
    )
    assert not any(line.startswith(("delete", "flush")) for line in lines)
    # COI's refresh writes only the allowlist block, with what it just resolved
    assert blocks(plan) == [f"{ALLOWLIST_BEGIN}\n{NEW}\t{NAME}\n{ALLOWLIST_END}"]


def test_an_answer_already_pinned_needs_no_transaction_and_no_write() -> None:
    live = live_with([OLD, NEW])
    assert ERA.transition(BOX, live, Mode.ALLOWLIST, SETTINGS, GW, {NAME: (NEW,)}).empty
    assert ERA.transition(BOX, live, Mode.ALLOWLIST, SETTINGS, GW, {NAME: (OLD, NEW)}).empty


def test_literal_entries_only_write_no_allowlist_block() -> None:
    settings = NetworkSettings(mode=Mode.ALLOWLIST, allowed_domains=("203.0.113.10",))
    plan = ERA.transition(BOX, (), Mode.ALLOWLIST, settings, GW, {"203.0.113.10": (OLD,)})
    assert [type(s).__name__ for s in plan.steps] == ["NftTransaction"]


def test_restricted_and_open_write_no_file() -> None:
    for mode in (Mode.RESTRICTED, Mode.OPEN):
        plan = ERA.transition(BOX, (), mode, SETTINGS, GW, {})
        assert [type(s).__name__ for s in plan.steps] == ["NftTransaction"]


def test_merge_keeps_one_transaction_first_then_each_container_s_file() -> None:
    other = lab_like_container("coi-lab-2", "10.147.0.12")
    plans = [ERA.transition(c, (), Mode.ALLOWLIST, SETTINGS, GW, {NAME: (OLD,)})
             for c in (BOX, other)]
    merged = ERA.merge(plans, "both")
    assert [type(s).__name__ for s in merged.steps] == [
        "NftTransaction", "HostsBlockStep", "HostsBlockStep"]
    assert [s.container for s in merged.steps[1:]] == ["coi-lab-3", "coi-lab-2"]
    first = merged.steps[0]
    assert isinstance(first, NftTransaction) and len(first.parts) == 2


def test_old_answers_are_kept_and_are_not_drift() -> None:
    live = live_with([OLD, NEW])
    mine = set(ERA.desired(BOX, Mode.ALLOWLIST, SETTINGS, GW, {NAME: (OLD, NEW)}))
    expected = ERA.desired(BOX, Mode.ALLOWLIST, SETTINGS, GW, {NAME: (NEW,)})
    assert set(expected) != mine  # the cache pins NEW only; the set still holds OLD
    assert set(ERA.settle(expected, live)) == mine
    # an answer that is NOT in force stays expected: that is drift
    moved = ERA.desired(BOX, Mode.ALLOWLIST, SETTINGS, GW, {NAME: ("203.0.113.30",)})
    assert set(ERA.settle(moved, live)) != mine
    assert ERA.resolved_pins(BOX, live) == {OLD, NEW}  # coi_d_ only: not the literal
    assert ERA.pinned_ips(BOX, live) == {OLD, NEW, "198.51.100.7"}


def test_prune_takes_the_old_answer_out_of_both_sets_and_rewrites_the_block() -> None:
    live = live_with([OLD, NEW])
    plan = ERA.prune(BOX, live, [OLD], SETTINGS, {NAME: (NEW,)})
    assert script_of(plan) == (
        f"delete element ip coi coi_d_10_147_0_130 {{ {OLD} }}",
        f"delete element ip coi coi_dp_10_147_0_130 {{ {OLD} . 1-65535 }}",
    )
    assert blocks(plan) == [f"{ALLOWLIST_BEGIN}\n{NEW}\t{NAME}\n{ALLOWLIST_END}"]
    transaction = plan.steps[0]
    assert isinstance(transaction, NftTransaction)
    after = tuple(r for r in live if not isinstance(r, NftCoiSet)) + tuple(
        NftCoiSet(r.name, tuple(e for e in r.elements if not e.startswith(OLD)))
        for r in live if isinstance(r, NftCoiSet))
    assert transaction.verify(lambda: after) == ()
    assert transaction.verify(lambda: live) == (
        f"coi-lab-3: still in the sets: {OLD}, {OLD} . 1-65535",)
    with pytest.raises(BadInput, match="DNS still answers"):
        ERA.prune(BOX, live, [NEW], SETTINGS, {NAME: (NEW,)})
    assert ERA.prune(BOX, live, ["203.0.113.99"], SETTINGS, {NAME: (NEW,)}).empty


def test_the_firewalld_era_writes_no_file_and_has_nothing_to_prune() -> None:
    era = FirewalldEra()
    assert not era.writes_container_hosts and not era.keeps_old_answers
    assert ERA.writes_container_hosts and ERA.keeps_old_answers
    assert era.hosts_steps(BOX, SETTINGS, {NAME: (OLD,)}, setup=True) == ()
    plan = era.transition(BOX, (), Mode.ALLOWLIST, SETTINGS, GW, {NAME: (OLD,)})
    assert not [s for s in plan.steps if isinstance(s, HostsBlockStep)]
    with pytest.raises(BadInput, match="nothing to prune"):
        era.prune(BOX, (), [OLD], SETTINGS, {})
