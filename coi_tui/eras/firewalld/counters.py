"""Packet and byte counters of COI's firewalld direct rules, as the kernel keeps them.

firewalld hands direct rules to iptables-nft, which gives each one a `counter` in nftables'
`ip filter` table (chain FORWARD, or FORWARD_direct where firewalld makes one). Reading them
is one `nft -j list table ip filter`; nothing is changed, COI's rules least of all.

`match_counters` (pure) pairs each DirectRule with its kernel rule by chain, source,
destination and verdict, in order (firewalld keeps direct rules by priority);
`RuleCounterReader` reads the table and does that for any rule list (it skips what is not a
DirectRule, so in the nft era it reads nothing); `counter_deltas` turns two readings into
what happened between them, never negative.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict, deque
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.cli import NftCli
from coi_tui.eras.nft.json_model import render_element
from coi_tui.eras.nft.model import FILTER_TABLE, NftRule, NftTable
from coi_tui.errors import CoiTuiError
from coi_tui.models import CoiRule

K = TypeVar("K", bound=Hashable)
# (chain, source, destination, verdict): what a direct rule and its kernel rule share
Key = tuple[str, str | None, str | None, str | None]


@dataclass(frozen=True)
class RuleCounter:
    handle: int  # the kernel rule's handle: a re-added rule has a new one
    packets: int
    bytes: int


def _address(text: str | None) -> str | None:
    """iptables' form: a /32 is a bare address, 0.0.0.0/0 is no match at all."""
    if text is None:
        return None
    negated, bare = text.startswith("!"), text.removeprefix("!")
    try:
        net = ipaddress.ip_network(bare, strict=False)
    except ValueError:
        return text
    if net.prefixlen == 0 and not negated:
        return None
    shown = str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)
    return f"!{shown}" if negated else shown


def direct_key(rule: DirectRule) -> Key:
    return (rule.chain, _address(rule.source), _address(rule.destination),
            (rule.verdict or "").lower() or None)


def _kernel_chain(chain: str) -> str:
    return chain.removesuffix("_direct")


def kernel_key(rule: NftRule) -> tuple[Key, RuleCounter | None]:
    """The rule's key and its counter (None: the rule has no counter)."""
    source = destination = verdict = None
    counter = None
    for item in rule.expr:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (kind, body), = item.items()
        if kind == "match" and isinstance(body, dict):
            left = body.get("left")
            payload = left.get("payload") if isinstance(left, dict) else None
            field_ = payload.get("field") if isinstance(payload, dict) else None
            value = render_element(body.get("right"))
            value = value if body.get("op", "==") == "==" else f"!{value}"
            if field_ == "saddr":
                source = _address(value)
            elif field_ == "daddr":
                destination = _address(value)
        elif kind == "counter" and isinstance(body, dict):
            counter = RuleCounter(rule.handle, _count(body, "packets"), _count(body, "bytes"))
        elif kind == "xt" and isinstance(body, dict) and body.get("type") == "target":
            verdict = str(body.get("name")).lower()  # REJECT, LOG, ... as iptables-nft keeps it
        elif kind in ("accept", "drop", "return", "reject"):
            verdict = kind
        elif kind in ("jump", "goto") and isinstance(body, dict):
            verdict = str(body.get("target")).lower()
    return (_kernel_chain(rule.chain), source, destination, verdict), counter


def _count(body: Mapping[str, Any], name: str) -> int:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def match_counters(rules: Sequence[DirectRule], table: NftTable | None
                   ) -> dict[DirectRule, RuleCounter]:
    """Each ipv4 filter rule of `rules` with the counter of its kernel rule. Rules sharing a
    key pair up in order: the lowest priority first, as firewalld puts them in the chain.
    A rule with no kernel rule (or no counter) is left out."""
    if table is None:
        return {}
    waiting: dict[Key, deque[RuleCounter | None]] = defaultdict(deque)
    for kernel in table.rules:
        key, counter = kernel_key(kernel)
        waiting[key].append(counter)
    found: dict[DirectRule, RuleCounter] = {}
    mine = [r for r in rules if (r.ipv, r.table) == ("ipv4", FILTER_TABLE)]
    for rule in sorted(mine, key=lambda r: r.priority):
        queue = waiting.get(direct_key(rule))
        counter = queue.popleft() if queue else None
        if counter is not None:
            found[rule] = counter
    return found


def counter_deltas(before: Mapping[K, RuleCounter], after: Mapping[K, RuleCounter]
                   ) -> dict[K, RuleCounter]:
    """What each rule of `after` counted since `before`. A rule re-added since (a new
    handle) or new starts from its own count; a count never goes negative."""
    deltas: dict[K, RuleCounter] = {}
    for key, now in after.items():
        then = before.get(key)
        if then is None or then.handle != now.handle or now.packets < then.packets \
                or now.bytes < then.bytes:
            deltas[key] = now
        else:
            deltas[key] = RuleCounter(now.handle, now.packets - then.packets,
                                      now.bytes - then.bytes)
    return deltas


@dataclass(frozen=True)
class CounterReading:
    counts: Mapping[CoiRule, RuleCounter] = field(default_factory=dict)
    problem: str | None = None  # one line: why the counters could not be read


class TableLister(Protocol):
    def list_table(self, family: str, table: str) -> NftTable | None: ...


class RuleCounterReader:
    """Reads the counters of the DirectRules among `rules` (one nft call, none when there
    are none). Root runs nft; others need `sudo -n nft` (NftCli says how, in one line)."""

    def __init__(self, nft: TableLister | None = None) -> None:
        self._nft = nft

    def __call__(self, rules: Sequence[CoiRule]) -> CounterReading:
        direct = [r for r in rules if isinstance(r, DirectRule)]
        if not direct:
            return CounterReading()
        try:
            self._nft = self._nft or NftCli()
            table = self._nft.list_table("ip", FILTER_TABLE)
        except CoiTuiError as error:
            return CounterReading(problem=f"rule counters not readable: {error}")
        counts: dict[CoiRule, RuleCounter] = {
            rule: counter for rule, counter in match_counters(direct, table).items()}
        return CounterReading(counts)
