"""COI's IP cache, `~/.coi/network-cache/<container>.json` (docs/coi-firewalld-era.md §3.3),
read and written byte-compatibly: field names `domains` / `ttls` (omitempty) / `last_update`
(Go RFC3339Nano), 2-space JSON as Go's MarshalIndent writes it, dir 0755, file 0644.

Writes are atomic (temp file in the same directory, fsync, os.replace). A file that does not
parse is reported (CacheError) and never overwritten. Merging keeps a failed domain's cached
IPs, marked stale: a DNS failure never shrinks an allowlist (docs/design.md §3.5).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from coi_tui.eras.firewalld.policy import filter_allowed_ips
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.resolve import Resolution, is_ipv4_literal, resolution_from_records

ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time, as COI writes an empty cache


class CacheError(ValueError):
    """A cache file that exists but is not COI's format; str() names the file and why."""


@dataclass(frozen=True)
class IpCache:
    domains: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    ttls: Mapping[str, int] | None = None  # None: the file had no `ttls` (pre-#204)
    last_update: datetime | None = None  # None: Go's zero time

    def same_pins(self, other: IpCache) -> bool:
        """COI's IPsUnchanged, plus the TTLs (what a rewrite would change)."""
        return ({d: set(v) for d, v in self.domains.items()}
                == {d: set(v) for d, v in other.domains.items()}
                and dict(self.ttls or {}) == dict(other.ttls or {}))

    @property
    def ips(self) -> frozenset[str]:
        return frozenset(ip for ips in self.domains.values() for ip in ips)


def cache_dir(home: Path) -> Path:
    return home / ".coi" / "network-cache"


def cache_path(container: str, home: Path) -> Path:
    return cache_dir(home) / f"{container}.json"


# ------------------------------------------------------------------ RFC 3339 (Go's flavour)
_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)


def parse_rfc3339(text: str) -> datetime | None:
    """Go's RFC3339Nano; the zero time gives None. Nanoseconds are cut to microseconds."""
    match = _RFC3339.match(text)
    if not match:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    if year == 1 and (month, day, hour, minute, second) == (1, 1, 0, 0, 0):
        return None
    micros = int((match.group(7) or "0").ljust(9, "0")[:6])
    zone = match.group(8)
    if zone in ("Z", "z"):
        tz: timezone = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    return datetime(year, month, day, hour, minute, second, micros, tzinfo=tz)


def format_rfc3339(moment: datetime | None) -> str:
    """As Go's time.RFC3339Nano: fraction without trailing zeros, `Z` for UTC."""
    if moment is None:
        return ZERO_TIME
    if moment.tzinfo is None:
        raise ValueError("a cache timestamp needs a time zone")
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += "." + f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


# ------------------------------------------------------------------ the file format
def parse_cache(text: str, where: str = "cache") -> IpCache:
    try:
        data = json.loads(text)
    except ValueError as error:
        raise CacheError(f"{where}: not JSON ({error})") from None
    if not isinstance(data, dict):
        raise CacheError(f"{where}: not a JSON object")
    try:
        domains = data.get("domains") or {}
        ttls = data.get("ttls")
        if not isinstance(domains, dict) or not all(
            isinstance(d, str) and isinstance(v, list | None)
            and all(isinstance(ip, str) for ip in v or []) for d, v in domains.items()
        ):
            raise ValueError("`domains` is not a map of lists of strings")
        if ttls is not None and not (isinstance(ttls, dict) and all(
            isinstance(v, int) and not isinstance(v, bool) for v in ttls.values()
        )):
            raise ValueError("`ttls` is not a map of integers")
        last = data.get("last_update", ZERO_TIME)
        if not isinstance(last, str):
            raise ValueError("`last_update` is not a string")
        return IpCache(
            {d: tuple(v or ()) for d, v in domains.items()},
            None if ttls is None else dict(ttls),
            parse_rfc3339(last),
        )
    except ValueError as error:
        raise CacheError(f"{where}: {error}") from None


def format_cache(cache: IpCache) -> str:
    """Byte for byte what COI's json.MarshalIndent(cache, "", "  ") writes (maps sorted,
    `ttls` left out when empty, no trailing newline)."""
    domains = {d: list(cache.domains[d]) for d in sorted(cache.domains)}
    data: dict[str, object] = {"domains": domains}
    if cache.ttls:
        data["ttls"] = {d: cache.ttls[d] for d in sorted(cache.ttls)}
    data["last_update"] = format_rfc3339(cache.last_update)
    return json.dumps(data, indent=2, ensure_ascii=False)


def load_cache(path: Path) -> IpCache:
    """A missing file is an empty cache; one that does not parse raises CacheError."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return IpCache()
    except (OSError, UnicodeDecodeError) as error:
        raise CacheError(f"{path}: {error}") from None
    return parse_cache(text, str(path))


def save_cache(path: Path, cache: IpCache) -> None:
    """Atomically replace `path`; refuses (CacheError) to replace a file that does not parse."""
    if path.exists():
        load_cache(path)  # raises for a corrupt file: it is reported, never overwritten
    path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(format_cache(cache))
            handle.flush()
            os.fchmod(handle.fileno(), 0o644)
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # the rename itself survives a crash
    finally:
        os.close(dir_fd)


# ------------------------------------------------------------------ resolution <-> cache
def cache_from_resolution(resolution: Resolution, now: datetime) -> IpCache:
    """What to pin and remember: every domain that has IPs (stale ones with their cached IPs);
    failed and blocked-only domains are left out, as COI leaves out what did not resolve."""
    records = [r for r in resolution.records.values() if r.ips]
    return IpCache({r.domain: r.ips for r in records}, {r.domain: r.ttl for r in records}, now)


def merge_cached(
    resolution: Resolution, caches: Iterable[IpCache], allow_local: bool
) -> Resolution:
    """COI's ResolveAll fallback: a domain that failed keeps its cached IPs (the first cache
    that has some), marked stale with the cached TTL. Cached IPs of a domain go through the
    rebinding filter again (COI's own files hold unfiltered answers); literals never do."""
    caches = tuple(caches)
    records = []
    for record in resolution.records.values():
        if record.status is not DomainStatus.FAILED or is_ipv4_literal(record.domain):
            records.append(record)
            continue
        cached = next((c for c in caches if c.domains.get(record.domain)), None)
        if cached is None:
            records.append(record)
            continue
        allowed, refused = filter_allowed_ips(cached.domains[record.domain], allow_local)
        ttl = (cached.ttls or {}).get(record.domain, 0)
        records.append(replace(record, ips=tuple(sorted(allowed)), ttl=ttl, expires_at=None,
                               status=DomainStatus.STALE, blocked=tuple(refused.items())))
    return resolution_from_records(records, resolution.resolved_at)


def stale_from_memory(
    resolution: Resolution, remembered: Mapping[str, DomainRecord]
) -> Resolution:
    """The same fallback from what this process resolved before (when no cache file has it)."""
    records = []
    for record in resolution.records.values():
        before = remembered.get(record.domain)
        if record.status is DomainStatus.FAILED and before is not None and before.ips:
            record = replace(before, expires_at=None, status=DomainStatus.STALE,
                             error=record.error)
        records.append(record)
    return resolution_from_records(records, resolution.resolved_at)


def cached_allowlist(container: str, home: Path, allow_local: bool) -> tuple[str, ...] | None:
    """The IPs COI's cache pins for a container, through the rebinding filter again; None when
    unknown (no file, an empty one, or one that does not parse): never an empty allowlist."""
    try:
        cache = load_cache(cache_path(container, home))
    except CacheError:
        return None
    allowed, _refused = filter_allowed_ips(sorted(cache.ips), allow_local)
    return tuple(sorted(allowed)) or None
