"""`nft monitor trace` text, line by line, into attempts. Pure.

coi-tui's own table sets `meta nftrace` on each new attempt of a watched container (rate
limited); the kernel then reports every base chain and rule the packet meets, in every table,
in order. The first `drop` (a reject is reported as a drop) decided; none means it went
through. nft 1.0.6 (Debian 12) prints traces only as text (`-j` is ignored for them), so the
shapes below are pinned by lines captured on the lab (tests/unit/test_traffic_trace.py)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from coi_tui.services.traffic.attempts import Attempt, Verdict
from coi_tui.services.traffic.why import Decision, decide

_LINE = re.compile(r"^trace id (?P<id>[0-9a-f]+) (?P<family>\S+) (?P<table>\S+) "
                   r"(?P<chain>\S+) (?P<rest>.*)$")
_RULE = re.compile(r"^rule (?P<text>.*?)(?: # handle (?P<handle>\d+))? "
                   r"\(verdict (?P<verdict>\w+)(?: (?P<target>\S+))?\)$")
# the monitor knows the rules that were there when it started; a newer one it names by handle
_UNKNOWN = re.compile(r"^unknown rule handle (?P<handle>\d+) \(verdict (?P<verdict>\w+)")
_POLICY = re.compile(r"^policy (?P<verdict>\w+)")
_FIELD = re.compile(r"\b(ip6?) (saddr|daddr) (\S+)|\b(tcp|udp|sctp|dccp) (sport|dport) (\d+)"
                    r"|\b(icmp|icmpv6) type (\S+)")
_COUNTER = re.compile(r" counter packets \d+ bytes \d+")
QUIET = 0.3  # seconds without a line after which a trace that met no drop went through


@dataclass(frozen=True)
class TraceLine:
    id: str
    family: str
    table: str
    chain: str
    kind: str  # packet, rule, policy, other
    text: str = ""  # a rule's text (its counter left out), a packet's fields
    handle: int | None = None
    verdict: str | None = None


def parse_line(line: str) -> TraceLine | None:
    match = _LINE.match(line.rstrip())
    if match is None:
        return None
    head = TraceLine(match["id"], match["family"], match["table"], match["chain"], "other")
    rest = match["rest"]
    if rest.startswith("packet:"):
        return replace(head, kind="packet", text=rest.removeprefix("packet:").strip())
    rule = _RULE.match(rest)
    if rule is not None:
        handle = rule["handle"]
        return replace(head, kind="rule", text=_COUNTER.sub("", rule["text"]).strip(),
                       handle=int(handle) if handle else None, verdict=rule["verdict"])
    unknown = _UNKNOWN.match(rest)
    if unknown is not None:
        return replace(head, kind="rule", handle=int(unknown["handle"]),
                       verdict=unknown["verdict"])
    policy = _POLICY.match(rest)
    if policy is not None:
        return replace(head, kind="policy", verdict=policy["verdict"])
    return replace(head, text=rest.strip())


@dataclass(frozen=True)
class Packet:
    source: str
    destination: str
    protocol: str
    port: int | None
    sport: int | None


def packet_of(fields: str) -> Packet | None:
    values: dict[str, str] = {}
    protocol, port, sport = "", None, None
    for m in _FIELD.finditer(fields):
        if m[1]:
            values.setdefault(m[2], m[3])
        elif m[4]:
            protocol = m[4]
            if m[5] == "dport":
                port = int(m[6])
            else:
                sport = int(m[6])
        elif m[7] and not protocol:
            protocol = m[7]
    if "saddr" not in values or "daddr" not in values:
        return None
    return Packet(values["saddr"], values["daddr"], protocol or "ip", port, sport)


@dataclass
class _Pending:
    packet: Packet
    to_host: bool
    last: float
    lines: list[TraceLine] = field(default_factory=list)


RuleText = Callable[[str, str, str, int], str | None]  # family, table, chain, handle


class TraceAssembler:
    """Lines in, finished attempts out. `container_of(address)` names a watched source
    (None: not ours, the trace is ignored); `mode_of(container)` is its recorded mode's
    name, which words a blanket reject; `input_chains` are coi-tui's own chains on the
    input hook (an attempt that started there went to the host itself); `rule_text` reads
    a rule the trace names only by its handle."""

    def __init__(self, container_of: Callable[[str], str | None],
                 mode_of: Callable[[str], str | None], own_table: str,
                 input_chains: frozenset[str], rule_text: RuleText | None = None) -> None:
        self.container_of = container_of
        self._rule_text = rule_text
        self._mode_of = mode_of
        self._own_table = own_table
        self._input_chains = input_chains
        self._pending: dict[str, _Pending] = {}

    def feed(self, line: str, now: float) -> Iterator[Attempt]:
        parsed = parse_line(line)
        if parsed is None:
            return
        pending = self._pending.get(parsed.id)
        if pending is None:
            if parsed.kind != "packet" or parsed.table != self._own_table:
                return  # someone else's trace, or one whose start we missed
            packet = packet_of(parsed.text)
            if packet is None or self.container_of(packet.source) is None:
                return
            pending = self._pending[parsed.id] = _Pending(
                packet, parsed.chain in self._input_chains, now)
        pending.last = now
        pending.lines.append(parsed)
        if parsed.verdict == "drop":
            del self._pending[parsed.id]
            yield self._attempt(pending)

    def flush(self, now: float, quiet: float = QUIET) -> Iterator[Attempt]:
        """Traces quiet for `quiet` seconds met no drop: they went through."""
        for key in [k for k, p in self._pending.items() if now - p.last >= quiet]:
            yield self._attempt(self._pending.pop(key))

    def _attempt(self, pending: _Pending) -> Attempt:
        packet = pending.packet
        container = self.container_of(packet.source) or packet.source
        last = pending.lines[-1]
        if (last.kind == "rule" and not last.text and last.handle is not None
                and self._rule_text is not None):
            text = self._rule_text(last.family, last.table, last.chain, last.handle)
            last = replace(last, text=_COUNTER.sub("", text or "").strip())
        decision = (decide(last.family, last.table, last.chain, last.text, last.kind,
                           packet.protocol, packet.port, self._mode_of(container),
                           pending.to_host)
                    if last.verdict == "drop" else Decision(Verdict.REACHED, "passed"))
        rule = None
        if last.verdict == "drop" and last.kind == "rule":
            rule = last.text + (f" # handle {last.handle}" if last.handle is not None else "")
        return Attempt(at=pending.last, container=container, source=packet.source,
                       protocol=packet.protocol, destination=packet.destination,
                       port=packet.port, verdict=decision.verdict, why=decision.why,
                       rule=rule,
                       where=(f"{last.family} {last.table} {last.chain}"
                              if last.verdict == "drop" else None),
                       to_host=pending.to_host, sport=packet.sport)
