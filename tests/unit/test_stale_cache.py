"""IP-cache fallback on apply, both eras (pure: a fake resolver, a tmp cache): a domain that
fails keeps what COI's IP cache of that container holds for it, marked stale in the Change,
in --dry-run (text and JSON) and in the plan review; nothing resolved and nothing cached is
COI's error; the cached addresses go through the rebinding filter again."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from coi_tui.changes import (
    ChangePlanner,
    StaleDomain,
    cache_age,
    cache_reader,
    stale_line,
    stale_record,
)
from coi_tui.cli.changes_run import print_stale, stale_fields
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.nft.era import NftEra
from coi_tui.eras.seam import CoiEra
from coi_tui.errors import BadInput
from coi_tui.models import Container, Mode, NetworkSettings
from coi_tui.services.dns.cache import (
    IpCache,
    cache_from_resolution,
    cache_path,
    format_cache,
    load_cache,
)
from coi_tui.services.dns.records import DomainStatus
from coi_tui.services.resolve import Resolution, resolve_allowlist
from coi_tui.ui.screens.plan_review import PlanReview
from tests.unit.dns_fakes import FakeQuerier
from tests.unit.fakes import FakeContainers, lab_like_container

UP, DOWN = "up.lab.test", "down.lab.test"  # DOWN is in no zone: NXDOMAIN
CACHED_AT = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
ERAS: list[CoiEra] = [FirewalldEra(), NftEra()]


Zone = dict[str, tuple[list[str], int]]


def resolver(zone: Zone) -> Callable[[NetworkSettings], Resolution]:
    querier = FakeQuerier(dict(zone))

    def resolve(settings: NetworkSettings) -> Resolution:
        return resolve_allowlist(settings.allowed_domains, resolver=querier, clock=lambda: 1e9,
                                 allow_local=settings.allow_local_network_access)

    return resolve


def write_cache(home: Path, name: str, domains: dict[str, list[str]],
                at: datetime | None = CACHED_AT) -> Path:
    path = cache_path(name, home)
    path.parent.mkdir(parents=True, exist_ok=True)
    cache = IpCache({d: tuple(ips) for d, ips in domains.items()},
                    {d: 300 for d in domains}, at)
    path.write_text(format_cache(cache))  # byte for byte as COI writes it
    return path


def planner(home: Path, era: CoiEra, zone: Zone,
            *containers: Container, **settings: object) -> ChangePlanner:
    net = NetworkSettings(allowed_domains=(UP, DOWN), **settings)  # type: ignore[arg-type]
    return ChangePlanner(FakeContainers(list(containers)), net, resolver(zone), era=era,
                         cached=cache_reader(home))


BOX = lab_like_container("coi-lab-2", "10.147.0.12")


def text(change_plan_lines: object) -> str:
    return "\n".join(str(line) for line in change_plan_lines)  # type: ignore[attr-defined]


@pytest.mark.parametrize("era", ERAS, ids=lambda e: e.name)
def test_a_failed_domain_keeps_its_cached_addresses_marked_stale(tmp_path: Path,
                                                                 era: CoiEra) -> None:
    write_cache(tmp_path, BOX.name, {UP: ["203.0.113.10"], DOWN: ["203.0.113.20"]})
    change = planner(tmp_path, era, {UP: (["203.0.113.10"], 300)}, BOX).apply(
        [BOX.name], Mode.ALLOWLIST, [])
    lines = text(change.plan.lines())
    assert "203.0.113.20" in lines and "203.0.113.10" in lines
    (stale,) = change.stale
    assert (stale.container, stale.domain, stale.ips, stale.cached_at) == (
        BOX.name, DOWN, ("203.0.113.20",), CACHED_AT)
    assert "NXDOMAIN" in stale.error or "does not exist" in stale.error
    # what is pinned afterwards (COI's cache rewritten) still holds the stale domain
    mine = change.resolution_of(BOX)
    assert mine is not None and mine.records[DOWN].status is DomainStatus.STALE
    assert cache_from_resolution(mine, CACHED_AT).domains == {
        UP: ("203.0.113.10",), DOWN: ("203.0.113.20",)}
    now = CACHED_AT + timedelta(hours=2, minutes=5)
    assert stale_line(change.stale, now) == (
        f"stale: {DOWN} from COI's IP cache (2 h 5 min old)")


def test_the_nft_era_puts_the_stale_address_in_the_resolved_set(tmp_path: Path) -> None:
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]})
    change = planner(tmp_path, NftEra(), {UP: (["203.0.113.10"], 300)}, BOX).apply(
        [BOX.name], Mode.ALLOWLIST, [])
    elements = [line.text for line in change.plan.lines()
                if line.text.startswith("add element ip coi coi_d_10_147_0_12 ")]
    assert any("203.0.113.20" in e for e in elements), elements
    assert any("203.0.113.10" in e for e in elements), elements


@pytest.mark.parametrize("era", ERAS, ids=lambda e: e.name)
def test_nothing_resolved_and_nothing_cached_is_cois_error(tmp_path: Path, era: CoiEra) -> None:
    with pytest.raises(BadInput, match=r"^failed to resolve any allowed domains: "):
        planner(tmp_path, era, {}, BOX).apply([BOX.name], Mode.ALLOWLIST, [])
    # a cache of another container, or of other domains, is no answer for this one
    write_cache(tmp_path, "coi-lab-3", {DOWN: ["203.0.113.20"]})
    write_cache(tmp_path, BOX.name, {"elsewhere.lab.test": ["203.0.113.20"]})
    with pytest.raises(BadInput, match=r"^failed to resolve any allowed domains: "):
        planner(tmp_path, era, {}, BOX).apply([BOX.name], Mode.ALLOWLIST, [])


@pytest.mark.parametrize("era", ERAS, ids=lambda e: e.name)
def test_nothing_resolved_but_cached_applies_from_the_cache(tmp_path: Path, era: CoiEra) -> None:
    write_cache(tmp_path, BOX.name, {UP: ["203.0.113.10"], DOWN: ["203.0.113.20"]}, None)
    change = planner(tmp_path, era, {}, BOX).apply([BOX.name], Mode.ALLOWLIST, [])
    assert {s.domain for s in change.stale} == {UP, DOWN}
    assert stale_line(change.stale) == (
        f"stale: {UP}, {DOWN} from COI's IP cache (age unknown)")


def test_of_two_targets_the_one_without_a_cache_is_named(tmp_path: Path) -> None:
    other = lab_like_container("coi-lab-3", "10.147.0.13")
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]})
    with pytest.raises(BadInput, match=r"for coi-lab-3 \(nor in its IP cache\)"):
        planner(tmp_path, NftEra(), {}, BOX, other).apply(
            [BOX.name, other.name], Mode.ALLOWLIST, [])


def test_each_target_keeps_its_own_cache(tmp_path: Path) -> None:
    other = lab_like_container("coi-lab-3", "10.147.0.13")
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]})
    change = planner(tmp_path, FirewalldEra(), {UP: (["203.0.113.10"], 300)}, BOX,
                     other).apply([BOX.name, other.name], Mode.ALLOWLIST, [])
    owners = {line.owner for line in change.plan.lines() if "203.0.113.20" in line.text}
    assert owners == {BOX.name}
    assert [s.container for s in change.stale] == [BOX.name]
    theirs = change.resolution_of(other)
    assert theirs is not None and theirs.records[DOWN].status is DomainStatus.FAILED
    assert stale_line(change.stale, CACHED_AT + timedelta(seconds=30)) == (
        f"stale: {DOWN} from COI's IP cache (30 s old)")  # one container: no brackets


def test_cached_addresses_go_through_the_rebinding_filter_again(tmp_path: Path) -> None:
    write_cache(tmp_path, BOX.name, {DOWN: ["192.168.77.2", "203.0.113.20"]})
    zone = {UP: (["203.0.113.10"], 300)}
    change = planner(tmp_path, NftEra(), zone, BOX).apply([BOX.name], Mode.ALLOWLIST, [])
    assert "192.168.77.2" not in text(change.plan.lines())
    assert change.stale[0].ips == ("203.0.113.20",)
    local = planner(tmp_path, NftEra(), zone, BOX, allow_local_network_access=True).apply(
        [BOX.name], Mode.ALLOWLIST, [])
    assert local.stale[0].ips == ("192.168.77.2", "203.0.113.20")


def test_a_fresh_answer_wins_over_the_cache_and_a_corrupt_cache_is_none(tmp_path: Path) -> None:
    write_cache(tmp_path, BOX.name, {UP: ["203.0.113.20"]})
    zone = {UP: (["203.0.113.10"], 300), DOWN: (["203.0.113.10"], 300)}
    change = planner(tmp_path, NftEra(), zone, BOX).apply([BOX.name], Mode.ALLOWLIST, [])
    assert change.stale == () and "203.0.113.20" not in text(change.plan.lines())
    cache_path(BOX.name, tmp_path).write_text("{not json")
    assert cache_reader(tmp_path)(BOX) is None
    with pytest.raises(BadInput, match=r"^failed to resolve any allowed domains"):
        planner(tmp_path, NftEra(), {}, BOX).apply([BOX.name], Mode.ALLOWLIST, [])
    assert cache_path(BOX.name, tmp_path).read_text() == "{not json"  # never overwritten


def test_addresses_a_refresh_kept_beyond_its_records_stay(tmp_path: Path) -> None:
    """The refresher hands a resolution whose `ips` also hold pins of a domain whose IPs are
    unknown: merging the cache must not drop them."""
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]})
    base = resolver({UP: (["203.0.113.10"], 300)})(
        NetworkSettings(allowed_domains=(UP, DOWN)))
    pinned = Resolution(("198.51.100.7", *base.ips), base.blocked, base.failed, base.ttls,
                        base.records, base.resolved_at)
    net = NetworkSettings(allowed_domains=(UP, DOWN))
    change = ChangePlanner(FakeContainers([BOX]), net, lambda _s: pinned, era=NftEra(),
                           cached=cache_reader(tmp_path)).apply([BOX.name], Mode.ALLOWLIST, [])
    lines = text(change.plan.lines())
    assert all(ip in lines for ip in ("198.51.100.7", "203.0.113.10", "203.0.113.20"))


def test_reapply_uses_the_cache_too_and_skips_only_what_has_nothing(tmp_path: Path) -> None:
    cached = lab_like_container("coi-lab-2", "10.147.0.12")
    bare = lab_like_container("coi-lab-3", "10.147.0.13")
    boxes = [Container(**{**c.__dict__, "mode_key": "allowlist"}) for c in (cached, bare)]
    write_cache(tmp_path, cached.name, {DOWN: ["203.0.113.20"]})
    change = planner(tmp_path, NftEra(), {}, *boxes).reapply([])
    assert [c.name for c in change.targets] == [cached.name]
    assert [s.domain for s in change.stale] == [DOWN]
    (skip,) = change.skipped
    assert skip.startswith("coi-lab-3 (allowlist) not re-applied: failed to resolve any")


def test_ages_and_the_line_for_several_containers() -> None:
    now = CACHED_AT
    assert [cache_age(now - timedelta(seconds=s), now) for s in (5, 600, 3600, 86400 * 3)] == [
        "5 s old", "10 min old", "1 h old", "3 d old"]
    items = [StaleDomain("a", DOWN, ("1.2.3.4",), now - timedelta(minutes=3)),
             StaleDomain("b", DOWN, ("1.2.3.4",), now - timedelta(minutes=3)),
             StaleDomain("b", UP, ("1.2.3.5",), now - timedelta(minutes=3))]
    assert stale_line(items, now) == (
        f"stale: {DOWN} from COI's IP cache (3 min old) [a]; "
        f"{DOWN}, {UP} from COI's IP cache (3 min old) [b]")
    assert stale_line([]) == ""
    assert stale_record(items[0], now) == {
        "container": "a", "domain": DOWN, "ips": ["1.2.3.4"],
        "cached_at": "2026-03-11T11:57:00+00:00", "age": "3 min old", "error": ""}


def test_dry_run_prints_and_records_the_stale_domains(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]},
                datetime.now(UTC) - timedelta(minutes=7, seconds=10))
    change = planner(tmp_path, NftEra(), {UP: (["203.0.113.10"], 300)}, BOX).apply(
        [BOX.name], Mode.ALLOWLIST, [])
    print_stale(change)
    assert capsys.readouterr().out == f"  stale: {DOWN} from COI's IP cache (7 min old)\n"
    (record,) = json.loads(json.dumps(stale_fields(change)))["stale"]
    assert record["domain"] == DOWN and record["ips"] == ["203.0.113.20"]
    assert stale_fields(None) == {"stale": []}


class Review(App[None]):
    def __init__(self, screen: PlanReview) -> None:
        super().__init__()
        self.review = screen

    def compose(self) -> ComposeResult:
        yield Static("host")

    def on_mount(self) -> None:
        self.push_screen(self.review)


async def test_the_plan_review_shows_the_stale_note_on_one_line(tmp_path: Path) -> None:
    write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]},
                datetime.now(UTC) - timedelta(minutes=12))
    change = planner(tmp_path, NftEra(), {UP: (["203.0.113.10"], 300)}, BOX).apply(
        [BOX.name], Mode.ALLOWLIST, [])
    note = stale_line(change.stale) + " and a very long tail" * 10
    app = Review(PlanReview(change.plan, note=note + "\nsecond line"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        shown = app.screen.query_one("#plan-note", Static)
        assert shown.region.height == 1
        assert str(shown.render()).startswith(
            f"stale: {DOWN} from COI's IP cache (12 min old)")
    plain = Review(PlanReview(change.plan))
    async with plain.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert not plain.screen.query("#plan-note")


def test_the_cache_read_by_default_is_the_users(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    path = write_cache(tmp_path, BOX.name, {DOWN: ["203.0.113.20"]})
    assert cache_reader()(BOX) == load_cache(path)
    write_cache(tmp_path, BOX.name, {})
    assert cache_reader()(BOX) is None  # an empty cache answers nothing
