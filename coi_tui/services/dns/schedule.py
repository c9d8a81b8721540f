"""COI's refresh schedule (docs/coi-firewalld-era.md §3.2, `startRefresher`), as its code
does it. Pure.

interval = min TTL over the domains (TTLs > 0 only: literals and unknown TTLs do not count),
capped at refresh_interval_minutes; no TTL at all -> the cap; refresh_interval_minutes <= 0
disables the refresher. The 60 s floor is applied per answer when resolving (as COI's QueryDNS
does), so the interval lies in [60 s, cap] whenever the cap is at least a minute.
"""

from __future__ import annotations

from collections.abc import Iterable

from coi_tui.services.dns.records import DomainRecord, DomainStatus

# Where COI's code and its docs disagree we follow the code; the UI shows why.
SCHEDULE_NOTE = (
    "as COI's code does (since #204): refresh at the shortest TTL (60 s floor), at most every "
    "refresh_interval_minutes; older COI and its docs describe a fixed interval. COI's config "
    "merge ignores refresh_interval_minutes = 0 (the lower layer's value, 30 by default, "
    "stays): only a negative value disables refresh"
)
DISABLED_NOTE = "IP refresh disabled (refresh_interval_minutes <= 0)"


def min_ttl(records: Iterable[DomainRecord]) -> int:
    """COI's GetMinTTL: the smallest TTL > 0 of what the last refresh pinned (a stale domain
    counts with its cached TTL); 0 when there is none."""
    ttls = [r.ttl for r in records if r.ttl > 0 and r.status is not DomainStatus.FAILED]
    return min(ttls, default=0)


def refresh_interval(min_ttl_seconds: int, refresh_interval_minutes: int) -> int | None:
    """Seconds until the next refresh, or None when refresh is disabled."""
    if refresh_interval_minutes <= 0:
        return None
    cap = refresh_interval_minutes * 60
    return cap if min_ttl_seconds <= 0 else min(min_ttl_seconds, cap)


def interval_for(records: Iterable[DomainRecord], refresh_interval_minutes: int) -> int | None:
    return refresh_interval(min_ttl(records), refresh_interval_minutes)


def next_refresh_at(last_refresh_at: float | None, interval: int | None) -> float | None:
    if interval is None or last_refresh_at is None:
        return None
    return last_refresh_at + interval


def seconds_until(at: float | None, now: float) -> int | None:
    """A countdown from an absolute time: whole seconds left, never negative."""
    if at is None:
        return None
    left = at - now
    return 0 if left <= 0 else int(left) + (left > int(left))


def go_duration(seconds: int) -> str:
    """How COI logs an interval (Go's time.Duration.String for whole seconds): 5m0s, 1h0m0s."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"
