"""Frozen DNS data shared by the resolver, the cache, the refresher, the CLI and the DNS view."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

# COI's MinTTLFloor (docs/coi-firewalld-era.md §3.1): an answer's TTL below this counts as this.
TTL_FLOOR = 60


class DomainStatus(StrEnum):
    FRESH = "fresh"  # resolved in the last refresh
    STALE = "stale"  # the last refresh failed: the cached IPs stay pinned
    FAILED = "failed"  # failed and nothing cached: no IPs
    BLOCKED = "blocked"  # resolved, but every address is a rebinding target
    LITERAL = "literal"  # a raw IPv4 entry: no DNS, never expires


@dataclass(frozen=True)
class DomainRecord:
    domain: str
    ips: tuple[str, ...] = ()  # the addresses to pin, sorted
    ttl: int = 0  # seconds, COI's floor applied; 0 for literals and unknown
    expires_at: float | None = None  # absolute (the clock's epoch); None: never / unknown
    status: DomainStatus = DomainStatus.FRESH
    blocked: tuple[tuple[str, str], ...] = ()  # (ip, reason) refused by the rebinding filter
    error: str = ""  # why the last resolution failed (stale / failed)

    def expires_in(self, now: float) -> int | None:
        """Whole seconds left (never negative), counted from the absolute expiry."""
        return None if self.expires_at is None else max(0, math.ceil(self.expires_at - now))

    @property
    def blocked_ips(self) -> tuple[str, ...]:
        return tuple(ip for ip, _ in self.blocked)
