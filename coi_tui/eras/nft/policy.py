"""COI's nftables rules per mode, exactly as COI emits them (coi-nft-spec.md §2), the mode
COI's live objects reveal (§5), and exact ownership (§1.1). Pure.

Text is COI's, token for token (NF `addRuleWithMatch`: `ip saddr IP [ip daddr DST] <match>
<verdict> comment "coi-IP"`, `ip daddr` omitted for 0.0.0.0/0). Compare live rules with
`.canonical`, never with this text: nft prints `G/32` as `G` and `{ 443 }` as `443`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from coi_tui.eras.nft.model import (
    ALL_PORTS,
    BASE_COMMENT,
    DesiredPolicy,
    NftRule,
    NftSet,
    NftSettings,
    NftTable,
    PortRange,
    RuleSpec,
    SetSpec,
    boot_comment,
    ip6_comment,
    rule_comment,
    set_name,
    set_names,
)
from coi_tui.errors import BadInput
from coi_tui.models import Mode

PRIVATE_NETWORKS = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")
METADATA_NETWORK = "169.254.0.0/16"
ANYWHERE = "0.0.0.0/0"
L4 = "meta l4proto { tcp, udp }"
DNS_MATCH = f"{L4} th dport 53"
ICMP_ECHO = "icmp type echo-request limit rate 10/second"
BASE_RULE = RuleSpec(
    "ip", "forward", f'ct state established,related accept comment "{BASE_COMMENT}"')


def port_set(ports: Sequence[int]) -> str:
    """COI's portSetTokens: `{ 80, 443 }` (a one-port set stays `{ 443 }` in COI's text)."""
    return "{ " + ", ".join(str(p) for p in ports) + " }"


def l4_port_match(ports: Sequence[int]) -> str:
    """COI's l4PortMatch: TCP/UDP, capped to `ports` when there are any."""
    return f"{L4} th dport {port_set(ports)}" if ports else L4


def rule_body(ip: str, dest: str, match: str, verdict: str) -> str:
    parts = [f"ip saddr {ip}"]
    if dest != ANYWHERE:
        parts.append(f"ip daddr {dest}")
    if match:
        parts.append(match)
    parts.append(f'{verdict} comment "{rule_comment(ip)}"')
    return " ".join(parts)


def _fwd(ip: str, dest: str, verdict: str, match: str = "", insert: bool = False) -> RuleSpec:
    return RuleSpec("ip", "forward", rule_body(ip, dest, match, verdict), insert)


def validate_dns_servers(servers: Iterable[str]) -> tuple[str, ...]:
    """COI's validateDNSServers: IPv4 literals only, canonical, first occurrence kept."""
    out: list[str] = []
    for server in servers:
        try:
            canon = str(ipaddress.IPv4Address(server.strip()))
        except ValueError:
            raise BadInput(f"dns_servers: {server!r} is not a valid IPv4 address") from None
        if canon not in out:
            out.append(canon)
    return tuple(out)


def validate_allowed_ports(ports: Iterable[int]) -> tuple[int, ...]:
    """COI's validateAllowedPorts: 1..65535, deduplicated and sorted."""
    for port in ports:
        if not 1 <= port <= 65535:
            raise BadInput(f"allowed_ports: {port} is out of range (1-65535)")
    return tuple(sorted(set(ports)))


def _local_allows(ip: str, ports: Sequence[int]) -> list[RuleSpec]:
    # addLocalNetworkAllows is not in the stored source (spec §12): the shape is pinned only
    # by COI's tests (blanket accept without allowed_ports, a dport cap with them).
    match = l4_port_match(ports) if ports else ""
    return [_fwd(ip, net, "accept", match) for net in PRIVATE_NETWORKS]


def restricted_rules(ip: str, gateway: str | None, settings: NftSettings) -> tuple[RuleSpec, ...]:
    """addRestrictedRules, in order (spec §2.1)."""
    dns = validate_dns_servers(settings.dns_servers)
    ports = validate_allowed_ports(settings.allowed_ports)
    rules: list[RuleSpec] = []
    if gateway:
        rules.append(_fwd(ip, f"{gateway}/32", "accept"))
    if dns:
        rules += [_fwd(ip, f"{server}/32", "accept", DNS_MATCH) for server in dns]
        rules.append(_fwd(ip, ANYWHERE, "reject", DNS_MATCH))
    if settings.allow_local_network_access:
        rules += _local_allows(ip, ports)
    elif settings.block_private_networks:
        rules += [_fwd(ip, net, "reject") for net in PRIVATE_NETWORKS]
    if settings.block_metadata_endpoint:
        rules.append(_fwd(ip, METADATA_NETWORK, "reject"))
    if ports:
        rules.append(_fwd(ip, ANYWHERE, "accept", l4_port_match(ports)))
        rules.append(_fwd(ip, ANYWHERE, "accept", ICMP_ECHO))
        rules.append(_fwd(ip, ANYWHERE, "reject"))
    else:
        rules.append(_fwd(ip, ANYWHERE, "accept"))
    return tuple(rules)


def allowlist_rules(ip: str, gateway: str, settings: NftSettings) -> tuple[RuleSpec, ...]:
    """blockDNS's forward rule, then addAllowlistRules, in order (spec §2.2 b, c)."""
    ports = validate_allowed_ports(settings.allowed_ports)
    rules = [_fwd(ip, ANYWHERE, "reject", DNS_MATCH)]
    rules.append(_fwd(ip, f"{gateway}/32", "accept", "udp dport { 67, 68 }"))
    if settings.allow_local_network_access:
        rules += _local_allows(ip, ports)
    else:
        rules += [_fwd(ip, net, "reject") for net in (*PRIVATE_NETWORKS, METADATA_NETWORK)]
    for kind in ("sp", "dp"):
        rules.append(_fwd(ip, ANYWHERE, "accept",
                          f"{L4} ip daddr . th dport @{set_name(kind, ip)}"))
    for kind in ("s", "d"):
        rules.append(_fwd(ip, f"@{set_name(kind, ip)}", "accept", ICMP_ECHO))
    rules.append(_fwd(ip, ANYWHERE, "reject"))
    return tuple(rules)


def input_rules(ip: str) -> tuple[RuleSpec, ...]:
    """The allowlist DNS block on the host's own resolver (`ip coi input`)."""
    return (RuleSpec("ip", "input", rule_body(ip, ANYWHERE, DNS_MATCH, "reject")),)


def open_rules(ip: str) -> tuple[RuleSpec, ...]:
    return (_fwd(ip, ANYWHERE, "accept"),)


def ip6_rules(name: str, veth: str) -> tuple[RuleSpec, ...]:
    return (RuleSpec("ip6", "forward", f'iifname {veth} drop comment "{ip6_comment(name)}"'),)


def boot_block_rule(name: str, veth: str) -> RuleSpec:
    return RuleSpec("ip", "forward", f'iifname {veth} drop comment "{boot_comment(name)}"')


# --- allowlist entries (spec §4.1) and set elements (§2.2 a, §4.3) ---


@dataclass(frozen=True)
class AllowEntry:
    dest: str  # a CIDR (static) or a hostname
    ports: tuple[PortRange, ...] = ()
    static: bool = False


def _port_spec(spec: str, entry: str) -> tuple[PortRange, ...]:
    ranges: set[PortRange] = set()
    for part in spec.split(","):
        low, _, high = part.strip().partition("-")
        try:
            ranges.add(PortRange(int(low), int(high or low)))
        except ValueError:
            raise BadInput(f"in {entry!r}: invalid port {part.strip()!r}") from None
    return tuple(sorted(ranges, key=lambda r: (r.low, r.high)))


def parse_allow_entry(entry: str) -> AllowEntry:
    """One `allowed_domains` entry, `dest[:ports]`, as COI compiles it."""
    dest, colon, spec = entry.partition(":")
    if colon and not dest:
        raise BadInput(f"entry {entry!r} has no destination before ':'")
    ports = _port_spec(spec, entry) if colon else ()
    dest = dest.strip().lower().removesuffix(".")
    if "*" in dest:
        raise BadInput(f'wildcard "{dest}" in allowed_domains is not supported: {entry}')
    try:
        network = ipaddress.IPv4Network(dest, strict=False)
    except ValueError:
        if "/" in dest or dest.replace(".", "").isdigit():
            raise BadInput(f"allowed_domains: {entry!r} is not a valid IPv4 address or CIDR") \
                from None
        return AllowEntry(dest, ports, static=False)
    return AllowEntry(str(network) if "/" in dest else f"{dest}/32", ports, static=True)


def entry_ports(entry_ranges: Sequence[PortRange], allowed_ports: Sequence[int]) -> tuple[
        PortRange, ...]:
    """resolvePorts: the entry's own ports, else allowed_ports, else every port."""
    if entry_ranges:
        return tuple(entry_ranges)
    if allowed_ports:
        # intsToPortRanges is not in the stored source: one element per port assumed
        return tuple(PortRange(p, p) for p in validate_allowed_ports(allowed_ports))
    return (ALL_PORTS,)


def static_elements(
    entries: Sequence[AllowEntry], allowed_ports: Sequence[int],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(coi_s_ elements, coi_sp_ elements) for the literal entries, each sorted as text
    (COI's sort.Strings)."""
    statics = [e for e in entries if e.static]
    cidrs = sorted(dict.fromkeys(e.dest for e in statics))
    tuples = sorted(dict.fromkeys(
        f"{e.dest} . {r}" for e in statics for r in entry_ports(e.ports, allowed_ports)))
    return tuple(cidrs), tuple(tuples)


def dynamic_elements(
    entries: Sequence[AllowEntry],
    resolved: Mapping[str, Sequence[str]],
    allowed_ports: Sequence[int],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(coi_d_ elements, coi_dp_ elements) for resolved names: bare addresses and
    `addr . ports`, in entry then answer order, permanent (no timeout: MG passes 0)."""
    addresses: dict[str, None] = {}
    tuples: dict[str, None] = {}
    for entry in entries:
        if entry.static:
            continue
        for ip in resolved.get(entry.dest, ()):
            addresses[ip] = None
            for r in entry_ports(entry.ports, allowed_ports):
                tuples[f"{ip} . {r}"] = None
    return tuple(addresses), tuple(tuples)


def _in(ip: str, nets: Iterable[str]) -> bool:
    address = ipaddress.IPv4Address(ip)
    return any(address in ipaddress.IPv4Network(net) for net in nets)


def host_rules(
    ip: str, mode: Mode, settings: NftSettings,
) -> tuple[tuple[RuleSpec, ...], tuple[str, ...], tuple[str, ...]]:
    """`[[network.hosts]]` openings (spec §2.4): (inserted forward rules, coi_s_ elements,
    coi_sp_ elements). Raises BadInput where COI refuses a host."""
    rules: list[RuleSpec] = []
    s_elems: list[str] = []
    sp_elems: list[str] = []
    if mode is Mode.OPEN:
        return (), (), ()
    allowed = validate_allowed_ports(settings.allowed_ports)
    for host in settings.hosts:
        if _in(host.ip, (METADATA_NETWORK,)):
            raise BadInput(f"network.hosts: {host.ip} is link-local (169.254.0.0/16): "
                           f"unreachable in {mode.value} mode")
        private = _in(host.ip, PRIVATE_NETWORKS)
        if mode is Mode.RESTRICTED:
            if private:
                match = l4_port_match(host.ports) if host.ports else ""
                rules.append(_fwd(ip, f"{host.ip}/32", "accept", match, insert=True))
            elif host.ports:
                raise BadInput(f"network.hosts: ports for {host.ip} cannot be enforced in "
                               "restricted mode (public addresses are already reachable)")
            continue
        if private and not settings.allow_local_network_access:
            raise BadInput(f"network.hosts: {host.ip} is a private address: unreachable in "
                           "allowlist mode without allow_local_network_access")
        own = tuple(PortRange(p, p) for p in sorted(set(host.ports)))
        s_elems.append(f"{host.ip}/32")
        sp_elems += [f"{host.ip}/32 . {r}" for r in entry_ports(own, allowed)]
    # each `insert` goes to the top, so the last host ends up first in the chain
    return tuple(reversed(rules)), tuple(s_elems), tuple(sp_elems)


def desired_policy(
    ip: str,
    name: str,
    mode: Mode,
    settings: NftSettings,
    gateway: str | None,
    veth: str | None,
    resolved: Mapping[str, Sequence[str]] | None = None,
) -> DesiredPolicy:
    """Everything COI installs for one container in `mode`. `resolved` maps allowlisted
    names to their (already filtered) addresses; `veth` None skips the IPv6 drop, which COI
    treats as fatal, so callers should refuse restricted/allowlist without it."""
    ipaddress.IPv4Address(ip)  # a bad address must not reach a rule's text
    if mode is Mode.OPEN:
        return DesiredPolicy(ip, name, mode, forward=open_rules(ip))
    ip6 = ip6_rules(name, veth) if veth else ()
    inserted, host_s, host_sp = host_rules(ip, mode, settings)
    if mode is Mode.RESTRICTED:
        return DesiredPolicy(ip, name, mode, forward=inserted + restricted_rules(
            ip, gateway, settings), ip6=ip6)
    if not gateway:
        raise BadInput("failed to determine gateway IP (required for allowlist mode)")
    if settings.dns_servers:
        raise BadInput("network.dns_servers is not compatible with allowlist mode: "
                       "allowlist mode blocks DNS")
    if not settings.allowed_domains:
        raise BadInput("allowlist mode needs at least one entry in network.allowed_domains")
    entries = [parse_allow_entry(e) for e in settings.allowed_domains]
    s_elems, sp_elems = static_elements(entries, settings.allowed_ports)
    d_elems, dp_elems = dynamic_elements(entries, resolved or {}, settings.allowed_ports)
    sets = (
        SetSpec(set_name("s", ip), "s", s_elems + tuple(e for e in host_s if e not in s_elems)),
        SetSpec(set_name("d", ip), "d", d_elems),
        SetSpec(set_name("sp", ip), "sp",
                sp_elems + tuple(e for e in host_sp if e not in sp_elems)),
        SetSpec(set_name("dp", ip), "dp", dp_elems),
    )
    return DesiredPolicy(ip, name, mode, forward=inserted + allowlist_rules(ip, gateway, settings),
                         input=input_rules(ip), ip6=ip6, sets=sets)


def coi_commands(policy: DesiredPolicy, table: str = "coi") -> tuple[str, ...]:
    """The commands COI itself runs for `policy`, in its order (sets, elements, DNS block,
    input rule, batch; then the IPv6 drop). The reference the spec tests read against."""
    lines = [s.add_set(table) for s in policy.sets]
    lines += [line for s in policy.sets if (line := s.add_elements(table))]
    regular = [r for r in policy.forward if not r.insert]
    if policy.mode is Mode.ALLOWLIST:
        lines.append(regular[0].command(table))  # blockDNS's forward reject, its own exec
        lines += [r.command(table) for r in policy.input]
        regular = regular[1:]
    lines += [r.command(table) for r in regular]
    lines += [r.command(table) for r in reversed([r for r in policy.forward if r.insert])]
    lines += [r.command(table) for r in policy.ip6]
    return tuple(lines)


# --- ownership (spec §1.1) and inference (§5) ---


def owns(rule: NftRule, ip: str) -> bool:
    """Exact ownership: the comment is `coi-<ip>`, whole. Never a substring."""
    return rule.comment == rule_comment(ip)


def owned_rules(table: NftTable | None, ip: str, chain: str = "forward") -> tuple[NftRule, ...]:
    if table is None:
        return ()
    return tuple(r for r in table.rules_in(chain) if owns(r, ip))


def owned_sets(table: NftTable | None, ip: str) -> tuple[NftSet, ...]:
    names = set_names(ip)
    return () if table is None else tuple(s for s in table.sets if s.name in names)


def rules_with_comment(table: NftTable | None, comment: str,
                       chain: str = "forward") -> tuple[NftRule, ...]:
    return () if table is None else tuple(r for r in table.rules_in(chain)
                                          if r.comment == comment)


def monitor_rules(table: NftTable | None, ip: str, chain: str = "FORWARD") -> tuple[
        NftRule, ...]:
    """COI's monitoring LOG rules for `ip`: the bracketed IP of `NFT_*[<ip>]: ` equals it."""
    return () if table is None else tuple(r for r in table.rules_in(chain)
                                          if r.monitor_ip == ip)


def comment_ips(table: NftTable | None, chain: str = "forward") -> tuple[str, ...]:
    """Container IPs named by `coi-<ip>` comments (not base, boot blocks or others)."""
    ips: dict[str, None] = {}
    for rule in () if table is None else table.rules_in(chain):
        rest = (rule.comment or "").removeprefix("coi-")
        if rule.comment and rule.comment.startswith("coi-"):
            try:
                ips[str(ipaddress.IPv4Address(rest))] = None
            except ValueError:
                continue
    return tuple(ips)


class _Canonical(Protocol):
    @property
    def canonical(self) -> tuple[str, ...]: ...


def infer_mode(ip: str, rules: Iterable[_Canonical], sets: Iterable[str] = (),
               ip6_drop: bool = False) -> Mode | None:
    """The mode a container's owned objects show (spec §5): its `coi_s_` set means
    allowlist (COI's own test); a lone `ip saddr IP accept` means open, unless the IPv6 drop
    is there (open has none: then it is restricted with every block off and no gateway);
    any other COI shape ending in a blanket accept or reject, or a reject of RFC 1918 /
    169.254, means restricted. None: no signature (unprotected)."""
    shapes = [r.canonical for r in rules]
    references = {f"@{n}" for n in set_names(ip)}
    if set_name("s", ip) in set(sets) or any(references.intersection(s) for s in shapes):
        return Mode.ALLOWLIST
    blanket_accept = ("ip", "saddr", ip, "accept")
    blanket_reject = ("ip", "saddr", ip, "reject")
    if shapes == [blanket_accept]:
        return Mode.RESTRICTED if ip6_drop else Mode.OPEN
    blocks = {("ip", "saddr", ip, "ip", "daddr", net, "reject")
              for net in (*PRIVATE_NETWORKS, METADATA_NETWORK)}
    if any(s in blocks for s in shapes) or (
            shapes and shapes[-1] in (blanket_accept, blanket_reject)):
        return Mode.RESTRICTED
    return None
