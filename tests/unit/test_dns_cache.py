"""COI's IP cache file: COI's bytes in and out, atomic writes, a corrupt file reported and kept,
and a DNS failure that keeps the cached IPs (stale) instead of shrinking the allowlist."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from coi_tui.services.dns.cache import (
    CacheError,
    IpCache,
    cache_from_resolution,
    cache_path,
    format_cache,
    format_rfc3339,
    load_cache,
    merge_cached,
    parse_cache,
    parse_rfc3339,
    save_cache,
)
from coi_tui.services.dns.records import DomainStatus
from coi_tui.services.resolve import resolve_allowlist
from tests.unit.dns_fakes import FakeQuerier

# What COI's json.MarshalIndent(cache, "", "  ") writes (Go sorts map keys; no final newline).
COI_FILE = """{
  "domains": {
    "8.8.8.8": [
      "8.8.8.8"
    ],
    "registry.npmjs.org": [
      "104.16.1.34",
      "104.16.2.34"
    ]
  },
  "ttls": {
    "8.8.8.8": 0,
    "registry.npmjs.org": 300
  },
  "last_update": "2026-03-11T12:00:00.123456+01:00"
}"""
PRE_204_FILE = """{
  "domains": {
    "api.lab.test": [
      "203.0.113.10"
    ]
  },
  "last_update": "2026-03-11T11:00:00.123456789Z"
}"""


def test_a_coi_file_round_trips_byte_for_byte() -> None:
    cache = parse_cache(COI_FILE)
    assert cache.domains == {"8.8.8.8": ("8.8.8.8",),
                             "registry.npmjs.org": ("104.16.1.34", "104.16.2.34")}
    assert cache.ttls == {"8.8.8.8": 0, "registry.npmjs.org": 300}
    assert cache.last_update == datetime(2026, 3, 11, 12, 0, 0, 123456,
                                         tzinfo=timezone(timedelta(hours=1)))
    assert format_cache(cache) == COI_FILE


def test_a_file_without_ttls_is_read_and_written_without_ttls() -> None:
    cache = parse_cache(PRE_204_FILE)
    assert cache.ttls is None and cache.domains == {"api.lab.test": ("203.0.113.10",)}
    assert cache.last_update == datetime(2026, 3, 11, 11, 0, 0, 123456, tzinfo=UTC)
    assert '"ttls"' not in format_cache(cache)


def test_rfc3339_as_go_writes_it() -> None:
    assert format_rfc3339(None) == "0001-01-01T00:00:00Z"
    assert parse_rfc3339("0001-01-01T00:00:00Z") is None
    assert format_rfc3339(datetime(2026, 3, 11, 12, 0, 0, 500000, tzinfo=UTC)) \
        == "2026-03-11T12:00:00.5Z"
    assert format_rfc3339(datetime(2026, 3, 11, 12, 0, 0, tzinfo=timezone(-timedelta(hours=5,
                          minutes=30)))) == "2026-03-11T12:00:00-05:30"
    with pytest.raises(ValueError):
        parse_rfc3339("2026-03-11 12:00:00")


def test_save_is_atomic_coi_shaped_and_0644(tmp_path: Path) -> None:
    path = cache_path("coi-lab-3", tmp_path)
    assert path == tmp_path / ".coi" / "network-cache" / "coi-lab-3.json"
    cache = IpCache({"api.lab.test": ("203.0.113.10",)}, {"api.lab.test": 300},
                    datetime(2026, 3, 11, 12, 0, tzinfo=UTC))
    save_cache(path, cache)
    assert path.read_text() == (
        '{\n  "domains": {\n    "api.lab.test": [\n      "203.0.113.10"\n    ]\n  },\n'
        '  "ttls": {\n    "api.lab.test": 300\n  },\n  "last_update": "2026-03-11T12:00:00Z"\n}'
    )
    assert (path.stat().st_mode & 0o777, path.parent.stat().st_mode & 0o777) == (0o644, 0o755)
    assert os.listdir(path.parent) == ["coi-lab-3.json"]  # no temp file left behind
    assert load_cache(path) == cache


def test_a_corrupt_file_is_reported_and_never_overwritten(tmp_path: Path) -> None:
    path = cache_path("coi-lab-3", tmp_path)
    path.parent.mkdir(parents=True)
    for corrupt in (b'{"domains": {"a": [1]}}', b"{not json", b"[]",
                    b'{"domains": {}, "last_update": "yesterday"}'):
        path.write_bytes(corrupt)
        with pytest.raises(CacheError, match=r"coi-lab-3\.json"):
            load_cache(path)
        with pytest.raises(CacheError):
            save_cache(path, IpCache())
        assert path.read_bytes() == corrupt


def test_a_missing_file_is_an_empty_cache(tmp_path: Path) -> None:
    assert load_cache(tmp_path / "nope.json") == IpCache()


def test_a_failed_domain_keeps_its_cached_ips_marked_stale() -> None:
    cache = parse_cache(COI_FILE.replace("registry.npmjs.org", "api.lab.test"))
    zone = FakeQuerier({"cdn.lab.test": (["203.0.113.20"], 60)})  # api.lab.test: NXDOMAIN now
    fresh = resolve_allowlist(["api.lab.test", "cdn.lab.test", "nx.lab.test"], resolver=zone,
                              clock=lambda: 1000.0)
    assert fresh.ips == ("203.0.113.20",)  # without the cache the allowlist would shrink
    merged = merge_cached(fresh, [cache], allow_local=False)
    api = merged.records["api.lab.test"]
    assert (api.status, api.ips, api.ttl, api.expires_at) == (
        DomainStatus.STALE, ("104.16.1.34", "104.16.2.34"), 300, None)
    assert api.error.startswith("NXDOMAIN")
    assert merged.records["nx.lab.test"].status is DomainStatus.FAILED
    assert merged.ips == ("104.16.1.34", "104.16.2.34", "203.0.113.20")
    # and what goes back into the file keeps them too
    written = cache_from_resolution(merged, datetime(2026, 1, 1, tzinfo=UTC))
    assert written.domains == {"api.lab.test": ("104.16.1.34", "104.16.2.34"),
                               "cdn.lab.test": ("203.0.113.20",)}
    assert written.ttls == {"api.lab.test": 300, "cdn.lab.test": 60}


def test_cached_lan_addresses_stay_blocked() -> None:
    cache = IpCache({"rebind.lab.test": ("192.168.77.2", "203.0.113.10")})
    failed = resolve_allowlist(["rebind.lab.test"], resolver=FakeQuerier({}))
    record = merge_cached(failed, [cache], allow_local=False).records["rebind.lab.test"]
    assert record.ips == ("203.0.113.10",) and record.blocked_ips == ("192.168.77.2",)
    allowed = merge_cached(failed, [cache], allow_local=True).records["rebind.lab.test"]
    assert allowed.ips == ("192.168.77.2", "203.0.113.10")
