"""COI's refresh schedule and the expiry math, with a fake clock and offline DNS answers."""

from __future__ import annotations

from typing import Any

from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.dns.schedule import (
    go_duration,
    interval_for,
    min_ttl,
    next_refresh_at,
    refresh_interval,
    seconds_until,
)
from coi_tui.services.resolve import resolve_allowlist
from tests.unit.dns_fakes import FakeQuerier

NOW = 1_800_000_000.0


def resolve(zone: FakeQuerier, *entries: str, now: float = NOW):  # type: ignore[no-untyped-def]
    return resolve_allowlist(entries, resolver=zone, clock=lambda: now)


def interval_of(zone: FakeQuerier, *entries: str, minutes: int = 30) -> int | None:
    return interval_for(resolve(zone, *entries).records.values(), minutes)


def test_ttl_300_gives_300_s_and_an_absolute_expiry() -> None:
    zone = FakeQuerier({"api.lab.test": (["203.0.113.10"], 300)})
    result = resolve(zone, "api.lab.test")
    record = result.records["api.lab.test"]
    assert (record.ttl, record.expires_at, record.status) == (300, NOW + 300, DomainStatus.FRESH)
    assert record.expires_in(NOW + 0.5) == 300 and record.expires_in(NOW + 299.2) == 1
    assert record.expires_in(NOW + 301) == 0
    assert interval_of(zone, "api.lab.test") == 300


def test_ttl_5_is_floored_to_60() -> None:
    zone = FakeQuerier({"short.lab.test": (["203.0.113.10"], 5)})
    record = resolve(zone, "short.lab.test").records["short.lab.test"]
    assert (record.ttl, record.expires_at) == (60, NOW + 60)
    assert interval_of(zone, "short.lab.test") == 60


def test_a_one_minute_cap_wins_over_ttl_300() -> None:
    zone = FakeQuerier({"api.lab.test": (["203.0.113.10"], 300)})
    assert interval_of(zone, "api.lab.test", minutes=1) == 60


def test_a_short_ttl_cname_in_front_of_a_long_a_counts() -> None:
    zone = FakeQuerier({"cname.lab.test": [("cname.lab.test", 30, "CNAME", "target.lab.test."),
                                           ("target.lab.test", 600, "A", "203.0.113.10")]})
    record = resolve(zone, "cname.lab.test").records["cname.lab.test"]
    assert record.ips == ("203.0.113.10",)
    assert (record.ttl, record.expires_at) == (60, NOW + 60)  # 30 s chain TTL, floored
    assert interval_of(zone, "cname.lab.test") == 60
    zone = FakeQuerier({"cname.lab.test": [("cname.lab.test", 900, "CNAME", "target.lab.test."),
                                           ("target.lab.test", 120, "A", "203.0.113.10")]})
    assert resolve(zone, "cname.lab.test").records["cname.lab.test"].ttl == 120


def test_min_ttl_over_domains_ignores_literals_and_failures_and_no_ttl_means_the_cap() -> None:
    zone = FakeQuerier({"a.lab.test": (["203.0.113.10"], 600),
                        "b.lab.test": (["203.0.113.20"], 120)})
    result = resolve(zone, "a.lab.test", "b.lab.test", "198.51.100.7", "nx.lab.test")
    assert min_ttl(result.records.values()) == 120
    assert interval_for(result.records.values(), 30) == 120
    only_literal = resolve(zone, "198.51.100.7")
    assert only_literal.records["198.51.100.7"] == DomainRecord(
        "198.51.100.7", ("198.51.100.7",), 0, None, DomainStatus.LITERAL)
    assert interval_for(only_literal.records.values(), 30) == 1800


def test_zero_or_negative_minutes_disable_the_refresher() -> None:
    assert refresh_interval(300, 0) is None and refresh_interval(300, -1) is None
    assert next_refresh_at(NOW, None) is None and next_refresh_at(NOW, 60) == NOW + 60


def test_ipv6_literal_is_refused_with_coi_message_and_no_query_is_sent() -> None:
    zone = FakeQuerier({})
    result = resolve(zone, "2001:db8::1", "10.0.0.5")
    assert result.failed == {"2001:db8::1": "2001:db8::1 is not a valid IPv4 address"}
    assert result.ips == ("10.0.0.5",)  # a literal is taken as meant, even a private one
    assert zone.asked == []


def test_every_query_gets_the_per_domain_timeout() -> None:
    zone = FakeQuerier({"a.lab.test": (["203.0.113.10"], 60)})
    resolve_allowlist(["a.lab.test", "b.lab.test"], resolver=zone, timeout=1.5)
    assert sorted(zone.asked) == [("a.lab.test", 1.5), ("b.lab.test", 1.5)]


def test_rebinding_answers_are_blocked_with_their_reason() -> None:
    zone = FakeQuerier({"rebind.lab.test": (["192.168.77.2"], 60),
                        "mixed.lab.test": (["203.0.113.10", "169.254.169.254"], 60)})
    result = resolve(zone, "rebind.lab.test", "mixed.lab.test")
    rebind, mixed = result.records["rebind.lab.test"], result.records["mixed.lab.test"]
    assert rebind.status is DomainStatus.BLOCKED and rebind.ips == ()
    assert rebind.blocked == (("192.168.77.2", "private network (RFC 1918)"),)
    assert mixed.status is DomainStatus.FRESH and mixed.ips == ("203.0.113.10",)
    assert mixed.blocked_ips == ("169.254.169.254",)
    assert result.ips == ("203.0.113.10",)


def test_countdowns_and_go_durations() -> None:
    assert [seconds_until(NOW + 60, NOW + d) for d in (0, 0.1, 59.5, 60, 99)] == [60, 60, 1, 0, 0]
    assert seconds_until(None, NOW) is None
    assert [go_duration(s) for s in (60, 300, 45, 3600)] == ["1m0s", "5m0s", "45s", "1h0m0s"]


def test_no_usable_nameserver_fails_every_domain_instead_of_raising(monkeypatch: Any) -> None:
    import dns.resolver

    def broken(*_args: object, **_kwargs: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no nameservers")  # type: ignore[no-untyped-call]

    monkeypatch.delenv("COI_TUI_NAMESERVERS", raising=False)
    monkeypatch.setattr(dns.resolver.Resolver, "__init__", broken)
    result = resolve_allowlist(["api.lab.test", "198.51.100.7"])
    assert result.ips == ("198.51.100.7",)
    assert "no nameservers (NoResolverConfiguration" in result.failed["api.lab.test"]
