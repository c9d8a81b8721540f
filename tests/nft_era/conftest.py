"""The nft-era suite runs against `scripts/lab up --era nft` (no firewalld, COI's tables)."""

from __future__ import annotations

import pytest

from tests import lab_support as lab


@pytest.fixture(autouse=True)
def nft_era_lab() -> None:
    lab.require_lab()
    era = (lab.LAB_STATE / "era").read_text().strip()
    assert era == "nft", f"the lab runs the {era} era: run scripts/lab up --era nft"
