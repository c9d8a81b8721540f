"""COI's desired direct rules per mode (firewalld era), exactly as COI applies them. Pure.

Tables: docs/coi-firewalld-era.md §2.3. The shared conntrack rule (`BASE_RULE`) is not part of any
container's set: COI adds it before every mode and never removes it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Mode, NetworkSettings

PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
METADATA_NETWORK = "169.254.0.0/16"
ANYWHERE = "0.0.0.0/0"


def _rule(priority: int, *args: str) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", priority, tuple(args))


BASE_RULE = _rule(-1, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")


def _host(dest: str) -> str:
    return dest if "/" in dest else f"{dest}/32"


def desired_rules(
    ip: str,
    mode: Mode,
    settings: NetworkSettings,
    gateway: str | None,
    allowed_ips: Iterable[str] = (),
) -> tuple[DirectRule, ...]:
    """The rules of one container in COI's call order (without `BASE_RULE`).

    `allowed_ips` only counts in allowlist mode; they are taken as given (filter DNS answers
    with `filter_allowed_ips` first)."""

    def rule(priority: int, dest: str, verdict: str) -> DirectRule:
        return _rule(priority, "-s", ip, "-d", dest, "-j", verdict)

    if mode is Mode.OPEN:
        return (_rule(0, "-s", ip, "-j", "ACCEPT"),)
    rules = [rule(0, f"{gateway}/32", "ACCEPT")] if gateway else []
    local = settings.allow_local_network_access
    if local:
        rules += [rule(1, net, "ACCEPT") for net in PRIVATE_NETWORKS]
    rules += opening_rules(ip, settings)
    if mode is Mode.RESTRICTED:
        # COI ignores allowed_ips and honours the block_* flags only here
        if not local and settings.block_private_networks:
            rules += [rule(10, net, "REJECT") for net in PRIVATE_NETWORKS]
        if settings.block_metadata_endpoint:
            rules.append(rule(10, METADATA_NETWORK, "REJECT"))
        rules.append(rule(50, ANYWHERE, "ACCEPT"))
    else:
        # COI sorts the raw strings, then appends /32; duplicates would be one rule anyway
        hosts = dict.fromkeys(_host(dest) for dest in sorted(allowed_ips))
        rules += [rule(1, dest, "ACCEPT") for dest in hosts]
        if not local:
            rules += [rule(10, net, "REJECT") for net in (*PRIVATE_NETWORKS, METADATA_NETWORK)]
        rules.append(rule(99, ANYWHERE, "REJECT"))
    return tuple(rules)


def opening_rules(ip: str, settings: NetworkSettings) -> list[DirectRule]:
    """coi-tui's grants: an ACCEPT at COI's allowlist-accept priority (1), before the
    private-range REJECTs (10) and the final REJECT (99); TCP on the port when one is set."""
    rules = []
    for opening in settings.openings:
        if opening.ended:
            continue
        port = ("-p", "tcp", "--dport", str(opening.port)) if opening.port else ()
        rules.append(_rule(1, "-s", ip, "-d", _host(opening.address), *port, "-j", "ACCEPT"))
    return list(dict.fromkeys(rules))


def _is_coi_rule(rule: DirectRule, priority: int, *tail: str) -> bool:
    """`rule` is `ipv4 filter FORWARD <priority> -s <one host> <tail...>`."""
    return (
        (rule.ipv, rule.table, rule.chain, rule.priority) == ("ipv4", "filter", "FORWARD", priority)
        and rule.args[:1] == ("-s",)
        and rule.source_ip() is not None
        and rule.args[2:] == tail
    )


def infer_mode(rules: Iterable[DirectRule]) -> Mode | None:
    """The mode COI's signatures name in one container's rules (docs/design.md §4.1): the default
    REJECT at 99 means allowlist, else the ACCEPT-all at 50 restricted, else the bare
    ACCEPT at 0 open. None: no signature (the container is unprotected)."""
    rules = tuple(rules)
    if any(_is_coi_rule(r, 99, "-d", ANYWHERE, "-j", "REJECT") for r in rules):
        return Mode.ALLOWLIST
    if any(_is_coi_rule(r, 50, "-d", ANYWHERE, "-j", "ACCEPT") for r in rules):
        return Mode.RESTRICTED
    if any(_is_coi_rule(r, 0, "-j", "ACCEPT") for r in rules):
        return Mode.OPEN
    return None


def owned_by(rule: DirectRule, ip: str) -> bool:
    """Exact ownership: the -s value equals ip, bare or /32. Never a substring match."""
    return rule.source_ip() == ip


# Where a DNS answer must not point unless local network access is allowed (docs/design.md
# §3.6): COI's allowlist ACCEPTs at priority 1 would beat its RFC1918 REJECTs at 10.
# Documentation ranges (TEST-NET, which the lab uses) count as public, unlike `is_private`.
_REBINDING_TARGETS = tuple(
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "unspecified (this network)"),
        ("10.0.0.0/8", "private network (RFC 1918)"),
        ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.169.254/32", "cloud metadata endpoint (link-local)"),
        ("169.254.0.0/16", "link-local"),
        ("172.16.0.0/12", "private network (RFC 1918)"),
        ("192.168.0.0/16", "private network (RFC 1918)"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved"),
    )
)


def rebinding_reason(ip: str) -> str | None:
    """Why a DNS answer `ip` must not be allowlisted, or None when it may be. ValueError if
    `ip` is not an IPv4 address (A records always are)."""
    address = ipaddress.IPv4Address(ip)
    return next((reason for net, reason in _REBINDING_TARGETS if address in net), None)


def filter_allowed_ips(
    ips: Iterable[str], allow_local_network_access: bool
) -> tuple[tuple[str, ...], dict[str, str]]:
    """Split addresses that allowlisted *domains* resolved to into (allowed, blocked ip ->
    reason), both in input order without duplicates. Pass only DNS answers: an IPv4 literal
    the user wrote in allowed_domains is meant as written and never goes through here."""
    unique = tuple(dict.fromkeys(ips))
    if allow_local_network_access:
        return unique, {}
    reasons = {ip: rebinding_reason(ip) for ip in unique}
    blocked = {ip: reason for ip, reason in reasons.items() if reason is not None}
    return tuple(ip for ip in unique if ip not in blocked), blocked
