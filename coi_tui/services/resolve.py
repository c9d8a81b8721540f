"""Resolves the allowlist's domains to IPv4 addresses (concurrently), keeping raw IPv4 literals.

Addresses a *domain* resolves to that are private, loopback, link-local or otherwise no public
host are refused unless local network access is allowed: DNS must not open the LAN (design.md
§3, invariant 6; `policy.filter_allowed_ips`). A literal the user wrote is taken as meant.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dns.exception
import dns.resolver

from coi_tui.services.policy import filter_allowed_ips


@dataclass(frozen=True)
class Resolution:
    ips: tuple[str, ...] = ()  # allowed addresses, sorted, unique
    blocked: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # domain -> refused IPs
    failed: Mapping[str, str] = field(default_factory=dict)  # domain -> reason
    ttls: Mapping[str, int] = field(default_factory=dict)


def is_ipv4_literal(value: str) -> bool:
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


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


def _lookup(resolver: dns.resolver.Resolver, domain: str) -> tuple[str, list[str], int, str]:
    try:
        answer = resolver.resolve(domain, "A", lifetime=5)
    except dns.exception.DNSException as error:
        return domain, [], 0, f"{type(error).__name__}: {error}"
    ttl = answer.rrset.ttl if answer.rrset is not None else 0
    return domain, sorted({r.address for r in answer}), ttl, ""


def resolve_allowlist(
    entries: Iterable[str],
    *,
    allow_local: bool = False,
    resolver: dns.resolver.Resolver | None = None,
) -> Resolution:
    entries = list(dict.fromkeys(entries))
    literals = [e for e in entries if is_ipv4_literal(e)]
    domains = [e for e in entries if not is_ipv4_literal(e)]
    resolver = resolver or make_resolver()
    ips = set(literals)
    blocked: dict[str, tuple[str, ...]] = {}
    failed: dict[str, str] = {}
    ttls: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=min(16, max(1, len(domains)))) as pool:
        for domain, found, ttl, error in pool.map(lambda d: _lookup(resolver, d), domains):
            if error:
                failed[domain] = error
                continue
            ttls[domain] = ttl
            allowed, refused = filter_allowed_ips(found, allow_local)
            if refused:
                blocked[domain] = tuple(refused)
            ips.update(allowed)
    return Resolution(tuple(sorted(ips)), blocked, failed, ttls)
