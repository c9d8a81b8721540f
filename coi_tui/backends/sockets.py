"""The connections a container has open, read from its own /proc/net (no root needed: Incus
exec as a member of incus-admin). Used to name the flows a tightening could not cut."""

from __future__ import annotations

import ipaddress
import subprocess

from coi_tui.models import Container

_TCP_ESTABLISHED = "01"


def _address(hex_pair: str) -> tuple[str, int]:
    host, port = hex_pair.split(":")
    # /proc/net prints the IPv4 address as a little-endian 32-bit number
    ip = ipaddress.IPv4Address(int.from_bytes(bytes.fromhex(host), "little"))
    return str(ip), int(port, 16)


def parse_proc_net(proto: str, text: str) -> list[str]:
    """Connected sockets of one /proc/net/{tcp,udp} table as "proto local -> remote"."""
    flows = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4:
            continue
        (lip, lport), (rip, rport) = _address(fields[1]), _address(fields[2])
        if rip == "0.0.0.0" or ipaddress.IPv4Address(rip).is_loopback:
            continue
        if proto == "tcp" and fields[3] != _TCP_ESTABLISHED:
            continue
        flows.append(f"{proto} {lip}:{lport} -> {rip}:{rport}")
    return flows


def open_flows(container: Container, timeout: float = 10) -> list[str]:
    """Best effort: [] when the container cannot be looked into."""
    flows: list[str] = []
    for proto in ("tcp", "udp"):
        try:
            done = subprocess.run(
                ["incus", "exec", "--project", container.project, container.name, "--",
                 "cat", f"/proc/net/{proto}"],
                capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired):
            return flows
        if done.returncode == 0:
            flows += parse_proc_net(proto, done.stdout)
    return flows
