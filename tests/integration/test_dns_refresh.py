"""The DNS allowlist against the lab DNS server (127.0.0.1:5353) and coi-lab-3: `coi-tui dns`
shows TTLs, floors, blocks and failures; `dns --refresh` follows a changed record with a
fail-closed re-apply and writes COI's cache; with the record gone the cached IPs stay (stale)
and the rules do not change; `dns --follow` stops cleanly on SIGTERM. HOME is a temp dir: the
real ~/.coi is never written. Only coi-lab-3 is touched, and restored afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.models import MODE_CONFIG_KEY
from coi_tui.services.dns.cache import load_cache
from tests import lab_support as lab

pytestmark = pytest.mark.lab

NAME = lab.CONTAINERS[2]  # coi-lab-3: the only container these tests change
RECORD = f"dnsrefresh-{os.getpid()}.lab.test"  # our own record: others' tests keep theirs


def coi_tui(home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COI_TUI_NAMESERVERS": "127.0.0.1:5353"}
    env.pop("COI_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


def write_config(home: Path, domains: list[str], minutes: int = 30) -> None:
    config = home / ".coi" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"[network]\nmode = \"allowlist\"\nallowed_domains = {json.dumps(domains)}\n"
                      f"refresh_interval_minutes = {minutes}\n")


rules_of = lab.rules_of


def pinned(ip: str) -> set[str]:
    return {str(r.destination)[:-3] for r in rules_of(ip)
            if r.priority == 1 and r.verdict == "ACCEPT"}


@pytest.fixture
def third(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """coi-lab-3's rules and mode key as they were, put back afterwards; our record removed."""
    lab.require_lab()
    ip = lab.container_ip(NAME)
    before = rules_of(ip)
    key = lab.run("incus", "config", "get", NAME, MODE_CONFIG_KEY).stdout.strip()
    home = tmp_path / "home"
    home.mkdir()
    try:
        yield ip, home
    finally:
        lab.dns_del(RECORD)
        # the key first: an enforcer (`coi-tui watch`) must not re-apply our test mode
        if key:
            lab.run("incus", "config", "set", NAME, MODE_CONFIG_KEY, key)
        else:
            lab.run("incus", "config", "unset", NAME, MODE_CONFIG_KEY, check=False)
        deadline = time.monotonic() + 30  # firewalld may be restarting (other lab tests)
        while lab.run("firewall-cmd", "--state", check=False).returncode != 0:
            assert time.monotonic() < deadline, "firewalld did not come back"
            time.sleep(0.5)
        firewall = DBusFirewall()
        for rule in rules_of(ip) - before:
            firewall.remove_rule(rule)
        for rule in before - rules_of(ip):
            firewall.add_rule(rule)
        firewall.close()
        assert rules_of(ip) == before


def dns_json(home: Path, *args: str) -> dict[str, Any]:
    result = coi_tui(home, "dns", *args, "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def test_dns_shows_ttls_floor_blocks_failures_and_literals(tmp_path: Path) -> None:
    lab.require_lab()
    write_config(tmp_path, ["api.lab.test", "short.lab.test", "rebind.lab.test",
                            "broken.lab.test", "198.51.100.7"])
    started = time.monotonic()
    data = dns_json(tmp_path, "no-such-container")
    took = time.monotonic() - started
    domains = {d["domain"]: d for d in data["domains"]}
    api, short = domains["api.lab.test"], domains["short.lab.test"]
    assert (api["ttl"], api["status"], api["ips"]) == (300, "fresh", [lab.INTERNET_HOST])
    assert 295 <= api["expires_in"] <= 300
    assert (short["ttl"], short["status"]) == (60, "fresh")  # TTL 2 on the wire, COI's floor
    rebind = domains["rebind.lab.test"]
    assert (rebind["status"], rebind["ips"], rebind["blocked_ips"]) == (
        "blocked", [], [lab.LAN_HOST])
    assert rebind["blocked_reasons"] == {lab.LAN_HOST: "private network (RFC 1918)"}
    assert domains["broken.lab.test"]["status"] == "failed"
    assert domains["198.51.100.7"] == {
        "domain": "198.51.100.7", "ips": ["198.51.100.7"], "ttl": 0, "expires_in": None,
        "status": "literal", "blocked_ips": [], "blocked_reasons": {}, "error": None}
    assert data["interval"] == 60 and 55 <= data["next_refresh_in"] <= 60
    assert data["containers"] == []
    assert not (tmp_path / ".coi" / "network-cache").exists()  # showing writes nothing
    print(f"dns --json with 5 entries: {took:.2f}s")


def test_refresh_follows_a_changed_record_and_keeps_cached_ips_when_dns_fails(
    third: tuple[str, Path],
) -> None:
    ip, home = third
    lab.dns_set(RECORD, [lab.INTERNET_HOST], 60)
    write_config(home, [RECORD, "rebind.lab.test"])
    result = coi_tui(home, "apply", NAME, "--mode", "allowlist")
    assert result.returncode == 0, result.stderr
    assert pinned(ip) == {lab.INTERNET_HOST}

    # unchanged: no job, COI's cache written
    data = dns_json(home, NAME, "--refresh")
    assert data["last_refresh"]["changed"] == [] and data["last_refresh"]["ok"]
    cache_file = home / ".coi" / "network-cache" / f"{NAME}.json"
    cache = load_cache(cache_file)
    assert cache.domains == {RECORD: (lab.INTERNET_HOST,)} and cache.ttls == {RECORD: 60}
    raw = json.loads(cache_file.read_text())
    assert list(raw) == ["domains", "ttls", "last_update"]
    assert cache_file.read_text().startswith('{\n  "domains": {\n    "')

    # the record moves: the rules follow, fail-closed, and only the pinned IP changes
    others = {r for r in rules_of(ip) if r.priority != 1}
    lab.dns_set(RECORD, [lab.INTERNET_HOST_2], 60)
    result = coi_tui(home, "dns", NAME, "--refresh")
    assert result.returncode == 0, result.stderr + result.stdout
    assert pinned(ip) == {lab.INTERNET_HOST_2}
    assert {r for r in rules_of(ip) if r.priority != 1} == others
    steps = [line for line in result.stdout.splitlines() if line.strip().startswith("[")]
    assert len(steps) == 2 and "- ipv4" in steps[0] and "+ ipv4" in steps[1], result.stdout
    assert load_cache(cache_file).domains == {RECORD: (lab.INTERNET_HOST_2,)}
    assert lab.http_get(NAME, lab.INTERNET_HOST_2)
    assert not lab.http_get(NAME, lab.INTERNET_HOST)
    assert not lab.http_get(NAME, lab.LAN_HOST)  # rebind.lab.test points there: blocked

    # the record disappears: stale from the cache, rules and cache untouched
    before_rules, before_cache = rules_of(ip), cache_file.read_bytes()
    lab.dns_del(RECORD)
    data = dns_json(home, NAME, "--refresh")
    (record,) = [d for d in data["domains"] if d["domain"] == RECORD]
    assert (record["status"], record["ips"]) == ("stale", [lab.INTERNET_HOST_2])
    assert data["last_refresh"]["changed"] == [] and not data["last_refresh"]["ok"]
    assert rules_of(ip) == before_rules and cache_file.read_bytes() == before_cache
    assert data["containers"][0]["pinned_ips"] == [lab.INTERNET_HOST_2]

    # back: fresh again at the next refresh
    lab.dns_set(RECORD, [lab.INTERNET_HOST_2], 60)
    data = dns_json(home, NAME, "--refresh")
    (record,) = [d for d in data["domains"] if d["domain"] == RECORD]
    assert record["status"] == "fresh" and data["last_refresh"]["ok"]


def test_a_corrupt_cache_is_reported_and_kept(third: tuple[str, Path]) -> None:
    ip, home = third
    lab.dns_set(RECORD, [lab.INTERNET_HOST], 60)
    write_config(home, [RECORD])
    assert coi_tui(home, "apply", NAME, "--mode", "allowlist").returncode == 0
    cache_file = home / ".coi" / "network-cache" / f"{NAME}.json"
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    cache_file.write_bytes(b'{"domains": ')
    data = dns_json(home, NAME, "--refresh")
    assert cache_file.read_bytes() == b'{"domains": '
    assert "not JSON" in data["containers"][0]["cache_error"]
    assert not data["last_refresh"]["ok"]
    assert pinned(ip) == {lab.INTERNET_HOST}


def test_follow_logs_a_line_per_refresh_and_stops_on_sigterm(tmp_path: Path) -> None:
    lab.require_lab()
    write_config(tmp_path, ["api.lab.test"])
    env = {**os.environ, "HOME": str(tmp_path), "COI_TUI_NAMESERVERS": "127.0.0.1:5353"}
    process = subprocess.Popen(
        [sys.executable, "-m", "coi_tui", "dns", "no-such-container", "--follow"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("DNS refresher started"), first
        line = process.stdout.readline()
        assert "DNS refresh ok: 1 domains: 1 fresh; no change; next in 5m0s" in line, line
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=10)
        took = time.monotonic() - stopped_at
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out.strip().splitlines()[-1] == "DNS refresher stopped"
    assert took < 3, took
