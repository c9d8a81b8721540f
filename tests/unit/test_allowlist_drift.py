"""Allowlist drift: the inventory knows an allowlist container's expected rules from COI's IP
cache (what was last pinned), so drift and exposure are judged for allowlist containers too."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.models import Container, Isolation, Mode, NetworkSettings
from coi_tui.services.dns.cache import IpCache, cache_path, save_cache
from coi_tui.services.inventory import join_inventory
from coi_tui.wiring import expected_rules

IP, GW = "10.147.0.7", "10.147.0.1"
SETTINGS = NetworkSettings(allowed_domains=("api.lab.test",))
ALLOWLIST = Container("a", "default", "Running", IP, "veth-a", "incusbr0", "allowlist")

FIREWALLD = FirewalldEra()


def pin(home: Path, domains: dict[str, tuple[str, ...]]) -> None:
    save_cache(cache_path("a", home), IpCache(domains, dict.fromkeys(domains, 300),
                                              datetime(2026, 11, 30, tzinfo=UTC)))


def state_with(home: Path, rules: tuple[str, ...]) -> Isolation | None:
    live = desired_rules(IP, Mode.ALLOWLIST, SETTINGS, GW, rules)
    expected = expected_rules(SETTINGS, home, era=FIREWALLD)
    (state,) = join_inventory([ALLOWLIST], live, {}, expected=expected,
                              gateways={"incusbr0": GW}, era=FIREWALLD).containers
    return state.isolation


def test_rules_that_pin_what_the_cache_pins_are_in_force(tmp_path: Path) -> None:
    pin(tmp_path, {"api.lab.test": ("203.0.113.10",)})
    assert state_with(tmp_path, ("203.0.113.10",)) is Isolation.OK


def test_an_ip_the_cache_no_longer_pins_is_drift(tmp_path: Path) -> None:
    pin(tmp_path, {"api.lab.test": ("203.0.113.10",)})
    assert state_with(tmp_path, ("203.0.113.10", "203.0.113.20")) is Isolation.DRIFT


def test_a_cached_private_address_is_never_expected(tmp_path: Path) -> None:
    pin(tmp_path, {"api.lab.test": ("203.0.113.10", "192.168.77.2")})  # COI keeps answers raw
    assert state_with(tmp_path, ("203.0.113.10",)) is Isolation.OK


def test_without_a_cache_the_expected_rules_are_unknown_never_an_empty_allowlist(
    tmp_path: Path,
) -> None:
    expected = expected_rules(SETTINGS, tmp_path, era=FIREWALLD)
    assert expected(ALLOWLIST, Mode.ALLOWLIST, GW) is None
    assert state_with(tmp_path, ("203.0.113.10",)) is Isolation.OK  # not judged
    cache_path("a", tmp_path).parent.mkdir(parents=True)
    cache_path("a", tmp_path).write_text("{not json")
    assert expected(ALLOWLIST, Mode.ALLOWLIST, GW) is None
