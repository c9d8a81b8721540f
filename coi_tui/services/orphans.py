"""What dead containers left behind, found exactly, each with a reason a person can check. Pure.

One function (`find_orphans`) over one snapshot the backends provide (`OrphanSnapshot`).
Unlike COI's `clean --orphans` (docs/coi-firewalld-era.md §4, docs/coi-nft-era.md §7):

- an address is alive when *any* instance in *any* project has it, running, frozen or stopped
  (a stopped one by its DHCP lease or static address), and it is compared exactly, never as a
  substring nor only for "10." addresses;
- a veth is ours to remove only if it is named `veth*`, has no master, is no instance's host
  veth and its peer is on the host without a master too (anything else: skipped, with why);
- zone bindings come from firewalld's zone API, every zone; firewalld is looked at in
  either era when it runs (the firewalld era's leftovers on an nft-era host), and when it
  does not, the report says its leftovers were not checked (`notes`), never silence;
- in the nft era a boot block's comment is a name, never read as an address, and sets
  without any rule are found too;
- inherited rules (a new container holding a dead one's address, and so its rules) are
  reported in both eras, never counted as orphans.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from coi_tui.eras.firewalld.backstop import TABLE as BACKSTOP_TABLE
from coi_tui.eras.firewalld.policy import infer_mode, owned_by
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft import policy as nft_policy
from coi_tui.eras.nft.model import SET_KINDS, NftRule, NftSet, NftState, NftTable, ip6_comment
from coi_tui.eras.nft.policy import owned_rules, owned_sets, rules_with_comment
from coi_tui.models import Container, Link
from coi_tui.services.traffic.table import FAMILY as TRAFFIC_FAMILY
from coi_tui.services.traffic.table import TABLE as TRAFFIC_TABLE

NAT_TABLE = "coi_nat"  # the DNS-proxy branch's table (docs/coi-nft-era.md §4.6)
COI_PREFIX = "coi-"  # COI's container name prefix ($COI_CONTAINER_PREFIX)


class OrphanKind(StrEnum):
    RULE = "rule"  # a firewalld direct rule
    VETH = "veth"  # a host veth pair
    ZONE = "zone-binding"  # a firewalld zone binding
    MONITOR = "nft-monitor"  # an `NFT_*[ip]` LOG rule in `ip filter FORWARD`
    NFT_IP = "nft-rules"  # `coi-<ip>` rules, input rules and sets in `ip coi`
    NFT_IP6 = "nft-ip6"  # `coi6-<name>` in `ip6 coi forward`
    NFT_BOOT = "nft-boot"  # `coi-boot-<name>` in `ip coi forward`
    NFT_TABLE = "nft-table"  # a stray `ip coi_nat`
    CACHE = "cache-file"  # ~/.coi/network-cache/<name>.json
    INHERITED = "inherited"  # not an orphan: live rules a new container never asked for


KIND_TITLES = {
    OrphanKind.RULE: "Orphaned firewall rules",
    OrphanKind.VETH: "Orphaned veth interfaces",
    OrphanKind.ZONE: "Orphaned firewalld zone bindings",
    OrphanKind.MONITOR: "Orphaned nft monitoring rules",
    OrphanKind.NFT_IP: "Orphaned nft rules",
    OrphanKind.NFT_IP6: "Orphaned ip6 nft rules",
    OrphanKind.NFT_BOOT: "Orphaned nft boot blocks",
    OrphanKind.NFT_TABLE: "Stray nft tables",
    OrphanKind.CACHE: "Orphaned IP-cache files",
    OrphanKind.INHERITED: "Inherited rules (live container)",
}


@dataclass(frozen=True)
class VethPair:
    name: str
    peer: str


@dataclass(frozen=True)
class ZoneBinding:
    zone: str
    interface: str


@dataclass(frozen=True)
class NftObjects:
    """nft objects to delete by handle or name: rules (any table) and `ip coi` sets."""

    rules: tuple[NftRule, ...] = ()
    sets: tuple[NftSet, ...] = ()
    table: tuple[str, str] | None = None  # (family, name): the whole table (coi_nat only)


Target = DirectRule | tuple[DirectRule, ...] | VethPair | ZoneBinding | NftObjects | str


@dataclass(frozen=True)
class Orphan:
    """One item to review: what it is, why it is an orphan, and what removing it takes."""

    @property
    def key(self) -> str:
        """What a review remembers the item by: the same in a later scan."""
        return f"{self.kind.value}:{self.id}"

    kind: OrphanKind
    id: str  # unique within its kind, stable between two scans
    detail: str
    reason: str
    target: Target = field(compare=False)
    owner: str | None = None  # the address or name it was for; the live container if inherited


@dataclass(frozen=True)
class Skipped:
    """Looks like an orphan to COI, is not one here: what and why."""

    kind: OrphanKind
    id: str
    reason: str


@dataclass(frozen=True)
class OrphanSnapshot:
    """Everything detection needs, read once. `None` for a part that could not be read (its
    reason is in `errors`): nothing of that kind is reported, rather than a guess."""

    instances: tuple[Container, ...] = ()  # every instance of every project
    leases: Mapping[str, str] = field(default_factory=dict)  # MAC -> IPv4 (Incus networks)
    rules: tuple[DirectRule, ...] | None = ()
    links: Mapping[str, Link] = field(default_factory=dict)
    zones: Mapping[str, tuple[str, ...]] | None = field(default_factory=dict)
    nft: NftState | None = field(default_factory=NftState)
    nat: NftTable | None = None  # `ip coi_nat`, when it exists
    backstop_left: bool = False  # coi-tui's backstop table is there and no process keeps it
    traffic_left: bool = False  # coi-tui's traffic table is there and no reader holds it
    cache_names: tuple[str, ...] | None = ()  # stems of ~/.coi/network-cache/*.json
    session_names: tuple[str, ...] = ()  # containers COI ran a session for (metadata.json)
    errors: Mapping[str, str] = field(default_factory=dict)  # part -> why it is unknown
    notes: tuple[str, ...] = ()  # what was not checked, by design (firewalld not running)


@dataclass(frozen=True)
class OrphanReport:
    orphans: tuple[Orphan, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    errors: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()  # one line each: what was not checked, and why

    def by_key(self) -> dict[str, Orphan]:
        return {o.key: o for o in self.orphans}

    @property
    def count(self) -> int:
        """Orphans proper (inherited rules are shown, not counted)."""
        return sum(1 for o in self.orphans if o.kind is not OrphanKind.INHERITED)


def alive_addresses(snapshot: OrphanSnapshot) -> dict[str, str]:
    """IPv4 -> why it is alive ("coi-a (default, Running)")."""
    alive: dict[str, str] = {}
    for c in snapshot.instances:
        where = f"{c.name} ({c.project}, {c.status}"
        if c.ipv4:
            alive.setdefault(c.ipv4, where + ")")
        if c.static_ipv4:
            alive.setdefault(c.static_ipv4, where + ", static address)")
        lease = snapshot.leases.get((c.hwaddr or "").lower())
        if lease:
            alive.setdefault(lease, where + ", DHCP lease)")
    return alive


def _checked(snapshot: OrphanSnapshot) -> str:
    statuses = sorted({c.status for c in snapshot.instances})
    projects = len({c.project for c in snapshot.instances})
    return (f"{len(snapshot.instances)} instance(s) in {projects} project(s) checked, "
            f"{', '.join(statuses) or 'none'} included")


def _rules(snapshot: OrphanSnapshot, alive: Mapping[str, str]) -> list[Orphan]:
    found = []
    for rule in snapshot.rules or ():
        src = rule.source_ip()
        # COI's rules live in FORWARD; a host rule elsewhere is someone else's business
        if src is None or src in alive or (rule.table, rule.chain) != ("filter", "FORWARD"):
            continue
        found.append(Orphan(
            OrphanKind.RULE, str(rule), str(rule),
            f"-s {src} belongs to no instance ({_checked(snapshot)})", rule, src))
    return found


def _peer(link: Link, links: Mapping[str, Link]) -> Link | None:
    """The other end of a veth when it is on the host too (the two point at each other)."""
    return next((p for p in links.values() if p.name != link.name and p.ifindex == link.iflink
                 and p.iflink == link.ifindex), None)


def _veths(snapshot: OrphanSnapshot) -> tuple[list[Orphan], list[Skipped]]:
    found: list[Orphan] = []
    skipped: list[Skipped] = []
    host_veths = {c.veth: c for c in snapshot.instances if c.veth}
    seen: set[str] = set()
    for link in snapshot.links.values():
        if link.kind != "veth" or link.master is not None or link.name in seen:
            continue
        name = link.name

        def skip(reason: str, name: str = name) -> None:
            skipped.append(Skipped(OrphanKind.VETH, name, reason))

        if not name.startswith("veth"):
            skip("not named veth*: not an Incus host veth (another tool's link)")
            continue
        if name in host_veths:
            c = host_veths[name]
            skip(f"host veth of {c.name} ({c.project}, {c.status})")
            continue
        peer = _peer(link, snapshot.links)
        if peer is None:
            skip("its peer is in another network namespace (a container or another tool's)")
            continue
        if peer.master is not None or peer.name in host_veths:
            skip(f"its peer {peer.name} is in use (master {peer.master or '-'})")
            continue
        seen.update((name, peer.name))
        pair = VethPair(*sorted((name, peer.name)))
        found.append(Orphan(
            OrphanKind.VETH, f"{pair.name}<->{pair.peer}", f"{pair.name} <-> {pair.peer}",
            "veth pair with no master on either end, no instance's host veth, both ends on "
            "the host: nothing uses it", pair))
    return found, skipped


def _zones(snapshot: OrphanSnapshot) -> list[Orphan]:
    found = []
    for zone, interfaces in sorted((snapshot.zones or {}).items()):
        for interface in interfaces:
            # `name+` is a firewalld wildcard, bound on purpose before any such link exists
            if interface.endswith("+") or interface in snapshot.links:
                continue
            found.append(Orphan(
                OrphanKind.ZONE, f"{zone}/{interface}", f"{interface} in zone {zone}",
                f"zone {zone} binds {interface}, but no interface of that name exists on the "
                "host", ZoneBinding(zone, interface), interface))
    return found


def _monitor(snapshot: OrphanSnapshot, alive: Mapping[str, str]) -> list[Orphan]:
    chain = snapshot.nft.monitor if snapshot.nft else None
    found = []
    for rule in chain.rules_in("FORWARD") if chain else ():
        ip = rule.monitor_ip
        if ip is None or ip in alive:
            continue
        found.append(Orphan(
            OrphanKind.MONITOR, f"handle {rule.handle}",
            f"handle {rule.handle}: log prefix {rule.log_prefix!r}",
            f"LOG rule for {ip}, which belongs to no instance ({_checked(snapshot)})",
            NftObjects(rules=(rule,)), ip))
    return found


def _set_ip(nft_set: NftSet) -> str | None:
    """`coi_s_10_147_0_5` -> 10.147.0.5 (None for any other set)."""
    parts = nft_set.name.split("_", 2)
    if len(parts) != 3 or parts[0] != "coi" or parts[1] not in SET_KINDS:
        return None
    try:
        return str(ipaddress.IPv4Address(parts[2].replace("_", ".")))
    except ValueError:
        return None


def _comment_ip(rule: NftRule) -> str | None:
    rest = (rule.comment or "").removeprefix("coi-")
    if rest == rule.comment:
        return None
    try:
        return str(ipaddress.IPv4Address(rest))  # `coi-boot-x`, `coi-base`: not addresses
    except ValueError:
        return None


def _nft_era(snapshot: OrphanSnapshot, alive: Mapping[str, str],
             names: Mapping[str, Container]) -> list[Orphan]:
    state = snapshot.nft or NftState()
    found: list[Orphan] = []
    table = state.ip
    if table is not None:
        ips = dict.fromkeys(ip for ip in (
            *(_comment_ip(r) for r in table.rules), *(_set_ip(s) for s in table.sets))
            if ip is not None)
        for ip in ips:
            if ip in alive:
                continue
            rules = owned_rules(table, ip) + owned_rules(table, ip, "input")
            sets = owned_sets(table, ip)
            found.append(Orphan(
                OrphanKind.NFT_IP, ip, f"{len(rules)} rule(s), {len(sets)} set(s) for {ip}",
                f"coi-{ip} belongs to no instance ({_checked(snapshot)})",
                NftObjects(rules, sets), ip))
        for rule in table.rules_in("forward"):
            name = (rule.comment or "").removeprefix("coi-boot-")
            if rule.comment and name != rule.comment and name not in names:
                found.append(Orphan(
                    OrphanKind.NFT_BOOT, name, f"{rule.comment} (handle {rule.handle})",
                    f"boot block of {name}, which is no instance", NftObjects((rule,)), name))
    for rule in state.ip6.rules_in("forward") if state.ip6 else ():
        name = (rule.comment or "").removeprefix("coi6-")
        if rule.comment and name != rule.comment and name not in names:
            found.append(Orphan(
                OrphanKind.NFT_IP6, name, f"{rule.comment} (handle {rule.handle})",
                f"IPv6 drop of {name}, which is no instance", NftObjects((rule,)), name))
    if snapshot.nat is not None:
        users = sorted({t for r in snapshot.nat.rules for t in r.canonical if t in alive})
        if not users:
            found.append(Orphan(
                OrphanKind.NFT_TABLE, f"ip {NAT_TABLE}", f"table ip {NAT_TABLE}",
                "COI's current releases create no NAT table (only its DNS-proxy branch did) "
                "and no rule in it names a live instance's address",
                NftObjects(table=("ip", NAT_TABLE))))
    if snapshot.backstop_left:
        found.append(Orphan(
            OrphanKind.NFT_TABLE, f"ip {BACKSTOP_TABLE}", f"table ip {BACKSTOP_TABLE}",
            "coi-tui's backstop, and no coi-tui process keeps it (its keeper exited without "
            "removing it: killed, or crashed)", NftObjects(table=("ip", BACKSTOP_TABLE))))
    if snapshot.traffic_left:
        found.append(Orphan(
            OrphanKind.NFT_TABLE, f"{TRAFFIC_FAMILY} {TRAFFIC_TABLE}",
            f"table {TRAFFIC_FAMILY} {TRAFFIC_TABLE}",
            "coi-tui's traffic feed table, and no coi-tui reads it (its reader was killed); "
            "it only counts and samples, it decides nothing",
            NftObjects(table=(TRAFFIC_FAMILY, TRAFFIC_TABLE))))
    return found


def _cache(snapshot: OrphanSnapshot, names: Mapping[str, Container]) -> list[Orphan]:
    return [
        Orphan(OrphanKind.CACHE, name, f"network-cache/{name}.json",
               f"IP cache of {name}, which is no instance in any project", name, name)
        for name in sorted(snapshot.cache_names or ()) if name not in names
    ]


def _inherited(snapshot: OrphanSnapshot) -> list[Orphan]:
    """Live rules of a container that never asked for them: no mode recorded by coi-tui and
    no COI session ran it, yet its address carries rules (a deleted container's)."""
    found = []
    sessions = set(snapshot.session_names)
    for c in snapshot.instances:
        if not c.ipv4 or c.mode_key or c.name in sessions:
            continue
        mine = tuple(r for r in snapshot.rules or () if owned_by(r, c.ipv4))
        if not mine:
            continue
        mode = infer_mode(mine)
        found.append(Orphan(
            OrphanKind.INHERITED, f"{c.project}/{c.name}",
            f"{c.name} ({c.ipv4}): {len(mine)} rule(s), look like {mode or 'no mode'}",
            f"{c.ipv4} carries {len(mine)} rule(s), but no mode was ever recorded for "
            f"{c.name} and no COI session ran it: left by a container that had this address "
            "before. Apply a mode or remove them", mine, c.name))
    return found


def _nft_inherited(snapshot: OrphanSnapshot, taken: set[str]) -> list[Orphan]:
    """The nft era's inherited rules: `coi-<ip>` rules and `coi_*_<ip>` sets at a live
    container's address, with no mode recorded for it, no COI session for it, and no IPv6
    drop of its own (`coi6-<name>`: COI sets one up with every restricted or allowlist
    container, by name, so a container COI set up elsewhere is not taken for an heir)."""
    table = snapshot.nft.ip if snapshot.nft else None
    if table is None:
        return []
    ip6 = snapshot.nft.ip6 if snapshot.nft else None
    found = []
    sessions = set(snapshot.session_names)
    for c in snapshot.instances:
        if not c.ipv4 or c.mode_key or c.name in sessions:
            continue
        if rules_with_comment(ip6, ip6_comment(c.name)):
            continue
        forward, inputs = owned_rules(table, c.ipv4), owned_rules(table, c.ipv4, "input")
        sets = owned_sets(table, c.ipv4)
        if not (forward or inputs or sets):
            continue
        mode = nft_policy.infer_mode(c.ipv4, forward, [s.name for s in sets])
        count = f"{len(forward) + len(inputs)} nft rule(s), {len(sets)} set(s)"
        oid = f"{c.project}/{c.name}"
        found.append(Orphan(
            OrphanKind.INHERITED, oid if oid not in taken else f"{oid} (nft)",
            f"{c.name} ({c.ipv4}): {count}, look like {mode or 'no mode'}",
            f"coi-{c.ipv4} carries {count}, but no mode was ever recorded for {c.name}, no "
            f"COI session ran it and it has no IPv6 drop of its own ({ip6_comment(c.name)}): "
            "left by a container that had this address before. Apply a mode or remove them",
            NftObjects((*forward, *inputs), sets), c.name))
    return found


def find_orphans(snapshot: OrphanSnapshot) -> OrphanReport:
    alive = alive_addresses(snapshot)
    names = {c.name: c for c in snapshot.instances}
    veths, skipped = _veths(snapshot)
    inherited = _inherited(snapshot)
    orphans = [
        *_rules(snapshot, alive), *veths, *_zones(snapshot), *_monitor(snapshot, alive),
        *_nft_era(snapshot, alive, names), *_cache(snapshot, names), *inherited,
        *_nft_inherited(snapshot, {o.id for o in inherited}),
    ]
    return OrphanReport(tuple(orphans), tuple(skipped), dict(snapshot.errors),
                        tuple(dict.fromkeys(snapshot.notes)))


def no_longer(orphan: Orphan, fresh: OrphanReport, snapshot: OrphanSnapshot) -> str:
    """Why a reviewed item is no orphan in a fresh report (it came back to life, or it is
    gone); "" if it still is one."""
    if orphan.key in fresh.by_key():
        return ""
    alive = alive_addresses(snapshot)
    names = {c.name for c in snapshot.instances}
    owner = orphan.owner
    if orphan.kind is OrphanKind.INHERITED:
        return f"{owner}: no longer inherited (its rules changed or a mode was recorded)"
    if owner and owner in alive:
        return f"{owner} belongs to {alive[owner]} again"
    if owner and owner in names and orphan.kind is not OrphanKind.ZONE:
        return f"instance {owner} exists again"
    if orphan.kind is OrphanKind.ZONE and owner in snapshot.links:
        return f"interface {owner} exists again"
    return "no longer there"


def reviewed_still(orphans: Iterable[Orphan], fresh: OrphanReport) -> list[Orphan]:
    """The fresh version of each reviewed item that is still an orphan."""
    now = fresh.by_key()
    return [now[o.key] for o in orphans if o.key in now]
