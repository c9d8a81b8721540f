"""Frozen data of COI's nftables era (docs/coi-nft-era.md). No I/O, no Textual.

Live objects (`NftRule`, `NftSet`, `NftChain`, `NftTable`) come from `nft -j` output
(backends/nft/json_model.py); desired ones (`RuleSpec`, `SetSpec`, `DesiredPolicy`) from
services/nft_policy.py. Both sides meet on `canonical` token tuples (nft_text.py):
a rule as `nft list` prints it, split into tokens, so COI's input text and the kernel's
JSON compare without parsing nft's text output.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from coi_tui.eras.nft.text import canonical_rule, comment_of, join_tokens
from coi_tui.models import HostEntry as HostEntry  # one class for config and policy
from coi_tui.models import Mode

COI_TABLE = "coi"
FILTER_TABLE = "filter"  # iptables-nft's table: only the NFT_* LOG rules in it are COI's
BASE_COMMENT = "coi-base"
SET_KINDS = ("s", "d", "sp", "dp")  # static, dynamic, static ports, dynamic ports

_MONITOR_PREFIX = re.compile(r"NFT_[A-Z]+\[([^\]]*)\]: ")


def nft_ident(ip: str) -> str:
    """A container IPv4 as it appears in set names: 10.47.62.5 -> 10_47_62_5."""
    return ip.replace(".", "_")


def set_name(kind: str, ip: str) -> str:
    """`coi_{s,d,sp,dp}_<ip_>`: the allowlist sets of one container."""
    if kind not in SET_KINDS:
        raise ValueError(f"unknown set kind {kind!r}")
    return f"coi_{kind}_{nft_ident(ip)}"


def set_names(ip: str) -> tuple[str, ...]:
    return tuple(set_name(kind, ip) for kind in SET_KINDS)


def rule_comment(ip: str) -> str:
    return f"coi-{ip}"


def boot_comment(name: str) -> str:
    return f"coi-boot-{name}"


def ip6_comment(name: str) -> str:
    return f"coi6-{name}"


@dataclass(frozen=True)
class NftRule:
    """One live rule. `canonical` is what comparisons use; `expr` (libnftables JSON) is
    kept for display and debugging only."""

    family: str
    table: str
    chain: str
    handle: int
    comment: str | None
    canonical: tuple[str, ...]
    expr: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    @property
    def text(self) -> str:
        """The rule as `nft list` prints it (without comment and handle)."""
        return join_tokens(self.canonical)

    @property
    def log_prefix(self) -> str | None:
        """The prefix of a `log` statement, e.g. "NFT_DNS[10.0.0.5]: "."""
        for item in self.expr:
            if isinstance(item, dict) and isinstance(item.get("log"), dict):
                prefix = item["log"].get("prefix")
                return prefix if isinstance(prefix, str) else None
        return None

    @property
    def monitor_ip(self) -> str | None:
        """The IP inside a COI monitoring LOG prefix `NFT_*[<ip>]: `, else None."""
        prefix = self.log_prefix
        match = _MONITOR_PREFIX.fullmatch(prefix) if prefix else None
        return match.group(1) if match else None

    def __str__(self) -> str:
        comment = f' comment "{self.comment}"' if self.comment is not None else ""
        return f"{self.text}{comment} # handle {self.handle}"


@dataclass(frozen=True)
class NftSet:
    family: str
    table: str
    name: str
    type: tuple[str, ...]  # ("ipv4_addr",) or ("ipv4_addr", "inet_service")
    flags: tuple[str, ...] = ()
    elements: tuple[str, ...] = ()  # canonical element text, e.g. "1.2.3.4 . 443"
    handle: int = 0


@dataclass(frozen=True)
class NftChain:
    family: str
    table: str
    name: str
    handle: int = 0
    type: str | None = None  # None: a regular chain (no hook)
    hook: str | None = None
    priority: int | None = None
    policy: str | None = None


@dataclass(frozen=True)
class NftTable:
    """One table as `nft -j list table|chain` shows it; rules in chain order."""

    family: str
    name: str
    handle: int = 0
    chains: tuple[NftChain, ...] = ()
    sets: tuple[NftSet, ...] = ()
    rules: tuple[NftRule, ...] = ()

    def chain(self, name: str) -> NftChain | None:
        return next((c for c in self.chains if c.name == name), None)

    def set(self, name: str) -> NftSet | None:
        return next((s for s in self.sets if s.name == name), None)

    def rules_in(self, chain: str) -> tuple[NftRule, ...]:
        return tuple(r for r in self.rules if r.chain == chain)


@dataclass(frozen=True)
class NftState:
    """What the transaction builder needs to know about the host: COI's two tables and
    the monitoring chain. None: the table (or chain) does not exist."""

    ip: NftTable | None = None  # `ip coi`
    ip6: NftTable | None = None  # `ip6 coi`
    monitor: NftTable | None = None  # `ip filter` (FORWARD chain only)


@dataclass(frozen=True)
class PortRange:
    low: int
    high: int

    def __post_init__(self) -> None:
        if not 1 <= self.low <= self.high <= 65535:
            raise ValueError(f"bad port range {self.low}-{self.high}")

    def __str__(self) -> str:
        return str(self.low) if self.low == self.high else f"{self.low}-{self.high}"


ALL_PORTS = PortRange(1, 65535)


@dataclass(frozen=True)
class NftSettings:
    """The nft-era [network] keys that shape a container's rules (docs/coi-nft-era.md §6)."""

    block_private_networks: bool = True
    block_metadata_endpoint: bool = True
    allow_local_network_access: bool = False
    allowed_domains: tuple[str, ...] = ()
    dns_servers: tuple[str, ...] = ()
    allowed_ports: tuple[int, ...] = ()
    hosts: tuple[HostEntry, ...] = ()


@dataclass(frozen=True)
class RuleSpec:
    """One rule exactly as COI emits it. `body` follows `add rule <family> <table> <chain>`;
    `insert` rules go to the top of the chain ([[network.hosts]] openings)."""

    family: str  # "ip" or "ip6"
    chain: str  # "forward" or "input"
    body: str
    insert: bool = False

    def command(self, table: str = COI_TABLE) -> str:
        verb = "insert" if self.insert else "add"
        return f"{verb} rule {self.family} {table} {self.chain} {self.body}"

    @property
    def canonical(self) -> tuple[str, ...]:
        return canonical_rule(self.body)

    @property
    def comment(self) -> str | None:
        return comment_of(self.body)


@dataclass(frozen=True)
class SetSpec:
    """One allowlist set with the elements COI puts in it (in COI's order)."""

    name: str
    kind: str  # one of SET_KINDS
    elements: tuple[str, ...] = ()

    @property
    def declaration(self) -> str:
        """The `{ ... }` COI creates the set with (NS ensureAllowlistSets)."""
        typ = "ipv4_addr" if self.kind in ("s", "d") else "ipv4_addr . inet_service"
        flags = {"s": "interval", "d": "timeout", "sp": "interval", "dp": "interval , timeout"}
        merge = "" if self.kind == "d" else " auto-merge ;"
        return f"{{ type {typ} ; flags {flags[self.kind]} ;{merge} }}"

    def add_set(self, table: str = COI_TABLE) -> str:
        return f"add set ip {table} {self.name} {self.declaration}"

    def add_elements(self, table: str = COI_TABLE) -> str | None:
        if not self.elements:
            return None
        return f"add element ip {table} {self.name} {{ {', '.join(self.elements)} }}"


@dataclass(frozen=True)
class DesiredPolicy:
    """Everything COI installs for one container in one mode. Rule tuples are in
    evaluation order (what the chain shows top-down for this container)."""

    ip: str
    name: str
    mode: Mode
    forward: tuple[RuleSpec, ...] = ()  # `ip coi forward`, `insert` ones included first
    input: tuple[RuleSpec, ...] = ()  # `ip coi input` (allowlist's DNS block)
    ip6: tuple[RuleSpec, ...] = ()  # `ip6 coi forward` (the coi6-<name> drop)
    sets: tuple[SetSpec, ...] = ()
    # every port a resolved name may be reached on: what an old answer (a resolved address
    # DNS no longer gives, kept as COI keeps it) may keep; empty: the allowlist has no name
    answer_ports: tuple[PortRange, ...] = ()
    # the same policy as older COI releases wrote it (docs/coi-nft-era.md §13), newest first:
    # their text in force is COI's rules for this mode, never drift
    older: tuple[DesiredPolicy, ...] = field(default=(), compare=False, repr=False)

    @property
    def dialects(self) -> tuple[DesiredPolicy, ...]:
        return (self, *self.older)

    @property
    def needs_input_chain(self) -> bool:
        return bool(self.input)
