"""Grants (keep/grants.py) in each era's objects, as COI would write them; what is refused in
one line; when a grant ends; the grants file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.eras.nft import policy as nft_policy
from coi_tui.eras.nft.hosts_file import render_hosts_block
from coi_tui.eras.nft.model import NftSettings, set_name
from coi_tui.eras.nft.openings import grant_names, opening_hosts, with_openings
from coi_tui.errors import BadInput
from coi_tui.keep.grants import Grant, check_grant, config_entry
from coi_tui.models import Container, Mode, NetworkSettings, Opening
from coi_tui.services.grants import (
    GrantRecord,
    GrantsError,
    load_grants,
    openings_for,
    save_grants,
    with_grant,
)

IP, GW = "10.147.0.5", "10.147.0.1"
WEB = Opening("203.0.113.20", 80, "web.lab.test", expires_in=5)
LAN = Opening("192.168.77.2", 8080, "nas")


def box(mode: str | None = "allowlist", status: str = "Running", ip: str = IP) -> Container:
    return Container("box", "default", status, ip, "veth1", "incusbr0", mode)


def test_firewalld_grant_is_an_accept_at_the_allowlist_priority_before_the_rejects() -> None:
    settings = NetworkSettings(mode=Mode.ALLOWLIST, openings=(WEB,))
    rules = desired_rules(IP, Mode.ALLOWLIST, settings, GW, ["203.0.113.10"])
    grant = [r for r in rules if "203.0.113.20/32" in r.args]
    assert [(r.priority, r.args) for r in grant] == [
        (1, ("-s", IP, "-d", "203.0.113.20/32", "-p", "tcp", "--dport", "80", "-j", "ACCEPT"))]
    assert max(r.priority for r in rules if r.verdict == "REJECT") > 1
    restricted = desired_rules(IP, Mode.RESTRICTED, replace(settings, openings=(LAN,)), GW)
    assert any(r.priority == 1 and "192.168.77.2/32" in r.args for r in restricted)
    ended = desired_rules(IP, Mode.ALLOWLIST, replace(settings, openings=(
        replace(WEB, ended=True),)), GW, ["203.0.113.10"])
    assert not any("203.0.113.20/32" in r.args for r in ended)


def test_nft_allowlist_grant_is_timed_elements_of_cois_resolved_sets() -> None:
    nft = NftSettings(allowed_domains=("api.lab.test",))
    policy = nft_policy.desired_policy(IP, "box", Mode.ALLOWLIST, nft, GW, "veth1",
                                       {"api.lab.test": ("203.0.113.10",)})
    granted = with_openings(policy, (WEB,), ())
    sets = {s.name: s.elements for s in granted.sets}
    assert sets[set_name("d", IP)] == ("203.0.113.10", "203.0.113.20 timeout 5s")
    assert sets[set_name("dp", IP)] == ("203.0.113.10 . 1-65535", "203.0.113.20 . 80 timeout 5s")
    # COI created both with `flags timeout`: the kernel removes the element itself
    assert all("timeout" in s.declaration for s in granted.sets if s.kind in ("d", "dp"))
    untimed = with_openings(policy, (replace(WEB, expires_in=None, port=None),), ())
    assert "203.0.113.20 . 1-65535" in {e for s in untimed.sets for e in s.elements}


def test_nft_lan_grant_is_cois_scoped_hosts_line() -> None:
    hosts = opening_hosts(Mode.RESTRICTED, (LAN,))
    nft = NftSettings(hosts=hosts)
    policy = nft_policy.desired_policy(IP, "box", Mode.RESTRICTED, nft, GW, "veth1")
    assert policy.forward[0].command() == (
        f"insert rule ip coi forward ip saddr {IP} ip daddr 192.168.77.2/32 "
        f'meta l4proto {{ tcp, udp }} th dport {{ 8080 }} accept comment "coi-{IP}"')
    assert opening_hosts(Mode.ALLOWLIST, (WEB,)) == ()  # a public one goes to the sets


def test_named_grants_are_lines_of_the_coi_hosts_block_and_leave_it_when_ended() -> None:
    entries = grant_names((), (WEB,))
    assert entries is not None
    assert render_hosts_block(entries).split("\n")[1] == "203.0.113.20\tweb.lab.test"
    gone = grant_names((), (replace(WEB, ended=True),))
    assert gone == ()  # the block is rewritten empty
    assert grant_names((), (replace(WEB, name=None),)) is None


@pytest.mark.parametrize(("mode", "address", "said"), [
    ("allowlist", "169.254.77.1", "metadata"),
    ("restricted", "169.254.169.254", "never granted"),
    ("open", "203.0.113.20", "open mode blocks nothing"),
    ("restricted", "203.0.113.20", "does not block"),
    ("allowlist", "not-an-ip", "not an IPv4 address"),
    (None, "203.0.113.20", "no recorded mode"),
])
def test_what_is_refused_is_said_in_one_line(mode: str | None, address: str, said: str) -> None:
    with pytest.raises(BadInput) as error:
        check_grant(Grant("box", address), box(mode), NetworkSettings(), "nft", 0.0)
    assert said in str(error.value) and "\n" not in str(error.value)


def test_a_grant_ends_with_its_time_or_its_container() -> None:
    record = GrantRecord("box", IP, Mode.ALLOWLIST, "203.0.113.20", 80, None, until=100.0)
    assert record.ended(box(), 99.0) == ""
    assert record.ended(box(), 100.0) == "its time is up"
    assert record.ended(box(status="Stopped"), 0.0) == "the container stopped"
    assert record.ended(box(ip="10.147.0.9"), 0.0) == "the container's address changed"
    assert record.ended(box("restricted"), 0.0) == "the container's mode changed"
    assert openings_for([record], box(), Mode.ALLOWLIST, 97.2) == (
        Opening("203.0.113.20", 80, None, 3),)
    assert openings_for([record], box(), Mode.ALLOWLIST, 100.0) == ()
    assert openings_for([record], box(), Mode.RESTRICTED, 0.0) == ()


def test_config_entries_as_coi_reads_them() -> None:
    record = GrantRecord("box", IP, Mode.ALLOWLIST, "203.0.113.20", 80, "web.lab.test")
    assert config_entry(record, "nft") == ("network.allowed_domains", "web.lab.test:80")
    assert config_entry(record, "firewalld") == ("network.allowed_domains", "web.lab.test")
    lan = GrantRecord("box", IP, Mode.RESTRICTED, "192.168.77.2", 8080, "nas")
    assert config_entry(lan, "nft") == (
        "network.hosts", '{ ip = "192.168.77.2", hostnames = ["nas"], ports = [8080] }')


def test_the_grants_file_round_trips_and_refuses_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "grants.json"
    assert load_grants(path) == ()
    one = GrantRecord("box", IP, Mode.ALLOWLIST, "203.0.113.20", 80, None, 5.0, 1.0)
    save_grants(path, with_grant(with_grant((), one), replace(one, until=9.0)))
    assert load_grants(path) == (replace(one, until=9.0),)
    assert '"schema": 1' in path.read_text()
    path.write_text("{not json")
    with pytest.raises(GrantsError):
        load_grants(path)
