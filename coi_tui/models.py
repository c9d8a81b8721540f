"""Frozen data shared by every layer. No I/O, no Textual."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Mode(StrEnum):
    OPEN = "open"
    RESTRICTED = "restricted"
    ALLOWLIST = "allowlist"


class ModeSource(StrEnum):
    SET = "set"  # read from the instance key user.coi.network.mode
    INFERRED = "inferred"  # recognised from COI's rule signatures
    NONE = "none"  # neither: the container is unprotected


MODE_CONFIG_KEY = "user.coi.network.mode"
# Set on a container the freeze guard froze, so that any later coi-tui thaws it (and only it).
FROZEN_BY_GUARD_KEY = "user.coi-tui.frozen-by-guard"


class Isolation(StrEnum):
    """Is a container's isolation in force? Three failures kept apart on purpose."""

    OK = "ok"
    DRIFT = "drift"  # rules readable, not what the mode says, nothing it rejects let through
    EXPOSED = "exposed"  # not in force: firewalld down, or the mode's REJECTs are missing
    UNKNOWN = "unknown"  # the rules cannot be read: no claim either way
    HELD = "held"  # frozen by the guard while its rules are not in force: no traffic
    # firewalld's rules are not in force, coi-tui's backstop blocks what the mode blocks
    BACKSTOP = "backstop"


class Ipv6(StrEnum):
    """A container's IPv6, from Incus state. COI's firewalld-era rules are IPv4 only."""

    OFF = "off"  # no inet6 address at all
    LINK_LOCAL = "link-local"  # fe80::/10 only: never routed past the bridge
    GLOBAL = "global"  # a global or ULA address: routed, past every IPv4 rule


class CoiRule(Protocol):
    """A rule of COI's as every layer above an era's backend reads it: DirectRule in the
    firewalld era; nft_rules.NftCoiRule / NftCoiSet / NftCoiChain in the nft era."""

    @property
    def ipv(self) -> str: ...
    @property
    def table(self) -> str: ...
    @property
    def chain(self) -> str: ...
    @property
    def priority(self) -> int: ...
    @property
    def args(self) -> tuple[str, ...]: ...
    @property
    def source(self) -> str | None: ...
    @property
    def destination(self) -> str | None: ...
    @property
    def verdict(self) -> str | None: ...
    def source_ip(self) -> str | None:
        """The address of the container the rule belongs to (exact), if address-keyed."""
        ...
    def owner_name(self) -> str | None:
        """The name of the container the rule belongs to, if name-keyed."""
        ...


@dataclass(frozen=True)
class Container:
    name: str
    project: str
    status: str  # Incus status: Running, Stopped, Frozen, ...
    ipv4: str | None
    veth: str | None  # host side of eth0
    network: str | None  # the Incus network eth0 is attached to
    mode_key: str | None  # raw value of user.coi.network.mode, if set
    type: str = "container"
    held: bool = False  # frozen by coi-tui's freeze guard (FROZEN_BY_GUARD_KEY)
    # Where a stopped instance's address is recorded: its eth0 MAC (DHCP lease) or static IPv4
    hwaddr: str | None = None
    static_ipv4: str | None = None
    ipv6: Ipv6 = Ipv6.OFF

    @property
    def key(self) -> str:
        return f"{self.project}/{self.name}"


@dataclass(frozen=True)
class Network:
    name: str
    ipv4_address: str | None  # e.g. "10.147.0.1/24"

    @property
    def gateway(self) -> str | None:
        return self.ipv4_address.split("/")[0] if self.ipv4_address else None


@dataclass(frozen=True)
class Link:
    name: str
    kind: str | None  # "veth", "bridge", ... from uevent DEVTYPE or None
    master: str | None  # bridge it is enslaved to
    ifindex: int | None = None
    iflink: int | None = None  # a veth: its peer's ifindex (in the peer's namespace)


@dataclass(frozen=True)
class HostEntry:
    """One `[[network.hosts]]` table of COI's nft era: a name for /etc/hosts and a firewall
    opening to `ip` (only on `ports` when given)."""

    ip: str
    hostnames: tuple[str, ...] = ()
    ports: tuple[int, ...] = ()


@dataclass(frozen=True)
class Opening:
    """A grant of coi-tui's on top of a container's mode (never from COI's config): one
    destination reachable on one port (all when None), a name for /etc/hosts. `ended`: a
    grant that just ended, whose name leaves /etc/hosts (it opens nothing)."""

    address: str
    port: int | None = None
    name: str | None = None
    expires_in: int | None = None  # seconds left (nft: the element's timeout); None: none
    ended: bool = False


@dataclass(frozen=True)
class NetworkSettings:
    """The effective [network] settings that shape a rule set."""

    mode: Mode = Mode.RESTRICTED
    block_private_networks: bool = True
    block_metadata_endpoint: bool = True
    allow_local_network_access: bool = False
    allowed_domains: tuple[str, ...] = ()  # as written: nft-era entries may be `dest:ports`
    refresh_interval_minutes: int = 30
    # COI's nftables era (docs/coi-nft-era.md §6); the firewalld era has no use for them
    use_sudo: bool = True
    dns_servers: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    hosts: tuple[HostEntry, ...] = ()
    # coi-tui's grants for the one container being planned (keep/grants.py), never config
    openings: tuple[Opening, ...] = ()


@dataclass(frozen=True)
class ContainerState:
    """One row of the inventory: a container joined with its rules and links."""

    container: Container
    rules: tuple[CoiRule, ...] = ()
    mode: Mode | None = None
    mode_source: ModeSource = ModeSource.NONE
    expected_rules: tuple[CoiRule, ...] | None = None  # None: unknown (no policy yet)
    veth_master: str | None = None
    isolation: Isolation | None = None  # None: nothing to isolate (no IPv4)
    reason: str = ""  # why the isolation is what it is, for a person
    # nft era: COI's `ip6 coi` drop (`iifname <veth> drop`) is there. It holds nothing: on
    # the forward hook a bridged container's packet comes in on the bridge, not the veth
    # (the lab's probe reaches the LAN host over IPv6 with it in place)
    ipv6_dropped: bool = False

    @property
    def ipv6_bypass(self) -> bool:
        """Routed IPv6 on a container whose mode blocks something: every IPv4 rule of that
        mode is passed by (COI's nft-era drop included, see `ipv6_dropped`)."""
        return (self.container.ipv6 is Ipv6.GLOBAL
                and self.mode in (Mode.RESTRICTED, Mode.ALLOWLIST))

    @property
    def unprotected(self) -> bool:
        return (self.mode is None and self.container.ipv4 is not None
                and self.isolation is not Isolation.UNKNOWN)

    @property
    def drift(self) -> bool:
        return self.isolation is Isolation.DRIFT

    @property
    def exposed(self) -> bool:
        return self.isolation is Isolation.EXPOSED


@dataclass(frozen=True)
class BackendStatus:
    name: str  # "incus", or the era's firewall: "firewalld" / "nft"
    ok: bool
    detail: str = ""
    down: bool = False  # known not running (for firewalld: its rules are flushed)
    firewall: bool = False  # the status of the firewall that holds COI's rules
    access: str = ""  # how the firewall is reached: its backend's name ("D-Bus", "sudo nft")


@dataclass(frozen=True)
class Inventory:
    containers: tuple[ContainerState, ...] = ()
    rules: tuple[CoiRule, ...] = ()  # every COI rule, owned or not
    owners: dict[CoiRule, str] = field(default_factory=dict)  # rule -> container key
    backends: tuple[BackendStatus, ...] = ()
    taken_at: float = 0.0

    def owner_of(self, rule: CoiRule) -> str | None:
        return self.owners.get(rule)

    def backend(self, name: str) -> BackendStatus | None:
        return next((b for b in self.backends if b.name == name), None)

    @property
    def firewall_status(self) -> BackendStatus | None:
        return next((b for b in self.backends if b.firewall), None)

    @property
    def exposed(self) -> tuple[ContainerState, ...]:
        return tuple(s for s in self.containers if s.isolation is Isolation.EXPOSED)

    @property
    def firewall_down(self) -> bool:
        status = self.firewall_status
        return status is not None and status.down

    @property
    def in_force(self) -> bool:
        """False when isolation is not in force or cannot be vouched for (status exits 1)."""
        return not self.firewall_down and not any(
            s.isolation in (Isolation.EXPOSED, Isolation.UNKNOWN, Isolation.HELD)
            for s in self.containers)
