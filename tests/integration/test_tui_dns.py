"""The DNS allowlist, live in the TUI and in `coi-tui watch`, against the lab's DNS server."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.models import Isolation, NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.integration.test_isolation_kept import Watch, clean
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

DOMAINS = ("api.lab.test", "cdn.lab.test")


def as_user_home(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HOME": str(home)})


@pytest.fixture
def allowlisted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """coi-lab-2 in allowlist mode for the lab domains; COI's files in a home of the test's."""
    lab.require_lab()
    monkeypatch.setenv("HOME", str(tmp_path))
    name = lab.CONTAINERS[1]
    clean(name)
    allow = [a for d in DOMAINS for a in ("--allow", d)]
    result = as_user_home(tmp_path, "apply", name, "--mode", "allowlist", *allow)
    assert result.returncode == 0, result.stderr
    try:
        yield name
    finally:
        clean(name)


async def test_the_dns_view_counts_down_refreshes_on_r_and_allowlists_are_judged(
    allowlisted: str, tmp_path: Path,
) -> None:
    cache = tmp_path / ".coi" / "network-cache" / f"{allowlisted}.json"
    assert cache.exists(), "an allowlist apply pins its IPs in COI's cache, as COI does"
    settings = NetworkSettings(allowed_domains=DOMAINS)
    app = CoiApp(real_wiring(Scope(), settings), poll_interval=1.0)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("4")
        view = app.dns_view
        await wait_until(lambda: len(view.state.records) == 2, timeout=10)
        table = view.query_one("#dns-table")
        first = [str(c) for c in table.get_row("api.lab.test")]  # type: ignore[attr-defined]
        await wait_until(lambda: [str(c) for c in table.get_row(  # type: ignore[attr-defined]
            "api.lab.test")] != first, timeout=3, what="the TTL counts down")
        assert {r.domain: r.ips for r in view.state.records} == {
            "api.lab.test": ("203.0.113.10",), "cdn.lab.test": ("203.0.113.20",)}
        assert view.state.interval == 60  # cdn's TTL 60 is the shortest
        before = view.state.last_refresh
        await pilot.press("R")
        await wait_until(lambda: view.state.last_refresh is not before, timeout=5)
        key = f"default/{allowlisted}"
        rows = app.containers_view.table
        await wait_until(lambda: key in rows.rows and str(rows.get_cell(key, "refresh")) != "",
                         timeout=5, what="the Containers view shows the next refresh")
        state = next(s for s in app.inventory.containers if s.container.key == key)
        assert state.expected_rules is not None and state.isolation is Isolation.OK


def test_watch_runs_the_refresher_one_line_per_refresh(allowlisted: str, tmp_path: Path) -> None:
    config = tmp_path / ".coi" / "config.toml"
    config.write_text('[network]\nallowed_domains = ["api.lab.test", "cdn.lab.test"]\n')
    watch = Watch(tmp_path)
    try:
        deadline = time.monotonic() + 10
        while "dns: " not in watch.text() and time.monotonic() < deadline:
            time.sleep(0.1)
        line = next(x for x in watch.text().splitlines() if "dns: " in x)
        assert "2 domains" in line and "no change" in line
    finally:
        assert watch.stop() == 0
