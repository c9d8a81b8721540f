"""COI 0.13's edge cases against the real lab (docs/coi-nft-era.md §13), on coi-lab-3 only:
a LAN host takes allowed_ports as its scope (nft shows COI's line; port 80 and ping are
blocked); COI's own rules for that config, and an older COI release's allowlist text, are
shown `ok` and left alone; a narrowed allowlist config leaves exactly the new set elements, in
one transaction, and traffic follows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.eras.nft.cli import NftCli
from coi_tui.eras.nft.policy import owned_sets
from coi_tui.models import MODE_CONFIG_KEY
from tests import lab_support as lab
from tests.nft_era.test_nft_era import coi_tui, nft

pytestmark = pytest.mark.lab

NAME = lab.CONTAINERS[2]  # coi-lab-3: the other lab tests use coi-lab-1 and coi-lab-2


@pytest.fixture(autouse=True)
def coi_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of its own: the COI config each test writes, the IP cache, the audit log."""
    home = tmp_path_factory.mktemp("home")
    (home / ".coi").mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


def configure(home: Path, text: str) -> None:
    (home / ".coi" / "config.toml").write_text(text)


def lines_of(ip: str) -> list[str]:
    """What nft prints for the container's forward rules, in chain order."""
    tag = f'comment "coi-{ip}"'
    return [line.strip() for line in nft("list", "chain", "ip", "coi", "forward").splitlines()
            if line.strip().endswith(tag)]


def elements(ip: str) -> dict[str, set[str]]:
    """The container's allowlist sets by kind (s, d, sp, dp), as the kernel holds them."""
    return {s.name.split("_")[1]: set(s.elements) for s in owned_sets(NftCli().state().ip, ip)}


def clean() -> None:
    coi_tui("remove", NAME)
    lab.run("incus", "config", "unset", NAME, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def third() -> Iterator[tuple[str, str]]:
    """coi-lab-3 with nothing of COI's on it: (IPv4, host veth)."""
    clean()
    c = next(c for c in IncusBackend().list_containers() if c.name == NAME)
    assert c.ipv4 and c.veth
    try:
        yield c.ipv4, c.veth
    finally:
        clean()


def pings(ip: str) -> bool:
    assert lab.is_lab_address(ip)
    rc, _ = lab.exec_in(NAME, ["ping", "-c", "1", "-W", "1", ip])
    return rc == 0


def status() -> dict[str, object]:
    shown = json.loads(coi_tui("status", "--json").stdout)["containers"]
    found: dict[str, object] = next(c for c in shown if c["name"] == NAME)
    return found


def plan(*args: str) -> dict[str, object]:
    result = coi_tui("apply", NAME, *args, "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    planned: dict[str, object] = json.loads(result.stdout)
    return planned


LAN_CONFIG = f"""[network]
allowed_ports = [443]

[[network.hosts]]
ip = "{lab.LAN_HOST}"
hostnames = ["lan"]
"""


def test_a_lan_host_without_ports_takes_allowed_ports_and_port_80_is_blocked(
    third: tuple[str, str], coi_home: Path,
) -> None:
    ip, _veth = third
    configure(coi_home, LAN_CONFIG)
    result = coi_tui("apply", NAME, "--mode", "restricted")
    assert result.returncode == 0, result.stderr
    shown = lines_of(ip)
    # COI's insert, first in the chain, as nft lists it ({ 443 } prints as 443)
    assert shown[0] == (f"ip saddr {ip} ip daddr {lab.LAN_HOST} meta l4proto {{ tcp, udp }} "
                        f'th dport 443 accept comment "coi-{ip}"')
    assert f'ip saddr {ip} ip daddr {lab.LAN_HOST} accept comment "coi-{ip}"' not in shown
    assert not lab.http_get(NAME, lab.LAN_HOST)  # the LAN host serves port 80: blocked
    assert not pings(lab.LAN_HOST)
    assert status()["isolation"] == "ok"
    # the probes do reach the LAN host when nothing blocks them
    assert coi_tui("apply", NAME, "--mode", "open").returncode == 0
    assert lab.http_get(NAME, lab.LAN_HOST) and pings(lab.LAN_HOST)


def test_coi_s_own_rules_for_that_config_are_ok_and_left_alone(
    third: tuple[str, str], coi_home: Path,
) -> None:
    ip, veth = third
    configure(coi_home, LAN_CONFIG)
    p = f"add rule ip coi forward ip saddr {ip}"
    c = f'comment "coi-{ip}"'
    # exactly what COI runs (nft_filter.go ApplyRestricted, user_hosts.go ApplyUserHosts):
    # the IPv6 drop, the IPv4 batch, then the [[network.hosts]] insert
    coi = [
        f'add rule ip6 coi forward iifname {veth} drop comment "coi6-{NAME}"',
        f"{p} ip daddr {lab.GATEWAY}/32 accept {c}",
        f"{p} ip daddr 10.0.0.0/8 reject {c}",
        f"{p} ip daddr 172.16.0.0/12 reject {c}",
        f"{p} ip daddr 192.168.0.0/16 reject {c}",
        f"{p} ip daddr 169.254.0.0/16 reject {c}",
        f"{p} meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {c}",
        f"{p} icmp type echo-request limit rate 10/second accept {c}",
        f"{p} reject {c}",
        f"insert rule ip coi forward ip saddr {ip} ip daddr {lab.LAN_HOST}/32 "
        f"meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {c}",
    ]
    nft("-f", "-", stdin="\n".join(coi) + "\n")
    before = lines_of(ip)
    shown = status()
    assert (shown["mode"], shown["mode_source"], shown["isolation"]) == (
        "restricted", "inferred", "ok"), shown
    assert plan("--mode", "restricted")["steps"] == []  # nothing to rewrite
    assert lines_of(ip) == before


def test_an_older_coi_s_allowlist_text_is_ok_and_left_alone(
    third: tuple[str, str], coi_home: Path,
) -> None:
    """COI 0.9-0.10 allowed each address with its own pair of rules (no sets): it is COI's
    allowlist, in force, and a re-apply leaves it."""
    ip, veth = third
    configure(coi_home, f'[network]\nallowed_domains = ["{lab.INTERNET_HOST}"]\n')
    assert coi_tui("apply", NAME, "--mode", "allowlist").returncode == 0  # pins the IP cache
    assert coi_tui("remove", NAME).returncode == 0
    p = f"add rule ip coi forward ip saddr {ip}"
    c = f'comment "coi-{ip}"'
    host = f"{lab.INTERNET_HOST}/32"
    old = [  # mensfeld/code-on-incus nft_filter.go ApplyAllowlist, 0.9-0.10
        f'add rule ip6 coi forward iifname {veth} drop comment "coi6-{NAME}"',
        f"{p} ip daddr {lab.GATEWAY}/32 accept {c}",
        f"{p} ip daddr {host} meta l4proto {{ tcp, udp }} accept {c}",
        f"{p} ip daddr {host} icmp type echo-request limit rate 10/second accept {c}",
        *(f"{p} ip daddr {net} reject {c}" for net in (
            "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")),
        f"{p} reject {c}",
    ]
    nft("-f", "-", stdin="\n".join(old) + "\n")
    before = lines_of(ip)
    shown = status()
    assert (shown["mode"], shown["isolation"]) == ("allowlist", "ok"), shown
    assert "not checked" not in str(shown["reason"])  # judged against COI's text, not skipped
    assert plan("--mode", "allowlist")["steps"] == []
    assert lines_of(ip) == before and elements(ip) == {}
    assert lab.http_get(NAME, lab.INTERNET_HOST) and not lab.http_get(NAME, lab.INTERNET_HOST_2)


def test_a_narrowed_allowlist_config_leaves_exactly_the_new_elements(
    third: tuple[str, str], coi_home: Path,
) -> None:
    ip, _veth = third
    wide, narrow = lab.INTERNET_HOST, lab.INTERNET_HOST_2
    configure(coi_home, f'[network]\nallowed_domains = ["{wide}", "{narrow}/32"]\n')
    assert coi_tui("apply", NAME, "--mode", "allowlist").returncode == 0
    assert lab.http_get(NAME, wide) and lab.http_get(NAME, narrow)
    rules_before = lines_of(ip)
    configure(coi_home, f'[network]\nallowed_domains = ["{wide}"]\nallowed_ports = [443]\n')
    planned = plan("--mode", "allowlist")
    steps = planned["steps"]
    assert isinstance(steps, list) and len(steps) == 1  # ONE nft -f - transaction
    texts = [line["text"] for line in steps[0]["lines"]]
    assert all(" element ip coi " in t for t in texts), texts  # no rule is touched
    result = coi_tui("apply", NAME, "--mode", "allowlist")
    assert result.returncode == 0, result.stderr
    assert elements(ip) == {"s": {wide}, "sp": {f"{wide} . 443"}, "d": set(), "dp": set()}
    assert lines_of(ip) == rules_before
    assert not lab.http_get(NAME, wide)  # :80 is no longer allowed
    assert not lab.http_get(NAME, narrow)
    assert pings(wide) and not pings(narrow)  # the address itself stays (coi_s_)
    assert status()["isolation"] == "ok"
    assert plan("--mode", "allowlist")["steps"] == []
