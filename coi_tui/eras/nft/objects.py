"""COI's nft objects as the layers above the era seam see every rule (models.CoiRule).

A live rule (from `nft -j`) and a desired one (COI's text) become the same `NftCoiRule`, equal
when family, chain, the rule's tokens and its comment are equal: the handle is carried for
deletion, never compared. An allowlist set is one `NftCoiSet` pseudo-rule holding its elements,
so drift, the Rules view and ownership treat sets like rules. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from coi_tui.eras.nft.model import (
    COI_TABLE,
    DesiredPolicy,
    NftChain,
    NftRule,
    NftSet,
    NftState,
    NftTable,
    RuleSpec,
    SetSpec,
)
from coi_tui.eras.nft.text import as_kernel_holds, canonical_element, join_tokens
from coi_tui.models import CoiRule

_VERDICTS = {"accept": "ACCEPT", "reject": "REJECT", "drop": "DROP"}


def _after(tokens: tuple[str, ...], *words: str) -> str | None:
    n = len(words)
    for i in range(len(tokens) - n):
        if tokens[i:i + n] == words:
            return tokens[i + n]
    return None


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text))
    except ValueError:
        return None


@dataclass(frozen=True)
class NftCoiRule:
    """One rule of COI's nft era, in the shape every layer reads (like DirectRule)."""

    ipv: str  # the nft family: "ip" or "ip6"
    table: str
    chain: str
    args: tuple[str, ...]  # the rule's tokens as `nft list` prints them (no comment)
    comment: str | None = None
    handle: int | None = field(default=None, compare=False)  # None: not in the kernel (desired)
    priority: int = field(default=0, compare=False)  # position in the chain: evaluation order

    @property
    def canonical(self) -> tuple[str, ...]:
        return self.args  # already nft's tokens: what nft_policy compares on

    @property
    def source(self) -> str | None:
        return _after(self.args, "ip", "saddr")

    @property
    def destination(self) -> str | None:
        return _after(self.args, "ip", "daddr")

    @property
    def verdict(self) -> str | None:
        return _VERDICTS.get(self.args[-1]) if self.args else None

    def source_ip(self) -> str | None:
        """The container this rule belongs to: exactly the address in `coi-<ip>`."""
        if self.comment and self.comment.startswith("coi-"):
            return _ip(self.comment[4:])
        return None

    def owner_name(self) -> str | None:
        """Name-keyed rules: the boot block `coi-boot-<name>`, the IPv6 drop `coi6-<name>`."""
        for prefix in ("coi-boot-", "coi6-"):
            if self.comment and self.comment.startswith(prefix):
                return self.comment[len(prefix):]
        return None

    def __str__(self) -> str:
        comment = f' comment "{self.comment}"' if self.comment is not None else ""
        handle = f"  # handle {self.handle}" if self.handle is not None else ""
        return f"{self.ipv} {self.table} {self.chain}: {join_tokens(self.args)}{comment}{handle}"


@dataclass(frozen=True)
class NftCoiSet:
    """One allowlist set `coi_{s,d,sp,dp}_<ip_>` with its elements, shown as one rule."""

    name: str
    elements: tuple[str, ...] = ()  # sorted
    ipv: str = "ip"
    table: str = COI_TABLE
    chain: str = "(set)"
    priority: int = field(default=0, compare=False)

    @property
    def args(self) -> tuple[str, ...]:
        return ("set", self.name, "{", ", ".join(self.elements), "}")

    @property
    def kind(self) -> str:
        return self.name.split("_")[1]

    @property
    def source(self) -> str | None:
        return self.source_ip()

    @property
    def destination(self) -> str | None:
        return ", ".join(self.elements) or None

    @property
    def verdict(self) -> str | None:
        return None

    def source_ip(self) -> str | None:
        parts = self.name.split("_")
        return _ip(".".join(parts[2:])) if len(parts) == 6 else None

    def owner_name(self) -> str | None:
        return None

    def __str__(self) -> str:
        return f"set {self.ipv} {self.table} {self.name} {{ {', '.join(self.elements)} }}"


@dataclass(frozen=True)
class NftCoiChain:
    """A chain of COI's tables: there so the transaction builder knows what exists."""

    ipv: str
    table: str
    name: str
    hook: str | None = None
    chain: str = "(chain)"
    priority: int = field(default=0, compare=False)

    @property
    def args(self) -> tuple[str, ...]:
        return ("chain", self.name) + (("hook", self.hook) if self.hook else ())

    source = destination = verdict = None

    def source_ip(self) -> str | None:
        return None

    def owner_name(self) -> str | None:
        return None

    def __str__(self) -> str:
        return f"chain {self.ipv} {self.table} {self.name}"


NftObject = NftCoiRule | NftCoiSet | NftCoiChain


def _live_rules(table: NftTable | None) -> list[NftCoiRule]:
    if table is None:
        return []
    out = []
    positions: dict[str, int] = {}
    for rule in table.rules:
        positions[rule.chain] = positions.get(rule.chain, 0) + 1
        out.append(NftCoiRule(rule.family, rule.table, rule.chain, rule.canonical, rule.comment,
                              rule.handle, positions[rule.chain]))
    return out


def objects_of(state: NftState) -> tuple[NftObject, ...]:
    """Every object of COI's tables (and its monitor LOG rules) as CoiRules."""
    rules: list[NftObject] = [*_live_rules(state.ip), *_live_rules(state.ip6)]
    rules += [r for r in _live_rules(state.monitor) if _monitor(r)]
    if state.ip is not None:
        rules += [NftCoiSet(s.name, tuple(sorted(canonical_element(e) for e in s.elements)),
                            s.family, s.table) for s in state.ip.sets]
    for table in (state.ip, state.ip6):
        if table is not None:
            rules += [NftCoiChain(c.family, c.table, c.name, c.hook) for c in table.chains]
    return tuple(rules)


def _monitor(rule: NftCoiRule) -> bool:
    return any(a.startswith('"NFT_') for a in rule.args)


class DesiredObjects(tuple[NftObject, ...]):
    """What a policy puts in the kernel (newest COI text), carrying the same policy as each
    older COI release wrote it (`older`, see DesiredPolicy.older)."""

    older: tuple[tuple[NftObject, ...], ...]

    def __new__(cls, items: Iterable[NftObject],
                older: Iterable[tuple[NftObject, ...]] = ()) -> DesiredObjects:
        made = super().__new__(cls, items)
        made.older = tuple(older)
        return made


def _objects(policy: DesiredPolicy, table: str) -> tuple[NftObject, ...]:
    def rules(specs: Sequence[RuleSpec]) -> list[NftCoiRule]:
        return [NftCoiRule(s.family, table, s.chain, s.canonical, s.comment, None, i)
                for i, s in enumerate(specs, start=1)]

    inserted = [s for s in policy.forward if s.insert]
    ordered = [*reversed(inserted), *(s for s in policy.forward if not s.insert)]
    out: list[NftObject] = [*rules(ordered), *rules(policy.input), *rules(policy.ip6)]
    out += [NftCoiSet(s.name, tuple(sorted(as_kernel_holds(s.elements, s.kind == "s"))), "ip",
                      table) for s in policy.sets]
    return tuple(out)


def desired_objects(policy: DesiredPolicy, table: str = COI_TABLE) -> DesiredObjects:
    """What `policy` puts in the kernel, as CoiRules comparable with `objects_of`."""
    return DesiredObjects(_objects(policy, table), (_objects(o, table) for o in policy.older))


def written_as(expected: Sequence[CoiRule], live: Sequence[CoiRule]) -> tuple[CoiRule, ...]:
    """`expected` as the container's `live` objects write it: where live holds exactly the
    rules (and sets) of an older COI release's text for the same policy, that text (COI's
    rules for the mode, never drift); else `expected` unchanged. Sets are matched by name
    only (their elements are judged as they are, also for the newest text)."""
    older = expected.older if isinstance(expected, DesiredObjects) else ()
    if not older:
        return tuple(expected)

    def shape(objects: Iterable[CoiRule]) -> tuple[object, ...]:
        rules = [o for o in objects if isinstance(o, NftCoiRule)]
        chains = sorted({(r.ipv, r.chain) for r in rules})
        in_order = tuple(tuple((r.args, r.comment) for r in sorted(
            (r for r in rules if (r.ipv, r.chain) == chain), key=lambda r: r.priority))
            for chain in chains)  # positions: chain order, whatever else the chain holds
        sets = sorted(o.name for o in objects if isinstance(o, NftCoiSet))
        return tuple(chains), in_order, tuple(sets)

    have = shape(live)
    if shape(expected) == have:
        return tuple(expected)
    return next((tuple(o) for o in older if shape(o) == have), tuple(expected))


def state_of(objects: Iterable[CoiRule], table: str = COI_TABLE) -> NftState:
    """The NftState the transaction builder reads, from live CoiRules (handles kept)."""
    mine: list[NftObject] = [o for o in objects
                             if isinstance(o, NftCoiRule | NftCoiSet | NftCoiChain)]

    def table_of(family: str, name: str, chain: str | None = None) -> NftTable | None:
        chains = tuple(NftChain(o.ipv, o.table, o.name, hook=o.hook) for o in mine
                       if isinstance(o, NftCoiChain) and o.ipv == family and o.table == name)
        rules = tuple(
            NftRule(o.ipv, o.table, o.chain, o.handle or 0, o.comment, o.args)
            for o in mine if isinstance(o, NftCoiRule) and o.ipv == family
            and o.table == name and (chain is None or o.chain == chain))
        sets = tuple(NftSet(o.ipv, o.table, o.name, (), (), o.elements) for o in mine
                     if isinstance(o, NftCoiSet) and o.ipv == family and o.table == name)
        if not (chains or rules or sets):
            return None
        return NftTable(family, name, 0, chains, sets, rules)

    return NftState(ip=table_of("ip", table), ip6=table_of("ip6", table),
                    monitor=table_of("ip", "filter", "FORWARD"))


def set_specs(objects: Iterable[NftObject]) -> tuple[SetSpec, ...]:
    return tuple(SetSpec(o.name, o.kind, o.elements) for o in objects
                 if isinstance(o, NftCoiSet))
