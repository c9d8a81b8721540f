"""The nft era on the lab, coi-lab-2 only: a domain that fails keeps the address COI's IP cache
holds for it (in the set, in traffic, marked stale in --dry-run and apply); nothing resolved
and nothing cached is COI's error; a container that got a dead container's address carries its
`coi-<ip>` rules and is reported as inheriting them; firewalld not running is said in one
line. Every test removes what it made, whatever happens; HOME is a tmp dir."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from coi_tui.eras.nft.model import NftSettings
from coi_tui.eras.nft.policy import coi_commands, desired_policy
from coi_tui.models import MODE_CONFIG_KEY, Mode
from coi_tui.services.dns.cache import IpCache, cache_path, format_cache, load_cache
from tests import lab_support as lab
from tests.nft_era.test_nft_era import coi_tui, nft

pytestmark = pytest.mark.lab

NAME = lab.CONTAINERS[1]  # coi-lab-2: this module's container
FRESH = "stale-fresh.lab.test"  # answers 203.0.113.10
GONE = "stale-gone.lab.test"  # in no zone of the lab DNS: fails
CACHED = lab.INTERNET_HOST_2  # 203.0.113.20, only in COI's cache
DEAD_NAME = "coi-gone-heir"  # the deleted container that had coi-lab-2's address
NOT_RUNNING = "firewalld: not running, its leftovers not checked"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_text(
        f'[network]\nallowed_domains = ["{FRESH}", "{GONE}"]\n')
    monkeypatch.setenv("HOME", str(home))
    return home


def set_elements(name: str) -> list[str]:
    data = json.loads(nft("-j", "list", "set", "ip", "coi", name))
    (item,) = [i["set"] for i in data["nftables"] if "set" in i]
    return sorted(str(e) for e in item.get("elem", []))


def bare(name: str) -> None:
    """No rules, no mode recorded: as the lab made it."""
    coi_tui("remove", name)
    lab.run("incus", "config", "unset", name, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def box() -> Iterator[str]:
    bare(NAME)
    try:
        yield lab.container_ip(NAME)
    finally:
        bare(NAME)


def write_cache(home: Path, domains: dict[str, list[str]], age: timedelta) -> Path:
    path = cache_path(NAME, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    when = datetime.now(UTC) - age
    path.write_text(format_cache(IpCache({d: tuple(v) for d, v in domains.items()},
                                         {d: 300 for d in domains}, when)))
    return path


def test_a_failed_domain_keeps_cois_cached_address_in_the_set_marked_stale(
        home: Path, box: str) -> None:
    ip = box
    lab.dns_del(GONE)
    lab.dns_set(FRESH, [lab.INTERNET_HOST], 60)
    try:
        cache = write_cache(home, {FRESH: [lab.INTERNET_HOST], GONE: [CACHED]},
                            timedelta(minutes=10, seconds=5))
        note = f"stale: {GONE} from COI's IP cache (10 min old)"
        dry = coi_tui("apply", NAME, "--mode", "allowlist", "--dry-run")
        assert dry.returncode == 0, dry.stderr
        assert f"  {note}" in dry.stdout.splitlines()
        preview = json.loads(coi_tui("apply", NAME, "--mode", "allowlist", "--dry-run",
                                     "--json").stdout)
        (stale,) = preview["stale"]
        assert (stale["container"], stale["domain"], stale["ips"]) == (NAME, GONE, [CACHED])
        assert "NXDOMAIN" in stale["error"] or "does not exist" in stale["error"]

        applied = coi_tui("apply", NAME, "--mode", "allowlist")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        assert note in applied.stdout
        resolved = set_elements(f"coi_d_{ip.replace('.', '_')}")
        print(f"nft era: coi_d_ of {NAME} after apply with {GONE} failing: {resolved}")
        assert resolved == sorted([lab.INTERNET_HOST, CACHED])
        assert lab.http_get(NAME, CACHED)  # the stale address is allowed for real
        assert not lab.http_get(NAME, lab.LAN_HOST)
        # COI's cache is rewritten as COI does (the failed domain keeps its cached IPs)
        assert load_cache(cache).domains == {FRESH: (lab.INTERNET_HOST,), GONE: (CACHED,)}
    finally:
        lab.dns_del(FRESH)


def test_nothing_resolved_and_nothing_cached_is_cois_error(home: Path, box: str) -> None:
    lab.dns_del(GONE)
    (home / ".coi" / "config.toml").write_text(f'[network]\nallowed_domains = ["{GONE}"]\n')
    result = coi_tui("apply", NAME, "--mode", "allowlist")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "failed to resolve any allowed domains" in result.stderr
    assert f'comment "coi-{box}"' not in nft("list", "chain", "ip", "coi", "forward")


def orphans() -> dict[str, Any]:
    result = coi_tui("orphans", "--json")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def handles(comment: str, family: str = "ip") -> list[int]:
    data = json.loads(nft("-j", "-a", "list", "chain", family, "coi", "forward"))
    return [i["rule"]["handle"] for i in data["nftables"]
            if "rule" in i and i["rule"].get("comment") == comment]


def test_a_container_at_a_dead_containers_address_is_reported_as_inheriting_its_rules(
        home: Path, box: str) -> None:
    ip = box
    veth = "vethgoneheir"
    policy = desired_policy(ip, DEAD_NAME, Mode.RESTRICTED, NftSettings(), lab.GATEWAY, veth)
    nft("-f", "-", stdin="\n".join(coi_commands(policy)) + "\n")  # COI's text, COI's order
    try:
        found = orphans()
        (heir,) = [o for o in found["inherited"] if NAME in o["id"]]
        assert heir["id"] == f"default/{NAME}"
        assert heir["detail"].startswith(f"{NAME} ({ip}): ")
        assert heir["detail"].endswith("look like restricted")
        assert "no mode was ever recorded" in heir["reason"]
        assert not [o for o in found["orphans"] if ip in o["id"] or NAME in o["id"]]
        # the dead container's name-keyed IPv6 drop is an orphan proper
        assert {"kind": "nft-ip6", "id": DEAD_NAME} in [
            {"kind": o["kind"], "id": o["id"]} for o in found["orphans"]]
        assert found["not_checked"] == [NOT_RUNNING] and "firewalld" not in found["errors"]
        text = coi_tui("orphans")
        assert text.returncode == 0 and f"  {NOT_RUNNING}" in text.stdout.splitlines()
        assert "Inherited rules (live container) (" in text.stdout

        # a mode recorded for it: no longer inherited (its rules are now drift, not a gift)
        lab.incus("config", "set", NAME, MODE_CONFIG_KEY, "open")
        assert not [o for o in orphans()["inherited"] if NAME in o["id"]]
    finally:
        for handle in handles(f"coi6-{DEAD_NAME}", "ip6"):
            nft("delete", "rule", "ip6", "coi", "forward", "handle", str(handle))
        bare(NAME)  # its coi-<ip> rules go with coi-tui's removal
    assert handles(f"coi-{ip}") == [] and handles(f"coi6-{DEAD_NAME}", "ip6") == []
