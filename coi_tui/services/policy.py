"""COI's desired direct rules per mode (firewalld era), exactly as COI applies them. Pure."""

from __future__ import annotations

from collections.abc import Iterable

from coi_tui.models import DirectRule, Mode, NetworkSettings

PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
METADATA_NETWORK = "169.254.0.0/16"
ANYWHERE = "0.0.0.0/0"


def _rule(priority: int, *args: str) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", priority, tuple(args))


# Shared by every container, added before any mode and never removed.
BASE_RULE = _rule(-1, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")


def desired_rules(
    ip: str,
    mode: Mode,
    settings: NetworkSettings,
    gateway: str | None,
    allowed_ips: Iterable[str] = (),
) -> tuple[DirectRule, ...]:
    def rule(priority: int, dest: str, verdict: str) -> DirectRule:
        return _rule(priority, "-s", ip, "-d", dest, "-j", verdict)

    if mode is Mode.OPEN:
        return (_rule(0, "-s", ip, "-j", "ACCEPT"),)
    rules = [rule(0, f"{gateway}/32", "ACCEPT")] if gateway else []
    local = settings.allow_local_network_access
    if local:
        rules += [rule(1, net, "ACCEPT") for net in PRIVATE_NETWORKS]
    if mode is Mode.RESTRICTED:
        if not local and settings.block_private_networks:
            rules += [rule(10, net, "REJECT") for net in PRIVATE_NETWORKS]
        if settings.block_metadata_endpoint:
            rules.append(rule(10, METADATA_NETWORK, "REJECT"))
        rules.append(rule(50, ANYWHERE, "ACCEPT"))
        return tuple(rules)
    for dest in sorted(allowed_ips):
        rules.append(rule(1, dest if "/" in dest else f"{dest}/32", "ACCEPT"))
    if not local:
        rules += [rule(10, net, "REJECT") for net in (*PRIVATE_NETWORKS, METADATA_NETWORK)]
    rules.append(rule(99, ANYWHERE, "REJECT"))
    return tuple(rules)


def infer_mode(rules: Iterable[DirectRule]) -> Mode | None:
    """COI's signatures for one container's rules (design.md §4)."""
    rules = tuple(rules)
    if any(r.priority == 99 and r.destination == ANYWHERE and r.verdict == "REJECT" for r in rules):
        return Mode.ALLOWLIST
    if any(r.priority == 50 and r.destination == ANYWHERE and r.verdict == "ACCEPT" for r in rules):
        return Mode.RESTRICTED
    if any(r.priority == 0 and r.destination is None and r.verdict == "ACCEPT" for r in rules):
        return Mode.OPEN
    return None


def owned_by(rule: DirectRule, ip: str) -> bool:
    """Exact ownership: the -s value equals ip, bare or /32. Never a substring match."""
    return rule.source_ip() == ip
