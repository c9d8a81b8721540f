"""`coi-tui check` on the lab: everything COI needs is there; a missing piece is named, with the
fix, and the exit status says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests import lab_support as lab

pytestmark = pytest.mark.lab


def check(*as_user: str) -> tuple[int, dict[str, dict[str, str]]]:
    runner = ["runuser", "-u", as_user[0], "--"] if as_user else []
    result = subprocess.run([*runner, sys.executable, "-m", "coi_tui", "check", "--json"],
                            capture_output=True, text=True, timeout=120)
    return result.returncode, {c["name"]: c for c in json.loads(result.stdout)["checks"]}


def test_the_lab_passes_with_masquerade_as_a_warning() -> None:
    lab.require_lab()
    code, checks = check()
    assert code == 0
    assert checks["firewalld"]["level"] == "ok"
    assert checks["firewall access"]["summary"] == "via D-Bus and sudo firewall-cmd"
    assert checks["incus"]["level"] == "ok"
    assert checks[f"bridge {lab.BRIDGE}"]["level"] == "ok"
    assert checks["masquerade"]["level"] == "warn"  # the lab runs without NAT on purpose
    assert checks["flow cutting"]["level"] == "ok"


def test_a_user_without_conntrack_in_sudoers_is_told_flows_survive_and_the_line_to_add() -> None:
    lab.require_lab()
    code, checks = check(lab.LAB_USER)
    assert code == 0  # a warning: the rules themselves are in force
    cut = checks["flow cutting"]
    assert cut["level"] == "warn" and "existing flows survive a tightening" in cut["summary"]
    assert cut["fix"] == f"add to sudoers: {lab.LAB_USER} ALL=(ALL) NOPASSWD: /usr/sbin/conntrack"


def test_a_bridge_outside_the_trusted_zone_fails_with_the_fix() -> None:
    lab.require_lab()
    lab.firewall_cmd("--zone=trusted", f"--remove-interface={lab.BRIDGE}")
    try:
        code, checks = check()
    finally:
        lab.firewall_cmd("--zone=trusted", f"--change-interface={lab.BRIDGE}")
    bridge = checks[f"bridge {lab.BRIDGE}"]
    assert code == 1 and bridge["level"] == "fail"
    assert "not in trusted zone" in bridge["summary"]
    assert f"--zone=trusted --change-interface={lab.BRIDGE}" in bridge["fix"]


def test_both_eras_holding_coi_rules_is_flagged_and_the_nft_era_shown() -> None:
    lab.require_lab()
    name = lab.CONTAINERS[2]
    assert subprocess.run([sys.executable, "-m", "coi_tui", "apply", name, "--mode",
                           "restricted"], capture_output=True, timeout=120).returncode == 0
    # a COI 0.9+ rule next to the firewalld-era ones (for an address nobody has)
    script = ('add table ip coi\nadd chain ip coi forward { type filter hook forward priority 10'
              ' ; policy accept ; }\nadd rule ip coi forward ip saddr 10.147.0.93 accept comment'
              ' "coi-10.147.0.93"\n')
    subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)
    try:
        code, checks = check()
        era = checks["era"]
        assert era["level"] == "warn" and era["summary"].startswith("nft: BOTH hold COI rules")
        assert code == 0  # a warning: both are shown as they are
    finally:
        subprocess.run(["nft", "delete", "table", "ip", "coi"], check=True)  # made by this test
        subprocess.run([sys.executable, "-m", "coi_tui", "remove", name], capture_output=True,
                       timeout=120)
