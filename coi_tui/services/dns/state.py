"""What the refresher publishes (the DNS view, `coi-tui dns`, the report). Frozen data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from coi_tui.services.dns.pins import OldAnswer
from coi_tui.services.dns.records import DomainRecord
from coi_tui.services.dns.schedule import SCHEDULE_NOTE


@dataclass(frozen=True)
class RefreshResult:
    at: float
    ok: bool  # every domain answered and every queued job (so far) succeeded
    summary: str  # one line, e.g. "3 domains: 2 fresh, 1 stale; re-apply coi-lab-3"
    changed: tuple[str, ...] = ()  # containers a re-apply was queued for
    jobs: tuple[int, ...] = ()  # their job ids (when submit returns one)
    failed_jobs: tuple[str, ...] = ()  # "container: reason"
    errors: tuple[str, ...] = ()  # resolution / cache / backend problems


@dataclass(frozen=True)
class ContainerPins:
    name: str
    ipv4: str | None
    cache_file: str
    cached_ips: tuple[str, ...]  # pinned according to COI's cache file
    rule_ips: tuple[str, ...] | None  # pinned according to the live rules (None: unknown)
    last_update: datetime | None = None  # the cache file's
    cache_error: str = ""  # the cache file does not parse: reported, kept as it is
    # pins DNS no longer gives (eras that keep old answers); None: unknown or not kept
    old_answers: tuple[OldAnswer, ...] | None = None
    # the container's /etc/hosts block against the answers ("in step", what differs);
    # "" where the era writes none
    hosts_file: str = ""


@dataclass(frozen=True)
class DnsState:
    records: tuple[DomainRecord, ...] = ()
    interval: int | None = None  # seconds; None: refresh disabled (or nothing resolved yet)
    next_refresh_at: float | None = None  # absolute, the refresher's clock
    last_refresh: RefreshResult | None = None
    containers: tuple[ContainerPins, ...] = ()
    enabled: bool = True
    note: str = SCHEDULE_NOTE
