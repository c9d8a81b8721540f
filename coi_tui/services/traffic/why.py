"""Which rule stopped an attempt, in words. Pure.

The trace names the table that decided, so this reads the rule the kernel printed, not COI's
source text: COI's firewalld era puts its direct rules in `ip filter FORWARD` (iptables-nft,
each with the container's `ip saddr`), its nft era in `ip coi` / `ip6 coi`; coi-tui's
backstop holds the same blocks in `ip coi_tui_backstop`. Both eras block the same classes of
destination, so one reading serves both."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from coi_tui.services.traffic.attempts import Verdict

PRIVATE = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                      "192.168.0.0/16"))
METADATA = ipaddress.IPv4Network("169.254.0.0/16")
BACKSTOP_TABLE = "coi_tui_backstop"
_DADDR = re.compile(r"\bip daddr (?!\. )(!= )?(\S+)")
_DNS = re.compile(r"\b(?:th|udp|tcp) dport 53\b")
_PORT_SET = re.compile(r"\bth dport @|ip daddr \. th dport")


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    why: str


def coi_owns(family: str, table: str, chain: str, text: str) -> bool:
    if table == "coi" and family in ("ip", "ip6"):
        return True
    return (family, table, chain) == ("ip", "filter", "FORWARD") and "ip saddr" in text


def decide(family: str, table: str, chain: str, text: str, kind: str, protocol: str,
           port: int | None, mode: str | None, to_host: bool) -> Decision:
    """The words for a drop reported at `family table chain` by rule `text` (or by the
    chain's policy when `kind` is "policy")."""
    if kind == "rule" and not text:  # named by handle, and gone before it could be read
        ours = table in (BACKSTOP_TABLE, "coi")
        return Decision(Verdict.REJECTED if ours else Verdict.DROPPED,
                        "a rule since removed" if ours
                        else f"dropped by {family} {table} {chain} (a rule since removed)")
    # the backstop runs first and holds exactly the mode's blocks: the same words (where
    # the attempt says it was the backstop)
    if kind == "rule" and (table == BACKSTOP_TABLE or coi_owns(family, table, chain, text)):
        return Decision(Verdict.REJECTED, reason(text, protocol, port, mode, to_host))
    what = "policy" if kind == "policy" else "rule"
    return Decision(Verdict.DROPPED, f"dropped by {family} {table} {chain} ({what})")


def reason(text: str, protocol: str, port: int | None, mode: str | None,
           to_host: bool) -> str:
    if 'comment "coi-boot-' in text:
        return "blocked while the container starts"
    if 'comment "coi6-' in text:
        return "IPv6 dropped"
    if _DNS.search(text) or (port == 53 and to_host):
        return ("DNS refused in allowlist mode" if mode == "allowlist" or to_host
                else "DNS only through the configured servers")
    if _PORT_SET.search(text):
        return "port not allowed"
    match = _DADDR.search(text)
    network = _network(match[2]) if match and not match[1] else None
    if network is not None and network.prefixlen > 0:
        if network.subnet_of(METADATA):
            return "metadata"
        if any(network.subnet_of(p) for p in PRIVATE):
            return "private range"
        return f"blocked destination {network}"
    if match is not None and match[1]:
        return "not in the allowlist"
    if mode == "allowlist":
        return "not in the allowlist"
    if mode == "restricted":
        return "port not allowed"
    return "rejected by COI"


def _network(text: str) -> ipaddress.IPv4Network | None:
    try:
        return ipaddress.IPv4Network(text, strict=False)
    except ValueError:
        return None
