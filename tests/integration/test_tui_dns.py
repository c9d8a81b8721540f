"""The DNS allowlist, live in the TUI and in `coi-tui watch`, against the lab's DNS server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.models import Isolation, Mode, NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.integration.test_isolation_kept import Watch, clean
from tests.traffic import build_prober, counting, probing
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


async def test_the_dns_view_fits_80x24_on_the_lab(allowlisted: str) -> None:
    """What a person reads in a small terminal: one schedule row, whole status words, one
    line of pins for the allowlist container, no prose."""
    app = CoiApp(real_wiring(Scope(), NetworkSettings(allowed_domains=DOMAINS)),
                 poll_interval=1.0)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("4")
        view = app.dns_view
        await wait_until(lambda: len(view.state.records) == 2 and bool(view.state.containers),
                         timeout=10)
        await pilot.pause()
        schedule = view.query_one("#dns-schedule")
        assert schedule.region.height == 1
        assert str(schedule.render()).startswith("next refresh in ")
        assert " ok: 2 domains: 2 fresh" in str(schedule.render())
        lines = "\n".join(s.text for s in app.screen._compositor.render_strips()).splitlines()
        for domain in DOMAINS:
            assert any(domain in line and " fresh" in line for line in lines), domain
        pins = view.query_one("#dns-pins")
        assert pins.region.height == 1
        assert str(pins.render()).startswith(f"{allowlisted}: pinned 203.0.113.")
        assert view.query_one("#dns-table").region.height >= 24 - 9


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


def test_refreshes_that_move_the_allowlist_never_open_the_lan_and_coi_refresh_does(
    allowlisted_flip: tuple[str, str, Path], tmp_path: Path,
) -> None:
    """A DNS answer that keeps moving: 10 refreshes by coi-tui (one fail-closed re-apply job
    each) under the 1 kHz prober, then 10 refreshes COI's way (remove all, re-add) on the same
    container: probes that reach the LAN host are counted for each."""
    name, ip, home = allowlisted_flip
    prober = build_prober(tmp_path)
    answers = [lab.INTERNET_HOST_2, lab.INTERNET_HOST] * 5
    with probing(name, prober, lab.LAN_HOST, seconds=30):
        with counting(lab.NETNS["lan"]) as ours:
            for answer in answers:
                lab.dns_set(FLIP, [answer], 60)
                result = as_user_home(home, "dns", "--refresh")
                assert result.returncode == 0, result.stderr
                assert pinned_now(ip) == {answer}
        firewall = DBusFirewall()
        with counting(lab.NETNS["lan"]) as coi:
            for answer in answers:  # COI's refresh: every rule of the IP out, the new set in
                for rule in lab.rules_of(ip):
                    firewall.remove_rule(rule)
                for rule in desired_rules(ip, Mode.ALLOWLIST, NetworkSettings(), lab.GATEWAY,
                                          [answer]):
                    firewall.add_rule(rule)
        firewall.close()
    print(f"LAN probes during 10 allowlist refreshes: coi-tui {ours[0]}, COI's way {coi[0]}")
    assert ours == [0]
    assert coi[0] > 0


FLIP = "flip.lab.test"


def pinned_now(ip: str) -> set[str]:
    return {str(r.destination)[:-3] for r in lab.rules_of(ip)
            if r.priority == 1 and r.verdict == "ACCEPT"}


@pytest.fixture
def allowlisted_flip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                     ) -> Iterator[tuple[str, str, Path]]:
    lab.require_lab()
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_text(f'[network]\nallowed_domains = ["{FLIP}"]\n')
    monkeypatch.setenv("HOME", str(home))
    name = lab.CONTAINERS[1]
    clean(name)
    lab.dns_set(FLIP, [lab.INTERNET_HOST], 60)
    result = as_user_home(home, "apply", name, "--mode", "allowlist")
    assert result.returncode == 0, result.stderr
    try:
        yield name, lab.container_ip(name), home
    finally:
        lab.dns_del(FLIP)
        clean(name)


def test_with_the_dns_server_stopped_the_ips_stay_stale_and_come_back_fresh(
    allowlisted_flip: tuple[str, str, Path],
) -> None:
    name, ip, home = allowlisted_flip
    before = lab.rules_of(ip)

    def flip_record() -> dict[str, object]:
        result = as_user_home(home, "dns", "--refresh", "--json")
        assert result.returncode == 0, result.stderr
        data = json.loads(result.stdout)
        return next(d for d in data["domains"] if d["domain"] == FLIP)

    assert flip_record()["status"] == "fresh"
    pid = int((lab.LAB_STATE / "dns.pid").read_text())  # the lab's own server, by its PID
    os.kill(pid, signal.SIGTERM)
    try:
        stale = flip_record()
        assert stale["status"] == "stale" and stale["ips"] == [lab.INTERNET_HOST]
        assert lab.rules_of(ip) == before  # a DNS failure never shrinks the allowlist
        assert lab.http_get(name, lab.INTERNET_HOST)
    finally:
        lab.run(str(lab.LAB), "up", timeout=120)  # the lab starts its DNS server again
    assert flip_record()["status"] == "fresh"
    assert lab.rules_of(ip) == before
