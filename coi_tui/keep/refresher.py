"""The allowlist refresher: one schedule for every allowlist container (spec §3.2), run inside
the TUI, by `coi-tui dns --follow` and by `coi-tui watch` (one implementation).

When due it resolves the allowlist, keeps failed domains' IPs from COI's cache (stale), and for
each allowlist container whose pinned IPs (the /32 ACCEPTs at priority 1 in its live rules)
differ from the new set it submits ONE re-apply job to the firewall worker. The job plans with
ChangePlanner against fresh rules, so the transition is the fail-closed one: unchanged IPs are
untouched, new ACCEPTs go in before old ones go out, old flows are cut. Unlike COI (remove
everything, re-add) there is no exposure window. No job when nothing changed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import ChangePlanner, record_outcome
from coi_tui.eras.seam import CoiEra, owned
from coi_tui.errors import CoiTuiError
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.runtime.engine import Built, Job, JobFinished
from coi_tui.services.dns.cache import (
    CacheError,
    IpCache,
    cache_from_resolution,
    cache_path,
    load_cache,
    merge_cached,
    save_cache,
    stale_from_memory,
)
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.dns.schedule import DISABLED_NOTE, SCHEDULE_NOTE, interval_for
from coi_tui.services.inventory import FIREWALLD, mode_of
from coi_tui.services.resolve import Clock, Resolution, resolve_allowlist

ResolveFn = Callable[[Sequence[str], bool], Resolution]  # (entries, allow_local) -> answers


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


@dataclass(frozen=True)
class DnsState:
    records: tuple[DomainRecord, ...] = ()
    interval: int | None = None  # seconds; None: refresh disabled (or nothing resolved yet)
    next_refresh_at: float | None = None  # absolute, the refresher's clock
    last_refresh: RefreshResult | None = None
    containers: tuple[ContainerPins, ...] = ()
    enabled: bool = True
    note: str = SCHEDULE_NOTE


def pinned_ips(rules: Iterable[CoiRule], ip: str, era: CoiEra = FIREWALLD) -> frozenset[str]:
    """The hosts a container's allowlist pins now (the era knows where: /32 ACCEPTs at
    priority 1 in the firewalld era, the `coi_d_<ip>` set in the nft era)."""
    return era.pinned_ips(Container("", "", "Running", ip, None, None, None), tuple(rules))


def summarize(records: Sequence[DomainRecord], changed: Sequence[str]) -> str:
    counts: dict[str, int] = {}
    for record in records:
        counts[record.status.value] = counts.get(record.status.value, 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in counts.items())
    what = f"re-apply {', '.join(changed)}" if changed else "no change"
    return f"{len(records)} domains: {parts or 'none'}; {what}"


def _default_resolve(clock: Clock) -> ResolveFn:
    def resolve(entries: Sequence[str], allow_local: bool) -> Resolution:
        return resolve_allowlist(entries, allow_local=allow_local, clock=clock)

    return resolve


class DnsRefresher:
    """Thread-safe enough for one refresher thread plus callers of `request_refresh`, `stop`,
    `job_finished` and `state` from other threads."""

    def __init__(
        self,
        settings: NetworkSettings,
        containers: ContainerBackend,
        list_rules: Callable[[], Iterable[CoiRule]],
        submit: Callable[[Job], object],
        *,
        home: Path,
        resolve: ResolveFn | None = None,
        clock: Clock = time.time,
        names: Sequence[str] = (),
        on_state: Callable[[DnsState], None] | None = None,
        apply_changes: bool = True,
        era: CoiEra = FIREWALLD,
    ) -> None:
        self._era = era
        self.settings = settings
        self._containers = containers
        self._list_rules = list_rules
        self._submit = submit
        self._home = home
        self._clock = clock
        self._resolve = resolve or _default_resolve(clock)
        self._names = tuple(names)
        self._on_state = on_state
        self._apply = apply_changes  # False: resolve and show only (`coi-tui dns`)
        self._remembered: dict[str, DomainRecord] = {}
        self._jobs: dict[int, str] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopped = False
        self._refresh_requested = False
        enabled = settings.refresh_interval_minutes > 0
        self._state = DnsState(enabled=enabled, note=SCHEDULE_NOTE if enabled else
                               f"{DISABLED_NOTE}; {SCHEDULE_NOTE}")

    # ------------------------------------------------------------------ any thread
    @property
    def state(self) -> DnsState:
        with self._lock:
            return self._state

    def request_refresh(self) -> None:
        """Refresh now (the view's `R`): the running loop wakes at once."""
        with self._lock:
            self._refresh_requested = True
        self._wake.set()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
        self._wake.set()

    def job_finished(self, event: JobFinished) -> None:
        """Feed the engine's JobFinished events: a failed re-apply shows in the last result."""
        with self._lock:
            name = self._jobs.pop(event.job_id, None)
            last = self._state.last_refresh
            if name is None or last is None or event.ok:
                return
            reason = "; ".join(event.verify_diff) or event.error or "cancelled"
            last = replace(last, ok=False, failed_jobs=(*last.failed_jobs, f"{name}: {reason}"))
            self._state = replace(self._state, last_refresh=last)
            state = self._state
        self._publish(state)

    # ------------------------------------------------------------------ refresher thread
    def due(self) -> bool:
        state = self.state
        with self._lock:
            if self._refresh_requested:
                return True
        if state.last_refresh is None:
            return True  # COI resolves once at start, even with refresh disabled
        return state.next_refresh_at is not None and self._clock() >= state.next_refresh_at

    def tick(self) -> DnsState | None:
        """Refresh when due; the new state, or None when it was not due."""
        return self.refresh_now() if self.due() else None

    def run(self, poll: float = 1.0) -> None:
        """Refresh on schedule until stop(). Waits at most `poll` s at a time, so a changed
        clock (suspend, a fake in tests) is noticed."""
        while True:
            with self._lock:
                if self._stopped:
                    return
            self.tick()
            next_at = self.state.next_refresh_at
            wait = poll if next_at is None else min(poll, max(0.0, next_at - self._clock()))
            if self._wake.wait(wait):
                self._wake.clear()

    def refresh_now(self) -> DnsState:
        with self._lock:
            self._refresh_requested = False
        now = self._clock()
        errors: list[str] = []
        entries = self.settings.allowed_domains
        fresh = self._resolve(entries, self.settings.allow_local_network_access)
        fresh = stale_from_memory(fresh, self._remembered)
        try:
            targets, live = self._allowlist_containers(errors)
        except CoiTuiError as error:
            targets, live = [], None
            errors.append(str(error))
        caches: dict[str, IpCache | None] = {}
        pins: list[ContainerPins] = []
        for container in targets:
            path = cache_path(container.name, self._home)
            try:
                caches[container.name] = load_cache(path)
            except CacheError as error:
                caches[container.name] = None
                errors.append(str(error))
        shown = merge_cached(fresh, (c for c in caches.values() if c is not None),
                             self.settings.allow_local_network_access)
        changed: list[str] = []
        jobs: list[int] = []
        for container in targets:
            cache = caches[container.name]
            mine = merge_cached(fresh, [cache] if cache else [],
                                self.settings.allow_local_network_access)
            rule_ips = pinned_ips(live, container.ipv4 or "", self._era) if live is not None \
                else None
            if self._apply and live is not None and container.ipv4 and entries:
                job = self._reapply_if_changed(container, mine, rule_ips or frozenset(), now)
                if job is not None:
                    changed.append(container.name)
                    job_id = self._submit(job)
                    if isinstance(job_id, int):
                        jobs.append(job_id)
                        with self._lock:
                            self._jobs[job_id] = container.name
                elif cache is not None and not _has_unknown(mine):
                    errors += self._write_cache(container.name, mine, now, cache)
                    cache = self._cache_or_none(container.name)
            pins.append(ContainerPins(
                container.name, container.ipv4, str(cache_path(container.name, self._home)),
                tuple(sorted(cache.ips)) if cache else (),
                tuple(sorted(rule_ips)) if rule_ips is not None else None,
                cache.last_update if cache else None,
                "" if cache is not None else _cache_problem(errors, container.name),
            ))
        records = tuple(shown.records.values())
        for record in records:
            if record.status is DomainStatus.FRESH:
                self._remembered[record.domain] = record
        errors += [f"{d}: {r.error}" for d, r in shown.records.items()
                   if r.status is DomainStatus.FAILED]
        interval = interval_for(records, self.settings.refresh_interval_minutes)
        ok = not errors and all(r.status is not DomainStatus.STALE for r in records)
        result = RefreshResult(now, ok, summarize(records, changed), tuple(changed), tuple(jobs),
                               (), tuple(errors))
        with self._lock:
            self._state = replace(
                self._state, records=records, interval=interval,
                next_refresh_at=None if interval is None else now + interval,
                last_refresh=result, containers=tuple(pins),
            )
            state = self._state
        self._publish(state)
        return state

    # ------------------------------------------------------------------ helpers
    def _publish(self, state: DnsState) -> None:
        if self._on_state is not None:
            self._on_state(state)

    def _allowlist_containers(
        self, errors: list[str]
    ) -> tuple[list[Container], tuple[CoiRule, ...] | None]:
        live: tuple[CoiRule, ...] | None
        try:
            live = tuple(self._list_rules())
        except CoiTuiError as error:
            live = None  # still show what the caches pin; modes come from the recorded key
            errors.append(str(error))
        wanted = []
        for container in self._containers.list_containers():
            if self._names and container.name not in self._names:
                continue
            mode, _source = mode_of(container, owned(container, live or ()), self._era)
            if mode is Mode.ALLOWLIST:
                wanted.append(container)
        return wanted, live

    def _cache_or_none(self, name: str) -> IpCache | None:
        try:
            return load_cache(cache_path(name, self._home))
        except CacheError:
            return None

    def _write_cache(self, name: str, resolution: Resolution, now: float,
                     old: IpCache | None) -> list[str]:
        new = cache_from_resolution(resolution, datetime.fromtimestamp(now, UTC))
        if old is not None and old.same_pins(new) and old.domains:
            return []  # COI rewrites only after a changed refresh
        try:
            save_cache(cache_path(name, self._home), new)
        except (CacheError, OSError) as error:
            return [f"{name}: cache not written: {error}"]
        return []

    def _reapply_if_changed(self, container: Container, resolution: Resolution,
                            pinned: frozenset[str], now: float) -> Job | None:
        target = frozenset(resolution.ips)
        if _has_unknown(resolution):
            # a failed domain with nothing cached: its IPs are unknown, so none may go
            target |= pinned
        if target == pinned or not target:
            return None  # unchanged; or nothing resolved at all: never shrink to nothing
        pinned_resolution = replace(resolution, ips=tuple(sorted(target)))
        settings, containers, era = self.settings, self._containers, self._era
        write_cache = not _has_unknown(resolution)

        def build(firewall: FirewallBackend) -> Built:
            planner = ChangePlanner(containers, settings, lambda _s: pinned_resolution,
                                    era=era)
            change = planner.apply([container.name], Mode.ALLOWLIST, firewall.list_rules())
            recorded = record_outcome(change, containers)

            def done() -> Sequence[str]:
                # record_outcome's hook returns warnings in newer engines, None in older ones
                warnings = cast(Callable[[], object], recorded)()
                if write_cache:
                    # best effort: the rules are in; a corrupt file is reported, kept as it is
                    with contextlib.suppress(CacheError, OSError):
                        self._write_cache(container.name, resolution, now,
                                          self._cache_or_none(container.name))
                return tuple(warnings) if isinstance(warnings, list | tuple) else ()

            return change.plan, done

        return Job(f"DNS refresh: re-apply the allowlist of {container.name}", build,
                   "dns-refresh")


def _has_unknown(resolution: Resolution) -> bool:
    return any(r.status is DomainStatus.FAILED for r in resolution.records.values())


def _cache_problem(errors: Sequence[str], name: str) -> str:
    return next((e for e in errors if f"/{name}.json" in e), "")
