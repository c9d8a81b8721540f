"""One connection attempt as the feed shows it, and the feed's counts. Frozen data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

SCHEMA = 1  # of every JSON line `traffic --json` and watch's history write


class Verdict(StrEnum):
    REACHED = "reached"
    REJECTED = "rejected"  # by COI's rules (or coi-tui's backstop, which holds them)
    DROPPED = "dropped"  # passed COI, stopped by some other table


@dataclass(frozen=True)
class Attempt:
    at: float  # epoch seconds
    container: str
    source: str
    protocol: str  # tcp, udp, icmp, ...
    destination: str
    port: int | None
    verdict: Verdict
    why: str  # in words: "private range", "not in the allowlist", "passed", ...
    rule: str | None = None  # the deciding rule as the kernel printed it, handle included
    where: str | None = None  # family table chain that decided
    name: str | None = None  # what the address was for, from the container's own answers
    query: str | None = None  # a DNS query's name
    to_host: bool = False  # the attempt went to the host itself (hook input), not through it
    sport: int | None = None  # pairs a DNS query with its name; not recorded

    def record(self) -> dict[str, object]:
        return {"schema": SCHEMA, "type": "attempt", "at": round(self.at, 3),
                "container": self.container,
                "source": self.source, "protocol": self.protocol,
                "destination": self.destination, "port": self.port,
                "verdict": str(self.verdict), "why": self.why, "rule": self.rule,
                "where": self.where, "name": self.name, "query": self.query,
                "to_host": self.to_host}

    @classmethod
    def from_record(cls, raw: dict[str, object]) -> Attempt:
        port = raw.get("port")
        return cls(at=float(str(raw["at"])), container=str(raw["container"]),
                   source=str(raw["source"]), protocol=str(raw["protocol"]),
                   destination=str(raw["destination"]),
                   port=int(str(port)) if port is not None else None,
                   verdict=Verdict(str(raw["verdict"])), why=str(raw["why"]),
                   rule=_text(raw.get("rule")), where=_text(raw.get("where")),
                   name=_text(raw.get("name")), query=_text(raw.get("query")),
                   to_host=bool(raw.get("to_host")))

    @property
    def target(self) -> str:
        """`name:port` (or the address) as a person asks for it; a DNS query, its name."""
        if self.query:
            return f"{self.query} (DNS)"
        where = self.name or self.destination
        return f"{where}:{self.port}" if self.port is not None else where


def _text(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Counts:
    """The kernel's exact counts per container (coi-tui's own table), beside the sampled
    feed: every new attempt and every one that passed, whatever the rate limit kept."""

    attempts: dict[str, int] = field(default_factory=dict)  # source address -> new attempts
    passed: dict[str, int] = field(default_factory=dict)
    seen: int = 0  # every new attempt from a watched address (the limit's input)
    traced: int = 0  # the ones the limit let into the feed

    def blocked(self, source: str) -> int:
        return max(0, self.attempts.get(source, 0) - self.passed.get(source, 0))

    @property
    def limited(self) -> int:
        """Attempts the rate limit kept out of the feed."""
        return max(0, self.seen - self.traced)
