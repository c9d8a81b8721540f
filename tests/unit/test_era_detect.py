"""Which COI era a host is in: the one that holds COI's rules; flagged when both do."""

from __future__ import annotations

import pytest

from coi_tui.eras.detect import Probe, choose_era
from coi_tui.errors import BadInput


def probe(*, running: bool = True, installed: bool = True, fw: int | None = 0,
          table: bool | None = False, nft: int | None = 0) -> Probe:
    return Probe(running, installed, fw, table, nft)


def test_the_era_holding_coi_rules_wins() -> None:
    assert choose_era(probe(fw=6)).era == "firewalld"
    assert choose_era(probe(running=False, table=True, nft=11)).era == "nft"


def test_both_holding_rules_is_flagged_and_shows_the_nft_era() -> None:
    choice = choose_era(probe(fw=6, table=True, nft=11))
    assert choice.both and choice.era == "nft" and "BOTH" in choice.reason


def test_without_rules_the_table_or_firewalld_decides() -> None:
    assert choose_era(probe(table=True)).era == "nft"
    assert choose_era(probe()).era == "firewalld"
    # firewalld stopped on a firewalld-era host: still that era (its rules are just flushed)
    assert choose_era(probe(running=False)).era == "firewalld"
    assert choose_era(probe(running=False, installed=False, fw=None, nft=None)).era == "nft"


def test_an_explicit_era_wins_and_a_bogus_one_is_refused() -> None:
    assert choose_era(probe(fw=6), "nft").era == "nft"
    with pytest.raises(BadInput, match="unknown era 'iptables'"):
        choose_era(probe(), "iptables")
