"""Lists and cuts tracked flows with Debian's `conntrack` tool.

COI's shared RELATED,ESTABLISHED ACCEPT keeps any flow alive once it exists, so a tighter
policy only bites existing flows after their entries are deleted. A deleted entry of a flow
the new rules still allow is simply tracked again on its next packet.

Listing reads `conntrack -L -o xml` (a stable, structured form). Byte counts exist only
while the kernel's flow accounting is on (net.netfilter.nf_conntrack_acct): host-wide, so
coi-tui switches it on only when asked.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

from coi_tui.errors import BackendUnavailable, CoiTuiError, PermissionDenied

ACCOUNTING = Path("/proc/sys/net/netfilter/nf_conntrack_acct")


def _argv(*args: str) -> list[str]:
    """conntrack as root, else through `sudo -n` (a sudoers line for conntrack)."""
    argv = ["conntrack", *args]
    return argv if os.geteuid() == 0 else ["sudo", "-n", *argv]


def flush_source(ip: str) -> int:
    """Delete the entries of flows the container at `ip` started; returns how many."""
    argv = _argv("-D", "-f", "ipv4", "-s", ip)
    # A busy container has entries expiring while they are deleted: conntrack then stops at
    # the first vanished one. Running it again deletes the rest.
    reason = "failed"
    for _attempt in range(5):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except FileNotFoundError as error:
            raise BackendUnavailable("conntrack not found: apt install conntrack") from error
        # conntrack exits 1 when nothing matched; the count is on stderr
        if done.returncode in (0, 1) and "flow entries" in done.stderr:
            words = done.stderr.split()
            return int(words[words.index("flow") - 1])
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else reason
    raise PermissionDenied(f"cannot delete tracked flows of {ip}: {reason}")


def sudoers_line() -> str:
    """The line that lets this user cut flows, in the style of COI's firewall-cmd line."""
    path = shutil.which("conntrack") or "/usr/sbin/conntrack"
    return f"{getpass.getuser()} ALL=(ALL) NOPASSWD: {path}"


def may_cut() -> tuple[bool, str]:
    """Can this process delete tracked flows? (root, or a sudoers line for conntrack)"""
    if os.geteuid() == 0:
        return True, "root"
    path = shutil.which("conntrack") or "/usr/sbin/conntrack"
    try:
        done = subprocess.run(["sudo", "-n", "-l", path, "-D"], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"sudo unusable: {error}"
    if done.returncode == 0:
        return True, "sudo -n conntrack"
    return False, "sudo refuses conntrack"


@dataclass(frozen=True)
class TrackedFlow:
    """One conntrack entry. "sent" is the original direction (who opened the flow),
    "received" the reply; packets and bytes are None while accounting is off."""

    protocol: str  # tcp, udp, icmp, ...
    source: str
    destination: str
    sport: int | None
    dport: int | None
    state: str | None  # TCP's state (ESTABLISHED, TIME_WAIT, ...); None for other protocols
    assured: bool = False
    unreplied: bool = False
    timeout: int | None = None  # seconds until the entry expires
    sent_packets: int | None = None
    sent_bytes: int | None = None
    received_packets: int | None = None
    received_bytes: int | None = None


def _number(node: ElementTree.Element | None, path: str) -> int | None:
    text = node.findtext(path) if node is not None else None
    return int(text) if text is not None and text.strip().isdigit() else None


def _flow(node: ElementTree.Element) -> TrackedFlow | None:
    metas = {m.get("direction"): m for m in node.findall("meta")}
    original, reply, other = metas.get("original"), metas.get("reply"), metas.get("independent")
    if original is None:
        return None
    layer4 = original.find("layer4")
    return TrackedFlow(
        protocol=(layer4.get("protoname") if layer4 is not None else None) or "?",
        source=original.findtext("layer3/src") or "?",
        destination=original.findtext("layer3/dst") or "?",
        sport=_number(original, "layer4/sport"),
        dport=_number(original, "layer4/dport"),
        state=other.findtext("state") if other is not None else None,
        assured=other is not None and other.find("assured") is not None,
        unreplied=other is not None and other.find("unreplied") is not None,
        timeout=_number(other, "timeout"),
        sent_packets=_number(original, "counters/packets"),
        sent_bytes=_number(original, "counters/bytes"),
        received_packets=_number(reply, "counters/packets"),
        received_bytes=_number(reply, "counters/bytes"),
    )


def parse_flows_xml(text: str) -> tuple[TrackedFlow, ...]:
    """`conntrack -L -o xml` output as flows, in conntrack's order."""
    try:
        root = ElementTree.fromstring(text) if text.strip() else None
    except ElementTree.ParseError as error:
        raise CoiTuiError(f"conntrack printed unreadable XML: {error}") from error
    flows = (_flow(node) for node in (root.findall("flow") if root is not None else ()))
    return tuple(f for f in flows if f is not None)


def list_flows(ip: str, timeout: float = 10.0) -> tuple[TrackedFlow, ...]:
    """The tracked flows the container at `ip` started (IPv4)."""
    argv = _argv("-L", "-f", "ipv4", "-s", ip, "-o", "xml")
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except FileNotFoundError as error:
        raise BackendUnavailable(f"{argv[0]} not found: apt install conntrack") from error
    except subprocess.TimeoutExpired as error:
        raise BackendUnavailable(f"conntrack did not answer within {timeout:g}s") from error
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        reason = lines[-1] if lines else f"exit status {done.returncode}"
        if "password is required" in done.stderr or "not allowed" in done.stderr \
                or "Operation not permitted" in done.stderr:
            raise PermissionDenied(f"cannot list tracked flows: {reason}; run as root or add "
                                   f"to sudoers: {sudoers_line()}")
        raise CoiTuiError(f"conntrack could not list flows of {ip}: {reason}")
    return parse_flows_xml(done.stdout)


def accounting(path: Path = ACCOUNTING) -> bool | None:
    """Is flow accounting on (host-wide)? None when this kernel does not say."""
    try:
        return path.read_text().strip() == "1"
    except OSError:
        return None


def enable_accounting(path: Path = ACCOUNTING) -> None:
    """Switch flow accounting on for the whole host (counts flows that start from now on)."""
    try:
        path.write_text("1\n")
    except PermissionError as error:
        raise PermissionDenied("switching on flow accounting (host-wide) needs root: "
                               "sudo sysctl -w net.netfilter.nf_conntrack_acct=1") from error
    except OSError as error:
        raise BackendUnavailable(f"cannot switch on flow accounting: {error}") from error
