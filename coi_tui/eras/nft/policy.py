"""COI's nftables rules per mode, exactly as COI emits them (docs/coi-nft-era.md §2), the mode
COI's live objects reveal (§5), and exact ownership (§1.1). Pure.

Text is COI's, token for token (NF `addRuleWithMatch`: `ip saddr IP [ip daddr DST] <match>
<verdict> comment "coi-IP"`, `ip daddr` omitted for 0.0.0.0/0). Compare live rules with
`.canonical`, never with this text: nft prints `G/32` as `G` and `{ 443 }` as `443`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from coi_tui.eras.nft.model import (
    ALL_PORTS,
    BASE_COMMENT,
    DesiredPolicy,
    HostEntry,
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
from coi_tui.eras.nft.text import canonical_element, canonical_rule
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


def go_ipv4(text: str) -> str | None:
    """Go's `net.ParseIP(text).To4()` as text, or None: a dotted IPv4, or an IPv4-mapped
    IPv6 address (`::ffff:1.1.1.1` is 1.1.1.1); a hostname or a real IPv6 address is None."""
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        pass
    if "%" in text:  # Go's ParseIP takes no zone
        return None
    try:
        mapped = ipaddress.IPv6Address(text).ipv4_mapped
    except ValueError:
        return None
    return None if mapped is None else str(mapped)


def validate_dns_servers(servers: Iterable[str]) -> tuple[str, ...]:
    """COI's validateDNSServers: `net.ParseIP(strings.TrimSpace(s)).To4()` must hold, the
    canonical IPv4 kept, first occurrence first."""
    out: list[str] = []
    for server in servers:
        canon = go_ipv4(server.strip())
        if canon is None:
            raise BadInput(f"dns_servers: {server!r} is not a valid IPv4 address")
        if canon not in out:
            out.append(canon)
    return tuple(out)


def validate_allowed_ports(ports: Iterable[int]) -> tuple[int, ...]:
    """COI's validateAllowedPorts: 1..65535, deduplicated and sorted."""
    ports = tuple(ports)
    for port in ports:
        if not 1 <= port <= 65535:
            raise BadInput(f"allowed_ports: {port} is out of range (1-65535)")
    return tuple(sorted(set(ports)))


def _local_allows(ip: str, ports: Sequence[int]) -> list[RuleSpec]:
    # addLocalNetworkAllows is not in the stored source (docs/coi-nft-era.md §12): the shape is
    # pinned only by COI's tests (blanket accept without allowed_ports, a dport cap with them).
    match = l4_port_match(ports) if ports else ""
    return [_fwd(ip, net, "accept", match) for net in PRIVATE_NETWORKS]


def restricted_rules(ip: str, gateway: str | None, settings: NftSettings) -> tuple[RuleSpec, ...]:
    """addRestrictedRules, in order (docs/coi-nft-era.md §2.1)."""
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
    """blockDNS's forward rule, then addAllowlistRules, in order (docs/coi-nft-era.md §2.2 b, c)."""
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


# --- allowlist entries (docs/coi-nft-era.md §4.1) and set elements (§2.2 a, §4.3) ---


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
    """One `allowed_domains` entry, `dest[:ports]`, as COI's NewAllowPolicy compiles it
    (trimmed, split at the first `:`, lower case, no trailing dot)."""
    dest, colon, spec = entry.strip().partition(":")
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


def compile_allowlist(entries: Iterable[str]) -> tuple[AllowEntry, ...]:
    """COI's NewAllowPolicy: literal entries in order (each with its own ports: the same
    address twice gives the tuples of both), then each name once with the ports of its LAST
    entry (a map name -> ports: `x:443` then `x:22` is `x:22`, never both). Empty entries
    are skipped."""
    return fold_names([parse_allow_entry(raw) for raw in entries])


def fold_names(entries: Sequence[AllowEntry]) -> tuple[AllowEntry, ...]:
    """Parsed entries as NewAllowPolicy keeps them: the literals in order, each name once
    (first place) with its last entry's ports; empty entries dropped."""
    names: dict[str, tuple[PortRange, ...]] = {}
    for entry in entries:
        if not entry.static and entry.dest:
            names[entry.dest] = entry.ports
    return (*(e for e in entries if e.static and e.dest),
            *(AllowEntry(name, ports) for name, ports in names.items()))


def entry_ports(entry_ranges: Sequence[PortRange], allowed_ports: Sequence[int]) -> tuple[
        PortRange, ...]:
    """resolvePorts: the entry's own ports, else allowed_ports (one range per port:
    intsToPortRanges), else every port."""
    if entry_ranges:
        return tuple(entry_ranges)
    if allowed_ports:
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
    `addr . ports` (the name's ports: its last entry's, else allowed_ports, else all), in
    name then answer order, permanent (no timeout: MG passes 0)."""
    addresses: dict[str, None] = {}
    tuples: dict[str, None] = {}
    for entry in fold_names(entries):
        if entry.static:
            continue
        for ip in resolved.get(entry.dest, ()):
            addresses[ip] = None
            for r in entry_ports(entry.ports, allowed_ports):
                tuples[f"{ip} . {r}"] = None
    return tuple(addresses), tuple(tuples)


def answer_ports(entries: Sequence[AllowEntry], allowed_ports: Sequence[int]) -> tuple[
        PortRange, ...]:
    """Every port some resolved name of the allowlist may be reached on, merged: an old
    answer (a resolved address DNS no longer gives) keeps no port beyond these. Empty when
    the allowlist lists no name at all."""
    ranges = sorted({r for e in fold_names(entries) if not e.static
                     for r in entry_ports(e.ports, allowed_ports)},
                    key=lambda r: (r.low, r.high))
    merged: list[PortRange] = []
    for r in ranges:
        if merged and r.low <= merged[-1].high + 1:
            merged[-1] = PortRange(merged[-1].low, max(merged[-1].high, r.high))
        else:
            merged.append(r)
    return tuple(merged)


def _in(ip: str, nets: Iterable[str]) -> bool:
    address = ipaddress.IPv4Address(ip)
    return any(address in ipaddress.IPv4Network(net) for net in nets)


# --- [[network.hosts]] (docs/coi-nft-era.md §2.4, §13; COI's user_hosts.go) ---


def _host_class(ip: str) -> str:
    """classifyHostIP: "metadata" (169.254/16), "private" (RFC 1918) or "public"."""
    if _in(ip, (METADATA_NETWORK,)):
        return "metadata"
    return "private" if _in(ip, PRIVATE_NETWORKS) else "public"


def _go_list(ports: Sequence[int]) -> str:
    return "[" + " ".join(str(p) for p in ports) + "]"  # Go's %v of []int


def check_host(mode: Mode, settings: NftSettings, host: HostEntry) -> None:
    """checkHostReachable then checkHostPortsEnforceable: COI refuses (before touching
    anything) a host it cannot reach in `mode`, or a port scope it cannot enforce."""
    kind = _host_class(host.ip)
    ip, ports = host.ip, host.ports
    if kind == "metadata" and mode is not Mode.OPEN:
        raise BadInput(f"network.hosts: {ip} is in the link-local/metadata range "
                       f"(169.254.0.0/16), refused in {mode.value} mode (cloud-metadata SSRF)")
    if mode is Mode.ALLOWLIST and kind == "private" and not settings.allow_local_network_access:
        scope = ports or settings.allowed_ports
        if not scope:
            raise BadInput(f"network.hosts: {ip} is a private address; allowlist mode opens a "
                           "LAN host only on explicit ports — set ports (e.g. ports = [443]) "
                           "on this entry, or a global allowed_ports")
        if 53 in scope:
            raise BadInput(f"network.hosts: {ip} may not be opened on port 53 in allowlist "
                           "mode, which blocks all DNS by design (names resolve on the host "
                           "into /etc/hosts) — drop 53 from its ports")
        return  # a targeted, port-scoped accept
    if not ports:
        return
    if (mode is Mode.RESTRICTED and kind == "private") or (
            mode is Mode.ALLOWLIST and kind == "public"):
        return
    if mode is Mode.OPEN:
        raise BadInput(f"network.hosts: {ip} sets ports={_go_list(ports)}, but open mode "
                       "enforces no egress restrictions so the port scope would do nothing — "
                       "remove ports, or use restricted/allowlist mode")
    if mode is Mode.RESTRICTED:  # a public host
        raise BadInput(f"network.hosts: {ip} is a public address, which restricted mode "
                       f"already reaches on ALL ports, so ports={_go_list(ports)} cannot scope "
                       "it — per-host ports here apply only to a private (LAN) address; use "
                       "allowlist mode to port-scope a public host")
    raise BadInput(f"network.hosts: {ip} sets ports={_go_list(ports)}, but "  # allowlist LAN
                   "allow_local_network_access already opens the whole LAN on the global "
                   "allowed_ports, so a per-host scope cannot narrow it — drop the per-host "
                   "ports, or turn allow_local_network_access off to reach only this LAN host")


def host_scope(host: HostEntry, allowed_ports: Sequence[int]) -> tuple[int, ...]:
    """A host's port scope: its own ports if any, else allowed_ports, else none;
    deduplicated and sorted (applyHostFirewall's validateAllowedPorts)."""
    try:
        return validate_allowed_ports(host.ports or allowed_ports)
    except BadInput as error:
        raise BadInput(f"network.hosts {host.ip}: invalid ports: {error}") from None


def host_rules(
    ip: str, mode: Mode, settings: NftSettings,
) -> tuple[tuple[RuleSpec, ...], tuple[str, ...], tuple[str, ...]]:
    """`[[network.hosts]]` openings (ApplyUserHosts): (inserted forward rules, coi_s_
    elements, coi_sp_ elements). Every host is checked first (BadInput where COI refuses);
    open mode opens nothing. A private host in restricted mode, or in allowlist mode
    without local access, gets `insert rule ... ip daddr H/32 [ports] accept` (ports: its
    scope; restricted without a scope: every port and protocol, as COI); a public host in
    allowlist mode goes into coi_s_ and coi_sp_ (scoped, else every port); a private host
    with allowlist's local access needs nothing (the LAN accepts cover it)."""
    for host in settings.hosts:
        check_host(mode, settings, host)
    rules: list[RuleSpec] = []
    s_elems: list[str] = []
    sp_elems: list[str] = []
    if mode is Mode.OPEN:
        return (), (), ()
    for host in settings.hosts:
        kind = _host_class(host.ip)
        scope = host_scope(host, settings.allowed_ports)
        if mode is Mode.ALLOWLIST and kind == "public":
            s_elems.append(host.ip)  # AddStaticIPs([entry.IP]): the bare address
            sp_elems += [f"{host.ip} . {r}" for r in entry_ports(
                tuple(PortRange(p, p) for p in scope), ())]
        elif kind == "private" and (
                mode is Mode.RESTRICTED or not settings.allow_local_network_access):
            match = l4_port_match(scope) if scope else ""
            rules.append(_fwd(ip, f"{host.ip}/32", "accept", match, insert=True))
    # each `insert` goes to the top, so the last host ends up first in the chain
    return tuple(reversed(rules)), tuple(s_elems), tuple(sp_elems)


def _merged(first: Sequence[str], more: Sequence[str]) -> tuple[str, ...]:
    """`first`, then each of `more` that is not already there (as the kernel sees it:
    `H` and `H/32` are one element)."""
    seen = {canonical_element(e) for e in first}
    out = list(first)
    for element in more:
        if canonical_element(element) not in seen:
            seen.add(canonical_element(element))
            out.append(element)
    return tuple(out)


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
    treats as fatal, so callers should refuse restricted/allowlist without it. `older`
    holds the same policy as older COI releases wrote it (dialects)."""
    ipaddress.IPv4Address(ip)  # a bad address must not reach a rule's text
    inserted, host_s, host_sp = host_rules(ip, mode, settings)
    if mode is Mode.OPEN:
        return DesiredPolicy(ip, name, mode, forward=open_rules(ip))
    ip6 = ip6_rules(name, veth) if veth else ()
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
    entries = compile_allowlist(settings.allowed_domains)
    s_elems, sp_elems = static_elements(entries, settings.allowed_ports)
    d_elems, dp_elems = dynamic_elements(entries, resolved or {}, settings.allowed_ports)
    sets = (
        SetSpec(set_name("s", ip), "s", _merged(s_elems, host_s)),
        SetSpec(set_name("d", ip), "d", d_elems),
        SetSpec(set_name("sp", ip), "sp", _merged(sp_elems, host_sp)),
        SetSpec(set_name("dp", ip), "dp", dp_elems),
    )
    newest = DesiredPolicy(ip, name, mode, forward=inserted + allowlist_rules(
        ip, gateway, settings), input=input_rules(ip), ip6=ip6, sets=sets,
        answer_ports=answer_ports(entries, settings.allowed_ports))
    return replace(newest, older=older_allowlists(newest, settings, gateway, entries,
                                                  resolved or {}))


# --- older COI releases (docs/coi-nft-era.md §13 "Dialects by release") ---


def pre_l4_set_rules(policy: DesiredPolicy) -> DesiredPolicy:
    """COI before the 0.12 port work: the allowlist's two L4 set rules without
    `meta l4proto { tcp, udp }` (`ip saddr IP ip daddr . th dport @coi_sp_X accept`)."""
    old = {}
    for kind in ("sp", "dp"):
        match = f"ip daddr . th dport @{set_name(kind, policy.ip)}"
        old[_fwd(policy.ip, ANYWHERE, "accept", f"{L4} {match}")] = _fwd(
            policy.ip, ANYWHERE, "accept", match)
    return replace(policy, forward=tuple(old.get(r, r) for r in policy.forward), older=())


def per_address_allowlist(ip: str, name: str, gateway: str, settings: NftSettings,
                          ip6: tuple[RuleSpec, ...], addresses: Sequence[str]) -> DesiredPolicy:
    """COI 0.9-0.10 (no sets, no DNS block): the gateway accept, the LAN accepts with local
    access, then per address (sort.Strings) a TCP/UDP accept and a rate-limited echo
    accept, then the private/metadata rejects without local access, then the reject."""
    local = settings.allow_local_network_access
    rules = [_fwd(ip, f"{gateway}/32", "accept")]
    if local:
        rules += [_fwd(ip, net, "accept") for net in PRIVATE_NETWORKS]
    for address in sorted(dict.fromkeys(addresses)):
        dest = address if "/" in address else f"{address}/32"
        rules += [_fwd(ip, dest, "accept", L4), _fwd(ip, dest, "accept", ICMP_ECHO)]
    if not local:
        rules += [_fwd(ip, net, "reject") for net in (*PRIVATE_NETWORKS, METADATA_NETWORK)]
    rules.append(_fwd(ip, ANYWHERE, "reject"))
    return DesiredPolicy(ip, name, Mode.ALLOWLIST, forward=tuple(rules), ip6=ip6)


def older_allowlists(policy: DesiredPolicy, settings: NftSettings, gateway: str,
                     entries: Sequence[AllowEntry], resolved: Mapping[str, Sequence[str]]
                     ) -> tuple[DesiredPolicy, ...]:
    """The same allowlist in every older released dialect that could have written this
    config: the set rules without the L4 protocol match (any config), and the per-address
    rules of 0.9-0.10 (only for a config those releases understood: no allowed_ports, no
    `:ports`, no [[network.hosts]], and something to allow)."""
    older = [pre_l4_set_rules(policy)]
    if not (settings.allowed_ports or settings.hosts or any(e.ports for e in entries)):
        addresses = [e.dest.removesuffix("/32") for e in entries if e.static]
        addresses += [a for e in entries if not e.static for a in resolved.get(e.dest, ())]
        if addresses:
            older.append(per_address_allowlist(policy.ip, policy.name, gateway, settings,
                                               policy.ip6, addresses))
    return tuple(older)


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


# --- ownership (docs/coi-nft-era.md §1.1) and inference (§5) ---


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


_ECHO = tuple(canonical_rule(ICMP_ECHO))
_L4_ONLY = tuple(canonical_rule(L4))


def _per_address_accept(ip: str, shape: tuple[str, ...]) -> bool:
    """`ip saddr IP ip daddr D icmp type echo-request limit rate 10/second accept` or
    `ip saddr IP ip daddr D meta l4proto { tcp, udp } accept` with D an address: only COI
    0.9-0.10's per-address allowlist writes these (restricted's echo accept names no
    destination, its TCP/UDP accepts always carry a `th dport`)."""
    head = ("ip", "saddr", ip, "ip", "daddr")
    if shape[:5] != head or len(shape) < 7 or shape[5].startswith("@") or shape[-1] != "accept":
        return False
    return shape[6:-1] in (_ECHO, _L4_ONLY)


class _Canonical(Protocol):
    @property
    def canonical(self) -> tuple[str, ...]: ...


def infer_mode(ip: str, rules: Iterable[_Canonical], sets: Iterable[str] = (),
               ip6_drop: bool = False) -> Mode | None:
    """The mode a container's owned objects show (docs/coi-nft-era.md §5): its `coi_s_` set means
    allowlist (COI's own test); a lone `ip saddr IP accept` means open, unless the IPv6 drop
    is there (open has none: then it is restricted with every block off and no gateway);
    any other COI shape ending in a blanket accept or reject, or a reject of RFC 1918 /
    169.254, means restricted. None: no signature (unprotected)."""
    shapes = [r.canonical for r in rules]
    references = {f"@{n}" for n in set_names(ip)}
    if set_name("s", ip) in set(sets) or any(references.intersection(s) for s in shapes):
        return Mode.ALLOWLIST
    if any(_per_address_accept(ip, s) for s in shapes):
        return Mode.ALLOWLIST  # COI 0.9-0.10: one accept pair per allowed address, no sets
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
