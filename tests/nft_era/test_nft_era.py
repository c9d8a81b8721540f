"""COI's nftables era against the real lab (`scripts/lab up --era nft`): what coi-tui writes is
COI's own text, line by line; traffic obeys; removal is exact; switching is never open; a
container that COI itself set up is shown and removed; recovery works without firewalld."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.eras.nft.model import NftSettings
from coi_tui.eras.nft.policy import coi_commands, desired_policy
from coi_tui.models import MODE_CONFIG_KEY, Mode
from tests import lab_support as lab
from tests.traffic import build_prober, counting, probing

pytestmark = pytest.mark.lab

ALLOW = ("--allow", lab.INTERNET_HOST)


@pytest.fixture(autouse=True)
def coi_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose COI config allows the lab's internet host: every command (and the IP
    cache, the audit log) reads and writes there, never the real ~/.coi."""
    home = tmp_path_factory.mktemp("home")
    (home / ".coi").mkdir()
    (home / ".coi" / "config.toml").write_text(
        f'[network]\nallowed_domains = ["{lab.INTERNET_HOST}"]\n')
    monkeypatch.setenv("HOME", str(home))
    return home


def coi_tui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120)


def nft(*args: str, stdin: str | None = None) -> str:
    return subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True,
                          check=True, timeout=30).stdout


def lines_of(ip_or_name: str, chain: str = "forward", family: str = "ip",
             table: str = "coi") -> list[str]:
    """What nft prints for the container's rules, in chain order (comment included)."""
    tag = f'comment "coi-{ip_or_name}"' if family == "ip" else f'comment "coi6-{ip_or_name}"'
    text = nft("list", "chain", family, table, chain)
    return [line.strip() for line in text.splitlines() if line.strip().endswith(tag)]


def sets_of(ip: str, table: str = "coi") -> dict[str, list[str]]:
    data = json.loads(nft("-j", "list", "table", "ip", table))
    out: dict[str, list[str]] = {}
    for item in data["nftables"]:
        s = item.get("set")
        if s and s["name"].endswith(ip.replace(".", "_")):
            out[s["name"]] = sorted(json.dumps(e, sort_keys=True) for e in s.get("elem", []))
    return out


def container(name: str) -> tuple[str, str, str]:
    """name, IPv4, host veth"""
    c = next(c for c in IncusBackend().list_containers() if c.name == name)
    assert c.ipv4 and c.veth
    return name, c.ipv4, c.veth


def clean(name: str) -> None:
    coi_tui("remove", name)
    lab.run("incus", "config", "unset", name, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def first() -> Iterator[tuple[str, str, str]]:
    name = lab.CONTAINERS[0]
    clean(name)
    try:
        yield container(name)
    finally:
        clean(name)


SETTINGS = NftSettings(allowed_domains=(lab.INTERNET_HOST,))


def coi_reference(name: str, ip: str, veth: str, mode: Mode) -> tuple[list[str], list[str],
                                                                       dict[str, list[str]]]:
    """COI's own commands for this container, run into a scratch table without hooks, listed
    back by nft: the text COI would have produced, as nft prints it."""
    table = f"coi_ref_{os.getpid()}"
    policy = desired_policy(ip, name, mode, SETTINGS, lab.GATEWAY, veth,
                            {lab.INTERNET_HOST: [lab.INTERNET_HOST]})
    setup = [f"add table ip {table}", f"add chain ip {table} forward",
             f"add chain ip {table} input", f"add table ip6 {table}",
             f"add chain ip6 {table} forward"]
    nft("-f", "-", stdin="\n".join(setup + list(coi_commands(policy, table))) + "\n")
    try:
        return (lines_of(ip, table=table), lines_of(name, family="ip6", table=table),
                sets_of(ip, table))
    finally:
        nft("delete", "table", "ip", table)
        nft("delete", "table", "ip6", table)


def reachable(name: str) -> dict[str, bool]:
    hosts = (lab.INTERNET_HOST, lab.INTERNET_HOST_2, lab.LAN_HOST, lab.METADATA_HOST)
    return {host: lab.http_get(name, host) for host in hosts}


def test_detection_says_nft_and_why() -> None:
    result = coi_tui("check", "--json")
    era = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == "era")
    assert era["summary"].startswith("nft: ") and era["level"] == "ok"


@pytest.mark.parametrize("mode", [Mode.RESTRICTED, Mode.ALLOWLIST, Mode.OPEN])
def test_apply_writes_exactly_coi_text_and_traffic_obeys(
    first: tuple[str, str, str], mode: Mode
) -> None:
    name, ip, veth = first
    result = coi_tui("apply", name, "--mode", mode.value, *ALLOW)
    assert result.returncode == 0, result.stderr
    forward, ip6, sets = coi_reference(name, ip, veth, mode)
    assert lines_of(ip) == forward
    assert lines_of(name, family="ip6") == ip6
    assert sets_of(ip) == sets
    assert lab.incus("config", "get", name, MODE_CONFIG_KEY).strip() == mode.value
    want = {
        Mode.RESTRICTED: {lab.INTERNET_HOST: True, lab.INTERNET_HOST_2: True,
                          lab.LAN_HOST: False, lab.METADATA_HOST: False},
        Mode.ALLOWLIST: {lab.INTERNET_HOST: True, lab.INTERNET_HOST_2: False,
                         lab.LAN_HOST: False, lab.METADATA_HOST: False},
        Mode.OPEN: {lab.INTERNET_HOST: True, lab.INTERNET_HOST_2: True,
                    lab.LAN_HOST: True, lab.METADATA_HOST: True},
    }[mode]
    assert reachable(name) == want
    status = {c["name"]: c for c in json.loads(coi_tui("status", "--json").stdout)["containers"]}
    assert status[name]["mode"] == mode.value and status[name]["isolation"] == "ok"


def test_the_5_and_50_pair_is_removed_exactly() -> None:
    with lab.pinned_containers() as (five, fifty):
        for name in (five, fifty):
            assert coi_tui("apply", name, "--mode", "allowlist", *ALLOW).returncode == 0
        fifty_before = (lines_of("10.147.0.50"), sets_of("10.147.0.50"),
                        lines_of(fifty, family="ip6"))
        assert coi_tui("remove", five).returncode == 0
        assert lines_of("10.147.0.5") == [] and sets_of("10.147.0.5") == {}
        assert lines_of(five, family="ip6") == []
        assert (lines_of("10.147.0.50"), sets_of("10.147.0.50"),
                lines_of(fifty, family="ip6")) == fifty_before
        assert 'comment "coi-base"' in nft("list", "chain", "ip", "coi", "forward")
        assert coi_tui("remove", fifty).returncode == 0


def test_switching_50_times_under_a_1khz_prober_lets_nothing_through(
    first: tuple[str, str, str], tmp_path: Path
) -> None:
    name, _ip, _veth = first
    prober = build_prober(tmp_path)
    assert coi_tui("apply", name, "--mode", "restricted").returncode == 0
    script = tmp_path / "switch.py"
    script.write_text(SWITCHER)
    with probing(name, prober, lab.LAN_HOST, seconds=90), \
            counting(lab.NETNS["lan"]) as arrived:
        done = subprocess.run([sys.executable, str(script), name], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr
    print(f"nft era: 50 restricted<->allowlist switches, {arrived[-1]} probe(s) through in "
          f"{done.stdout.strip().splitlines()[-1]}")
    assert arrived == [0]


SWITCHER = f"""
import sys, time
from coi_tui.main import main
start = time.monotonic()
for mode in ["allowlist", "restricted"] * 25:
    assert main(["apply", sys.argv[1], "--mode", mode, "--allow", "{lab.INTERNET_HOST}"]) == 0
print(f"{{time.monotonic() - start:.1f}} s")
"""


def test_a_container_coi_set_up_is_shown_and_removed_leaving_everyone_else(
    first: tuple[str, str, str],
) -> None:
    name, ip, veth = first
    other = container(lab.CONTAINERS[1])
    assert coi_tui("apply", other[0], "--mode", "restricted").returncode == 0
    others_before = lines_of(other[1]), lines_of(other[0], family="ip6")
    policy = desired_policy(ip, name, Mode.ALLOWLIST, SETTINGS, lab.GATEWAY, veth,
                            {lab.INTERNET_HOST: [lab.INTERNET_HOST]})
    nft("-f", "-", stdin="\n".join(coi_commands(policy)) + "\n")  # exactly as COI runs them
    try:
        shown = {c["name"]: c for c in
                 json.loads(coi_tui("status", "--json").stdout)["containers"]}[name]
        assert shown["mode"] == "allowlist" and shown["mode_source"] == "inferred"
        rules = json.loads(coi_tui("rules", "--json").stdout)["rules"]
        mine = [r for r in rules if r["owner"] == name]
        assert len([r for r in mine if r["chain"] == "(set)"]) == 4
        assert len([r for r in mine if (r["ipv"], r["chain"]) == ("ip", "forward")]) == len(
            lines_of(ip))
        assert coi_tui("remove", name).returncode == 0
        assert lines_of(ip) == [] and sets_of(ip) == {} and lines_of(name, family="ip6") == []
        assert lines_of(ip, chain="input") == []
        assert (lines_of(other[1]), lines_of(other[0], family="ip6")) == others_before
    finally:
        clean(other[0])


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout
        time.sleep(0.02)
    return time.monotonic() - start


def test_watch_restores_a_rule_deleted_by_hand_within_2s(
    first: tuple[str, str, str], tmp_path: Path
) -> None:
    name, ip, _veth = first
    assert coi_tui("apply", name, "--mode", "restricted").returncode == 0
    want = lines_of(ip)
    log = (tmp_path / "watch.log").open("w")
    watch = subprocess.Popen([sys.executable, "-m", "coi_tui", "watch"], stdout=log,
                             stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "keeps isolation" in (tmp_path / "watch.log").read_text(), 20)
        time.sleep(1.5)
        handles = json.loads(nft("-j", "-a", "list", "chain", "ip", "coi", "forward"))
        reject = next(i["rule"]["handle"] for i in handles["nftables"]
                      if "rule" in i and i["rule"].get("comment") == f"coi-{ip}"
                      and "192.168.0.0" in json.dumps(i["rule"]["expr"]))
        nft("delete", "rule", "ip", "coi", "forward", "handle", str(reject))
        took = wait_for(lambda: lines_of(ip) == want, 10)
        print(f"nft era: a rule deleted by hand was back after {took:.2f}s")
        assert took <= 2.0
        assert not lab.http_get(name, lab.LAN_HOST)
    finally:
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(20) == 0
        log.close()


def test_a_dns_refresh_adds_the_new_answer_in_one_transaction_and_keeps_the_old(
    first: tuple[str, str, str], coi_home: Path
) -> None:
    """COI's contract (spec §4.3, §11 item 9): a refresh only adds; the old answer stays in
    the set (still reachable by address), the container's /etc/hosts block names the new
    one (tests/nft_era/test_allowlist_names.py follows the names)."""
    name, ip, _veth = first
    domain = "nft-refresh.lab.test"
    (coi_home / ".coi" / "config.toml").write_text(
        f'[network]\nallowed_domains = ["{domain}"]\n')
    hosts_before = lab.run("incus", "exec", name, "--", "cat", "/etc/hosts").stdout
    lab.dns_set(domain, [lab.INTERNET_HOST], 60)
    try:
        assert coi_tui("apply", name, "--mode", "allowlist").returncode == 0
        assert lab.http_get(name, lab.INTERNET_HOST) and not lab.http_get(name,
                                                                          lab.INTERNET_HOST_2)
        rules_before = lines_of(ip)
        lab.dns_set(domain, [lab.INTERNET_HOST_2], 60)
        result = coi_tui("dns", "--refresh")
        assert result.returncode == 0, result.stderr
        assert "[1/2] ok" in result.stdout and "[2/2] ok" in result.stdout  # nft, /etc/hosts
        assert "delete" not in result.stdout
        assert lines_of(ip) == rules_before  # only set elements changed
        d = sets_of(ip)[f"coi_d_{ip.replace('.', '_')}"]
        assert d == sorted([json.dumps(lab.INTERNET_HOST), json.dumps(lab.INTERNET_HOST_2)])
        assert lab.http_get(name, lab.INTERNET_HOST_2) and lab.http_get(name, lab.INTERNET_HOST)
        again = coi_tui("dns", "--refresh")
        assert again.returncode == 0 and "[1/" not in again.stdout  # nothing changed: no job
    finally:
        lab.dns_del(domain)
        subprocess.run(["incus", "exec", name, "--", "sh", "-c", "cat > /etc/hosts"],
                       input=hosts_before, text=True, capture_output=True, timeout=15)


DEAD_IP, DEAD_NAME = "10.147.0.99", "coi-gone"


def test_nft_era_orphans_are_found_exactly_and_cleaned_leaving_live_containers(
    first: tuple[str, str, str],
) -> None:
    name, ip, _veth = first
    assert coi_tui("apply", name, "--mode", "allowlist", *ALLOW).returncode == 0
    live_before = lines_of(ip), sets_of(ip), lines_of(name, family="ip6")
    nft("-f", "-", stdin="\n".join([  # what a deleted container left, as COI writes it
        f'add rule ip coi forward ip saddr {DEAD_IP} accept comment "coi-{DEAD_IP}"',
        f"add set ip coi coi_s_{DEAD_IP.replace('.', '_')} {{ type ipv4_addr ; flags interval ; }}",
        f'add rule ip coi forward iifname vethgone0 drop comment "coi-boot-{DEAD_NAME}"',
        f'add rule ip6 coi forward iifname vethgone0 drop comment "coi6-{DEAD_NAME}"',
    ]) + "\n")
    listed = json.loads(coi_tui("orphans", "--json").stdout)
    found = {(o["kind"], o["id"]) for o in listed["orphans"] if o["kind"] != "inherited"}
    assert {kind for kind, _ in found} == {"nft-rules", "nft-boot", "nft-ip6"}
    assert all(DEAD_IP in oid or DEAD_NAME in oid for _, oid in found), found
    cleaned = coi_tui("orphans", "--clean", "--yes")
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    text = nft("list", "ruleset")
    assert DEAD_IP not in text and DEAD_NAME not in text
    assert (lines_of(ip), sets_of(ip), lines_of(name, family="ip6")) == live_before
    assert 'comment "coi-base"' in text
