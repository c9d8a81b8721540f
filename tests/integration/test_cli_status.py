"""`coi-tui status` and `coi-tui rules` against the real lab."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import lab_support as lab
from tests.integration.conftest import PROJECT

pytestmark = pytest.mark.lab


def coi_tui(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "coi_tui", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def incus_list() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(lab.incus("list", "--format", "json"))
    return data


def incus_ipv4(entry: dict[str, Any]) -> str | None:
    eth0 = ((entry.get("state") or {}).get("network") or {}).get("eth0") or {}
    for address in eth0.get("addresses", []):
        if address["family"] == "inet":
            return str(address["address"])
    return None


def test_status_lists_the_lab_containers_as_incus_and_sysfs_see_them() -> None:
    lab.require_lab()
    result = coi_tui("status", "--json")
    assert result.returncode == 0, result.stderr
    ours = {c["name"]: c for c in json.loads(result.stdout)["containers"]}
    for entry in incus_list():
        name = str(entry["name"])
        if name not in lab.CONTAINERS:
            continue
        veth = Path("/sys/class/net") / str(ours[name]["veth"])
        assert ours[name]["ipv4"] == incus_ipv4(entry)
        assert ours[name]["status"] == "Running"
        assert veth.exists()
        assert (veth / "master").resolve().name == lab.BRIDGE
    assert set(lab.CONTAINERS) <= ours.keys()


@pytest.fixture
def rule_for_first_container() -> Iterator[tuple[str, str]]:
    name = lab.CONTAINERS[0]
    ip = lab.container_ip(name)
    args = ["ipv4", "filter", "FORWARD", "42", "-s", ip, "-d", "192.0.2.77", "-j", "REJECT"]
    lab.firewall_cmd("--direct", "--add-rule", *args)
    try:
        yield name, ip
    finally:
        lab.firewall_cmd("--direct", "--remove-rule", *args)


def test_a_rule_added_with_firewall_cmd_shows_with_its_owner(
    rule_for_first_container: tuple[str, str],
) -> None:
    name, ip = rule_for_first_container
    result = coi_tui("rules", "--json")
    assert result.returncode == 0, result.stderr
    mine = [r for r in json.loads(result.stdout)["rules"] if "192.0.2.77" in r["args"]]
    assert len(mine) == 1
    assert mine[0]["owner"] == name
    assert mine[0]["args"] == ["-s", ip, "-d", "192.0.2.77", "-j", "REJECT"]
    assert mine[0]["priority"] == 42


def test_rules_of_10_147_0_5_are_never_attributed_to_10_147_0_50() -> None:
    lab.require_lab()
    with lab.pinned_containers() as (five, fifty):
        head = ["ipv4", "filter", "FORWARD", "42"]
        rules = [
            [*head, "-s", "10.147.0.5", "-d", "192.0.2.5", "-j", "REJECT"],
            [*head, "-s", "10.147.0.50/32", "-d", "192.0.2.50", "-j", "REJECT"],
        ]
        for args in rules:
            lab.firewall_cmd("--direct", "--add-rule", *args)
        try:
            result = coi_tui("rules", "--json")
            assert result.returncode == 0, result.stderr
            owners = {
                r["args"][3]: r["owner"]
                for r in json.loads(result.stdout)["rules"]
                if r["args"][3] in ("192.0.2.5", "192.0.2.50")
            }
            assert owners == {"192.0.2.5": five, "192.0.2.50": fifty}
        finally:
            for args in rules:
                lab.firewall_cmd("--direct", "--remove-rule", *args)


def test_a_rule_of_a_container_in_another_project_is_owned_not_orphaned(
    second_project: str,
) -> None:
    ip = lab.wait_for_ipv4(second_project, project=PROJECT)
    args = ["ipv4", "filter", "FORWARD", "42", "-s", ip, "-d", "192.0.2.42", "-j", "REJECT"]
    lab.firewall_cmd("--direct", "--add-rule", *args)
    try:
        result = coi_tui("rules", "--json")
        (mine,) = [r for r in json.loads(result.stdout)["rules"] if "192.0.2.42" in r["args"]]
        assert (mine["owner"], mine["owner_project"], mine["orphan"]) == (
            second_project, PROJECT, False)
    finally:
        lab.firewall_cmd("--direct", "--remove-rule", *args)
