"""Resolves the allowlist's domains to IPv4 addresses (concurrently), keeping raw IPv4 literals.

Per domain: its A records and an absolute expiry. The expiry comes from dnspython's
`answer.expiration`, which already takes the minimum TTL over the whole answer chain (a
short-TTL CNAME in front of a long-TTL A counts), with COI's 60 s floor applied
(docs/coi-firewalld-era.md §3.1). Raw IPv4 entries pass through with TTL 0; IPv6 literals
are refused with COI's message.

Entries of COI's nft era may carry ports, `dest:443,8000-8100` (docs/coi-nft-era.md §4.1): the
name is resolved without them and its record is the name's (one record for `x` and `x:443`).
The firewalld era has no per-port rules, so there the ports widen to every port; an IPv4 CIDR
(nft era: a static set element) is no single address and fails here with that reason.

Addresses a *domain* resolves to that are private, loopback, link-local or otherwise no public
host are refused unless local network access is allowed: DNS must not open the LAN (docs/design.md
§3.6; `policy.filter_allowed_ips`). A literal the user wrote is taken as meant.
"""

from __future__ import annotations

import ipaddress
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

import dns.exception
import dns.resolver

from coi_tui.eras.firewalld.policy import filter_allowed_ips
from coi_tui.services.dns.records import TTL_FLOOR, DomainRecord, DomainStatus

Clock = Callable[[], float]  # epoch seconds; time.time in production, a fake in tests
DEFAULT_TIMEOUT = 5.0  # COI's per-query timeout
MAX_WORKERS = 32  # 50 domains at 50 ms: 2 rounds instead of 50 sequential queries


class Querier(Protocol):
    """What resolve_allowlist needs of a dns.resolver.Resolver (tests pass a fake)."""

    def resolve(self, qname: str, rdtype: str = ..., *, lifetime: float | None = ...
                ) -> dns.resolver.Answer: ...


@dataclass(frozen=True)
class Resolution:
    ips: tuple[str, ...] = ()  # allowed addresses, sorted, unique
    blocked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> refused IPs
    failed: Mapping[str, str] = field(default_factory=dict)  # domain -> reason
    ttls: Mapping[str, int] = field(default_factory=dict)  # floored; literals 0
    records: Mapping[str, DomainRecord] = field(default_factory=dict)  # entry -> record
    resolved_at: float = 0.0  # the clock when the answers came in


def is_ipv4_literal(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def is_ipv6_literal(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


def without_ports(entry: str) -> str:
    """An allowlist entry without the nft era's `:ports` (an IPv6 literal stays whole)."""
    dest, colon, _ports = entry.partition(":")
    return dest if colon and dest and ":" not in _ports else entry


def make_resolver(nameservers: str | None = None) -> dns.resolver.Resolver:
    """`nameservers`: "host:port,host:port" (COI_TUI_NAMESERVERS); None = the system's."""
    spec = nameservers if nameservers is not None else os.environ.get("COI_TUI_NAMESERVERS")
    if not spec:
        return dns.resolver.Resolver()
    resolver = dns.resolver.Resolver(configure=False)
    servers = [s.strip() for s in spec.split(",") if s.strip()]
    resolver.nameservers = [s.rsplit(":", 1)[0] if ":" in s else s for s in servers]
    ports = {int(s.rsplit(":", 1)[1]) for s in servers if ":" in s}
    resolver.port = ports.pop() if ports else 53
    return resolver


def floored_ttl(ttl: float) -> int:
    """COI's QueryDNS: ttl = max(ttl, 60)."""
    return max(int(ttl), TTL_FLOOR)


def answer_ttl(expiration: float, received_at: float) -> int:
    """The chain's TTL, read back from dnspython's absolute `expiration` (which it computed as
    time.time() + the minimum TTL over the answer chain) and the wall time it arrived."""
    return max(0, round(expiration - received_at))


@dataclass(frozen=True)
class _Lookup:
    domain: str
    ips: tuple[str, ...]
    ttl: int  # unfloored chain TTL
    received: float  # the injected clock at arrival
    error: str


def _lookup(querier: Querier, domain: str, clock: Clock, timeout: float) -> _Lookup:
    try:
        answer = querier.resolve(domain, "A", lifetime=timeout)
    except dns.exception.DNSException as error:
        return _Lookup(domain, (), 0, clock(), f"{type(error).__name__}: {error}")
    ttl = answer_ttl(answer.expiration, time.time())
    ips = tuple(sorted({r.address for r in answer}))
    if not ips:
        return _Lookup(domain, (), 0, clock(), "no A records found in DNS response")
    return _Lookup(domain, ips, ttl, clock(), "")


def _record(found: _Lookup, allow_local: bool) -> DomainRecord:
    if found.error:
        return DomainRecord(found.domain, status=DomainStatus.FAILED, error=found.error)
    ttl = floored_ttl(found.ttl)
    allowed, refused = filter_allowed_ips(found.ips, allow_local)
    return DomainRecord(
        found.domain,
        ips=tuple(sorted(allowed)),
        ttl=ttl,
        expires_at=found.received + ttl,
        status=DomainStatus.FRESH if allowed else DomainStatus.BLOCKED,
        blocked=tuple(refused.items()),
    )


def resolution_from_records(records: Iterable[DomainRecord], resolved_at: float) -> Resolution:
    """The flat view (what ChangePlanner pins) of per-domain records."""
    records = tuple(records)
    ips = {ip for r in records for ip in r.ips}
    return Resolution(
        ips=tuple(sorted(ips)),
        blocked={r.domain: r.blocked_ips for r in records if r.blocked},
        failed={r.domain: r.error for r in records if r.error},
        ttls={r.domain: r.ttl for r in records if r.status is not DomainStatus.FAILED},
        records={r.domain: r for r in records},
        resolved_at=resolved_at,
    )


class _Failing:
    def __init__(self, reason: str) -> None:
        self.reason = reason

    def resolve(self, qname: str, rdtype: str = "A", *, lifetime: float | None = None
                ) -> dns.resolver.Answer:
        raise dns.exception.DNSException(self.reason)  # type: ignore[no-untyped-call]


def resolve_allowlist(
    entries: Iterable[str],
    *,
    allow_local: bool = False,
    resolver: Querier | None = None,
    clock: Clock = time.time,
    timeout: float = DEFAULT_TIMEOUT,
) -> Resolution:
    """Resolve every entry concurrently, `timeout` seconds per domain. Failed domains are in
    `failed` (and have FAILED records); merging in cached IPs is the cache's job."""
    entries = list(dict.fromkeys(without_ports(e.strip()) for e in entries if e.strip()))
    records: dict[str, DomainRecord] = {}
    domains = []
    now = clock()
    for entry in entries:
        if "/" in entry:
            records[entry] = DomainRecord(entry, status=DomainStatus.FAILED,
                                          error=f"{entry} is an address range (CIDR), not "
                                                "one address: nothing to resolve")
        elif is_ipv4_literal(entry):
            records[entry] = DomainRecord(entry, (entry,), 0, None, DomainStatus.LITERAL)
        elif is_ipv6_literal(entry):
            records[entry] = DomainRecord(entry, status=DomainStatus.FAILED,
                                          error=f"{entry} is not a valid IPv4 address")
        else:
            domains.append(entry)
    if domains:
        try:
            querier = resolver or make_resolver()
        except dns.exception.DNSException as error:
            # no usable resolv.conf: every domain fails (and keeps its cached IPs, stale)
            reason = f"no nameservers ({type(error).__name__}: {error})"
            querier = _Failing(reason)
        with ThreadPoolExecutor(max_workers=min(MAX_WORKERS, len(domains))) as pool:
            for found in pool.map(lambda d: _lookup(querier, d, clock, timeout), domains):
                records[found.domain] = _record(found, allow_local)
    # keep the allowlist's order: the view and the CLI list domains as configured
    return resolution_from_records((records[e] for e in entries), now)
