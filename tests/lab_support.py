"""Helpers for tests against the real lab (scripts/lab). Packets go only to lab addresses."""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from coi_tui.eras.firewalld.rules import DirectRule

REPO = Path(__file__).resolve().parents[1]
LAB = REPO / "scripts" / "lab"
LAB_STATE = Path("/run/coi-lab")
CONTAINERS = ("coi-lab-1", "coi-lab-2", "coi-lab-3")
IMAGE = "coi-busybox"
BRIDGE = "incusbr0"
GATEWAY = "10.147.0.1"
INTERNET_HOST = "203.0.113.10"
INTERNET_HOST_2 = "203.0.113.20"
LAN_HOST = "192.168.77.2"
METADATA_HOST = "169.254.77.1"
NETNS = {"inet": "coi-lab-inet", "lan": "coi-lab-lan", "meta": "coi-lab-meta"}
DNS_SERVER = ("127.0.0.1", 5353)
LAB_USER = "coi-dev"
PINNED = {"coi-lab-pin5": "10.147.0.5", "coi-lab-pin50": "10.147.0.50"}


def is_lab_address(ip: str) -> bool:
    # Only .10 and .20 of 203.0.113.0/24 are ours: the registries of these machines live in it.
    lab_nets = ("10.147.0.0/24", "192.168.77.0/24", "169.254.77.0/24")
    address = ipaddress.ip_address(ip)
    return ip in (INTERNET_HOST, INTERNET_HOST_2) or any(
        address in ipaddress.ip_network(net) for net in lab_nets
    )


def run(*argv: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check)


def require_lab() -> None:
    """Fail (never skip) when the lab is not up: the suite is meaningless without it."""
    result = run(str(LAB), "status", check=False)
    if result.returncode != 0:
        raise AssertionError(
            "the lab is not up (run scripts/lab up):\n" + result.stdout + result.stderr
        )


def incus_socket() -> Path:
    return Path("/var/lib/incus/unix.socket")


def incus(*args: str, timeout: float = 60) -> str:
    return run("incus", *args, timeout=timeout).stdout


def firewall_cmd(*args: str) -> str:
    return run("firewall-cmd", *args).stdout


def direct_rules() -> list[str]:
    return [line for line in firewall_cmd("--direct", "--get-all-rules").splitlines() if line]


def container_ip(name: str, project: str = "default") -> str:
    state = json.loads(incus("query", f"/1.0/instances/{name}/state?project={project}"))
    for address in state["network"]["eth0"]["addresses"]:
        if address["family"] == "inet":
            return str(address["address"])
    raise AssertionError(f"{name} has no IPv4")


def exec_in(name: str, argv: list[str], timeout: float = 15) -> tuple[int, str]:
    result = run("incus", "exec", name, "--", *argv, timeout=timeout, check=False)
    return result.returncode, result.stdout + result.stderr


def http_get(name: str, ip: str, timeout: int = 3) -> bool:
    """Does the lab host at ip answer HTTP from inside container name? (busybox wget -T crashes)"""
    assert is_lab_address(ip), f"{ip} is not a lab address: probes go only to lab hosts"
    rc, _ = exec_in(name, ["timeout", str(timeout), "wget", "-q", "-O-", f"http://{ip}/"])
    return rc == 0


def dns_set(name: str, ips: list[str], ttl: int) -> None:
    run(str(LAB), "dns-set", name, ",".join(ips), str(ttl))


def dns_del(name: str) -> None:
    run(str(LAB), "dns-del", name)


def wait_for_ipv4(
    name: str, want: str | None = None, timeout: float = 30, project: str = "default"
) -> str:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ip = container_ip(name, project)
            if want is None or ip == want:
                return ip
        except (AssertionError, KeyError, TypeError, subprocess.CalledProcessError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"{name} got no IPv4 {want or ''} within {timeout}s")


@contextmanager
def launched(name: str, ipv4: str | None = None) -> Iterator[str]:
    """A throwaway container (optionally pinned to an address), deleted afterwards."""
    args = ["launch", IMAGE, name, "-q"]
    if ipv4:
        args += ["--device", f"eth0,ipv4.address={ipv4}"]
    incus(*args)
    try:
        wait_for_ipv4(name, ipv4)
        yield name
    finally:
        run("incus", "delete", "--force", name, check=False)


@contextmanager
def pinned_containers() -> Iterator[tuple[str, str]]:
    """coi-lab-pin5 at 10.147.0.5 and coi-lab-pin50 at 10.147.0.50 (a substring of each other)."""
    (five, five_ip), (fifty, fifty_ip) = PINNED.items()
    with launched(five, five_ip), launched(fifty, fifty_ip):
        yield five, fifty


def firewalld_pid() -> int:
    return int((LAB_STATE / "firewalld.pid").read_text().strip())


def stop_firewalld() -> None:
    """A clean stop, as `systemctl stop firewalld` or a package upgrade does: it flushes its
    rules. Only the PID the lab recorded."""
    import os
    import signal
    import time

    pid = firewalld_pid()
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{pid}").exists(), "firewalld did not stop"


def start_firewalld() -> None:
    """The lab's own `up` starts it again (and binds the bridge's zone)."""
    run(str(LAB), "up", timeout=120)


def firewalld_answers() -> bool:
    from coi_tui.eras.firewalld.access import DBusFirewall
    from coi_tui.errors import CoiTuiError

    try:
        firewall = DBusFirewall()
    except CoiTuiError:
        return False  # no system bus at all
    try:
        firewall.state()
        return True
    except CoiTuiError:
        return False
    finally:
        firewall.close()


def rules_of(ip: str) -> set[DirectRule]:
    """The direct rules firewalld holds for exactly this address (D-Bus, as root)."""
    from coi_tui.eras.firewalld.access import DBusFirewall
    from coi_tui.eras.firewalld.policy import owned_by

    firewall = DBusFirewall()
    try:
        return {r for r in firewall.list_rules() if owned_by(r, ip)}
    finally:
        firewall.close()
