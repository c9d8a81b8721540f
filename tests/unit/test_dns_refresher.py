"""The refresher with a fake clock, fake DNS and fake backends: one re-apply job per container
whose pinned IPs changed, none otherwise; the plan is fail-closed; a DNS failure never shrinks
an allowlist; a corrupt cache is reported and kept; the schedule follows the TTLs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.policy import BASE_RULE, desired_rules
from coi_tui.eras.firewalld.rules import StepAction, rule_steps
from coi_tui.keep.refresher import DnsRefresher, DnsState, pinned_ips
from coi_tui.models import Container, Mode, NetworkSettings
from coi_tui.runtime.engine import Job, JobFinished
from coi_tui.services.dns.cache import IpCache, cache_path, load_cache, save_cache
from coi_tui.services.dns.records import DomainStatus
from coi_tui.services.resolve import Resolution, resolve_allowlist
from tests.unit.dns_fakes import FakeQuerier
from tests.unit.fakes import FakeContainers, FakeFirewall

GATEWAY = "10.147.0.1"
SETTINGS = NetworkSettings(mode=Mode.ALLOWLIST, allowed_domains=("api.lab.test", "cdn.lab.test"))
OLD, NEW, CDN = "203.0.113.10", "203.0.113.30", "203.0.113.20"

FIREWALLD = FirewalldEra()


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def box(name: str, ip: str, mode: str | None = "allowlist") -> Container:
    return Container(name, "default", "Running", ip, f"veth-{name}", "incusbr0", mode)


class Rig:
    def __init__(self, tmp: Path, zone: dict[str, tuple[list[str], int]],
                 pinned: dict[str, list[str]], settings: NetworkSettings = SETTINGS) -> None:
        self.clock = Clock()
        self.zone = FakeQuerier(dict(zone))
        self.boxes = [box(name, f"10.147.0.{7 + i}") for i, name in enumerate(pinned)]
        self.containers = FakeContainers(self.boxes)
        self.firewall = FakeFirewall([BASE_RULE, *(
            rule for c in self.boxes for rule in desired_rules(
                c.ipv4 or "", Mode.ALLOWLIST, settings, GATEWAY, pinned[c.name])
        )])
        self.jobs: list[Job] = []
        self.home = tmp
        self.refresher = DnsRefresher(
            settings, self.containers, self.firewall.list_rules, self.submit, home=tmp,
            resolve=self.resolve, clock=self.clock, era=FIREWALLD)

    def resolve(self, entries: Sequence[str], allow_local: bool) -> Resolution:
        return resolve_allowlist(entries, allow_local=allow_local, resolver=self.zone,
                                 clock=self.clock)

    def submit(self, job: Job) -> int:
        self.jobs.append(job)
        return len(self.jobs)


def test_nothing_changed_means_no_job_and_coi_cache_written_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([OLD], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    state = rig.refresher.refresh_now()
    assert rig.jobs == []
    assert state.interval == 300 and state.next_refresh_at == rig.clock.now + 300
    assert state.last_refresh is not None and state.last_refresh.ok
    assert state.last_refresh.summary == "2 domains: 2 fresh; no change"
    path = cache_path("coi-a", tmp_path)
    assert load_cache(path).domains == {"api.lab.test": (OLD,), "cdn.lab.test": (CDN,)}
    assert '"last_update": "2027-01-15T08:00:00Z"' in path.read_text()
    before = path.read_bytes()
    rig.clock.now += 300
    rig.refresher.refresh_now()
    assert path.read_bytes() == before  # unchanged pins: COI does not rewrite either
    (pins,) = rig.refresher.state.containers
    assert (pins.name, pins.cached_ips, pins.rule_ips) == ("coi-a", (OLD, CDN), (OLD, CDN))


def test_a_changed_ip_queues_one_fail_closed_reapply_per_changed_container(
    tmp_path: Path,
) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([NEW], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN], "coi-b": [NEW, CDN]})
    state = rig.refresher.refresh_now()
    assert [j.title for j in rig.jobs] == ["DNS refresh: re-apply the allowlist of coi-a"]
    assert state.last_refresh is not None and state.last_refresh.changed == ("coi-a",)
    plan, _hook = rig.jobs[0].build(rig.firewall)
    ip = rig.boxes[0].ipv4
    steps = [(s.action, s.rule.destination, s.rule.verdict) for s in rule_steps(plan)]
    # the planner's fail-closed order (docs/design.md §3.1): the old ACCEPT goes before the
    # new one comes, so the container never holds both; CDN and every REJECT stay untouched
    assert steps == [(StepAction.REMOVE, f"{OLD}/32", "ACCEPT"),
                     (StepAction.ADD, f"{NEW}/32", "ACCEPT")]
    assert all(f"-s {ip}" in str(s.rule) for s in rule_steps(plan))
    for step in rule_steps(plan):
        (rig.firewall.add_rule if step.action is StepAction.ADD else rig.firewall.remove_rule)(
            step.rule)
    assert pinned_ips(rig.firewall.rules, ip or "", era=FIREWALLD) == {NEW, CDN}
    rig.jobs.clear()
    rig.clock.now += 300
    rig.refresher.refresh_now()
    assert rig.jobs == []  # now in force: nothing more to do


def test_dns_down_keeps_cached_ips_stale_and_rules_unchanged(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([OLD], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    rig.refresher.refresh_now()
    cached = cache_path("coi-a", tmp_path).read_bytes()
    rig.zone.zone.clear()  # every query fails now
    rig.clock.now += 300
    state = rig.refresher.refresh_now()
    assert rig.jobs == []
    assert [(r.domain, r.status, r.ips) for r in state.records] == [
        ("api.lab.test", DomainStatus.STALE, (OLD,)), ("cdn.lab.test", DomainStatus.STALE, (CDN,))]
    assert state.interval == 300  # stale domains count with their cached TTLs (COI's code)
    assert state.last_refresh is not None and not state.last_refresh.ok
    assert cache_path("coi-a", tmp_path).read_bytes() == cached
    rig.zone.zone.update({"api.lab.test": ([OLD], 300), "cdn.lab.test": ([CDN], 600)})
    rig.clock.now += 300
    state = rig.refresher.refresh_now()
    assert {r.status for r in state.records} == {DomainStatus.FRESH}


def test_dns_down_with_nothing_cached_never_shrinks(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"cdn.lab.test": ([NEW], 600)}, {"coi-a": [OLD, CDN]})
    # api fails with nothing cached; cdn moved: the new IP is added, none is removed
    rig.refresher.refresh_now()
    (job,) = rig.jobs
    plan, _ = job.build(rig.firewall)
    assert [(s.action, s.rule.destination) for s in rule_steps(plan)] == [
        (StepAction.ADD, f"{NEW}/32")]
    assert not cache_path("coi-a", tmp_path).exists()  # unknown IPs: no cache written


def test_a_corrupt_cache_is_reported_and_kept(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([OLD], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    path = cache_path("coi-a", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"{garbage")
    state = rig.refresher.refresh_now()
    assert path.read_bytes() == b"{garbage"
    (pins,) = state.containers
    assert "coi-a.json" in pins.cache_error and pins.cached_ips == ()
    assert state.last_refresh is not None and not state.last_refresh.ok
    assert any("coi-a.json" in e for e in state.last_refresh.errors)


def test_the_schedule_and_refresh_now(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([OLD], 5), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    assert rig.refresher.due()  # the first resolution happens at once
    assert rig.refresher.tick() is not None
    assert rig.refresher.state.interval == 60  # TTL 5, COI's floor
    rig.clock.now += 59.9
    assert rig.refresher.tick() is None
    rig.refresher.request_refresh()
    assert rig.refresher.tick() is not None and not rig.refresher.due()
    rig.clock.now += 60
    assert rig.refresher.due()


def test_disabled_refresh_resolves_once_then_never(tmp_path: Path) -> None:
    settings = replace(SETTINGS, refresh_interval_minutes=-1)
    rig = Rig(tmp_path, {"api.lab.test": ([OLD], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]}, settings)
    state = rig.refresher.refresh_now()
    assert (state.enabled, state.interval, state.next_refresh_at) == (False, None, None)
    assert state.note.startswith("IP refresh disabled")
    rig.clock.now += 10**6
    assert not rig.refresher.due()


def test_a_failed_job_shows_in_the_last_result(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([NEW], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    seen: list[DnsState] = []
    rig.refresher._on_state = seen.append
    rig.refresher.refresh_now()
    rig.refresher.job_finished(JobFinished(1, "x", ok=False, error="firewalld: ALREADY"))
    last = rig.refresher.state.last_refresh
    assert last is not None and last.failed_jobs == ("coi-a: firewalld: ALREADY",)
    assert not last.ok and len(seen) == 2


def test_only_allowlist_containers_count(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"api.lab.test": ([NEW], 300), "cdn.lab.test": ([CDN], 600)},
              {"coi-a": [OLD, CDN]})
    rig.containers.containers.append(box("coi-r", "10.147.0.9", "restricted"))
    rig.refresher.refresh_now()
    assert [j.title[-5:] for j in rig.jobs] == ["coi-a"]
    assert [p.name for p in rig.refresher.state.containers] == ["coi-a"]


def test_a_coi_cache_of_a_failed_domain_is_used(tmp_path: Path) -> None:
    rig = Rig(tmp_path, {"cdn.lab.test": ([CDN], 600)}, {"coi-a": [OLD, CDN]})
    save_cache(cache_path("coi-a", tmp_path), IpCache({"api.lab.test": (OLD,)}, None))
    state = rig.refresher.refresh_now()
    assert rig.jobs == []
    api = state.records[0]
    assert (api.status, api.ips, api.ttl) == (DomainStatus.STALE, (OLD,), 0)
    assert state.interval == 600
