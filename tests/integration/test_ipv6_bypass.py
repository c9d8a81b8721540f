"""The IPv6 bypass on the real lab (firewalld era), with the lab's IPv6 option: COI's direct
rules are IPv4 only, so a restricted container reaches the LAN host over IPv6 until
`coi-tui ipv6-off` turns its IPv6 off, now and across a restart. Uses coi-lab-3 only."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests import lab_support as lab
from tests.integration.test_cli_status import coi_tui

pytestmark = pytest.mark.lab

NAME = "coi-lab-3"
LAN6 = "fd42:78::2"  # the LAN host's IPv6 address with `scripts/lab up --ipv6`
SYSCTLS = ("net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6")


def reaches(url: str) -> bool:
    """hget in the container: 0 only on an HTTP 2xx from the lab host, within 3 s."""
    rc, out = lab.exec_in(NAME, ["hget", "-T", "3", url])
    return rc == 0 and "coi-lab" in out


def record() -> dict[str, Any]:
    result = coi_tui("status", "--json")
    assert result.returncode in (0, 1), result.stderr
    (mine,) = [c for c in json.loads(result.stdout)["containers"] if c["name"] == NAME]
    return dict(mine)


def ipv6_checks() -> list[dict[str, str]]:
    result = coi_tui("check", "--json")
    return [c for c in json.loads(result.stdout)["checks"] if c["name"].startswith("ipv6")]


def wait_for_global_ipv6(timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "fd42:77:" in lab.incus("list", f"^{NAME}$", "-f", "csv", "-c", "6"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{NAME} got no fd42:77:: address within {timeout} s")


def ipv6_back_on() -> None:
    """As the lab had it: no keys, IPv6 on in the running container."""
    for sysctl in SYSCTLS:
        lab.run("incus", "config", "unset", NAME, f"linux.sysctl.{sysctl}", check=False)
    lab.exec_in(NAME, ["sysctl", "-w", *(f"{s}=0" for s in SYSCTLS)])


def lab_up(*options: str) -> None:
    done = lab.run(str(lab.LAB), "up", *options, timeout=120, check=False)
    down = [line for line in done.stdout.splitlines() if "DOWN" in line]
    assert done.returncode == 0, "\n".join(down) + done.stderr


@contextmanager
def ipv6_on(*era: str) -> Iterator[None]:
    """The lab with IPv6 in `era` (scripts/lab options), coi-lab-3 with a global address;
    afterwards its rules removed and the lab's IPv6 as it was."""
    lab.require_lab()
    was_on = (lab.LAB_STATE / "ipv6").exists()
    try:
        lab_up(*era, "--ipv6")
        ipv6_back_on()  # an earlier run that failed half-way may have left it off
        wait_for_global_ipv6()
        yield
    finally:
        coi_tui("remove", NAME)
        ipv6_back_on()
        lab_up(*era, *(["--ipv6"] if was_on else []))


@pytest.fixture
def ipv6_lab() -> Iterator[None]:
    with ipv6_on():
        yield


def test_restricted_reaches_the_lan_over_ipv6_until_ipv6_off(ipv6_lab: None) -> None:
    applied = coi_tui("apply", NAME, "--mode", "restricted")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert not reaches(f"http://{lab.LAN_HOST}/")  # IPv4: COI's rules hold
    assert reaches(f"http://{lab.INTERNET_HOST}/")
    assert reaches(f"http://[{LAN6}]/"), "the bypass: restricted, yet the LAN over IPv6"
    before = record()
    assert (before["ipv6"], before["ipv6_bypass"], before["mode"]) == ("global", True,
                                                                       "restricted")
    (warned,) = [c for c in ipv6_checks() if c["name"] == f"ipv6 {NAME}"]
    assert warned["level"] == "warn" and f"coi-tui ipv6-off {NAME}" in warned["fix"]
    (line,) = [t for t in coi_tui("status").stdout.splitlines() if t.startswith("IPv6!: ")]
    assert NAME in line and "fix: coi-tui ipv6-off" in line

    fixed = coi_tui("ipv6-off", NAME, "--yes")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert f"done: IPv6 off in {NAME}" in fixed.stdout
    assert not reaches(f"http://[{LAN6}]/")
    after = record()
    assert (after["ipv6"], after["ipv6_bypass"]) == ("off", False)
    assert f"ipv6 {NAME}" not in [c["name"] for c in ipv6_checks()]  # no more warning
    assert not reaches(f"http://{lab.LAN_HOST}/")  # IPv4 unchanged
    assert reaches(f"http://{lab.INTERNET_HOST}/")

    lab.incus("restart", NAME)
    lab.wait_for_ipv4(NAME)
    time.sleep(2)  # what SLAAC would need to bring an address back
    restarted = record()
    assert (restarted["ipv6"], restarted["ipv6_bypass"]) == ("off", False)
    assert not reaches(f"http://[{LAN6}]/")
    again = coi_tui("ipv6-off", NAME, "--dry-run", "--json")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["steps"] == []  # off for good: nothing left to do
