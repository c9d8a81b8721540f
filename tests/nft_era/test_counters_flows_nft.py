"""Counters and flows in COI's nft era (`scripts/lab up --era nft`): COI's rules carry no
counters, so `rules --json` says none (null, no warning) and the Rules view shows "-";
tracked flows are the same as in the firewalld era."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.models import MODE_CONFIG_KEY, NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.integration.test_traffic_counters_flows import (
    NAME,
    established_to_internet,
    flows_json,
    held_connection,
)
from tests.waiting import wait_until

pytestmark = pytest.mark.lab


def coi_tui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def restricted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("HOME", str(tmp_path))  # the IP cache and audit log: not ~/.coi
    result = coi_tui("apply", NAME, "--mode", "restricted")
    assert result.returncode == 0, result.stderr
    try:
        yield NAME
    finally:
        coi_tui("remove", NAME)
        lab.run("incus", "config", "unset", NAME, MODE_CONFIG_KEY, check=False)


def test_cois_nft_rules_have_no_counters_and_that_is_no_error(restricted: str) -> None:
    for _ in range(3):
        lab.exec_in(NAME, ["hget", "-T", "1", f"http://{lab.LAN_HOST}/"])
    result = coi_tui("rules", NAME, "--json")
    assert result.returncode == 0, result.stderr
    assert "counters" not in result.stderr
    rules = json.loads(result.stdout)["rules"]
    assert rules and all(r["owner"] == NAME for r in rules)
    assert all(r["packets"] is None and r["bytes"] is None for r in rules)


def test_a_held_connection_shows_as_established_in_the_nft_era_too() -> None:
    with held_connection():
        report = flows_json(NAME)
        for _ in range(30):
            if established_to_internet(report):
                break
            report = flows_json(NAME)
        assert established_to_internet(report), report


async def test_the_rules_view_shows_a_dash_for_hits(restricted: str) -> None:
    app = CoiApp(real_wiring(Scope(), NetworkSettings()), poll_interval=1.0)
    async with app.run_test(size=(160, 48)) as pilot:
        await wait_until(lambda: app.containers_view.rows_list.counts[1] >= 3, timeout=15)
        await pilot.press("2")
        rules = app.rules_view.rows_list
        await wait_until(lambda: rules.counts[1] > 0, timeout=10)
        await pilot.pause(2.5)  # a counter read had its chance
        assert "hits" in rules.shown_columns()
        assert {rules.cell(k, "hits") for k in rules.shown_keys()} == {"-"}
