"""The allowlist refresher: one schedule for every allowlist container
(docs/coi-firewalld-era.md §3.2), run inside the TUI, by `coi-tui dns --follow` and by
`coi-tui watch` (one implementation).

When due it resolves the allowlist, keeps failed domains' IPs from COI's cache (stale), and for
each allowlist container whose pins differ from the new answers it submits ONE re-apply job to
the firewall worker. The job plans with ChangePlanner against fresh rules. No job when nothing
changed.

firewalld era: the pins are the /32 ACCEPTs at priority 1; the transition is the fail-closed
one (new ACCEPTs in before old ones go out, old flows cut). Unlike COI (remove everything,
re-add) there is no exposure window.

nft era (COI >= 0.11): resolved set elements are permanent, as COI's: a refresh only adds the
new answers (one transaction) and then rewrites the container's `# BEGIN coi allowlist` block
of /etc/hosts with them (firewall first, file second), the container's only resolver since
DNS is blocked. A job is due when an answer is not in the set yet or the block does not say
what COI would write. Old answers stay pinned and are shown with their age (pins.py); pruning
them is a separate, reviewed change (keep/prune.py).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import ChangePlanner, record_outcome
from coi_tui.eras.seam import CoiEra, entry_name, owned
from coi_tui.errors import CoiTuiError
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanStep
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
from coi_tui.services.dns.pins import (
    OldAnswer,
    ledger_path,
    load_ledger,
    old_answers,
    save_ledger,
    update_ledger,
)
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.dns.schedule import DISABLED_NOTE, SCHEDULE_NOTE, interval_for
from coi_tui.services.dns.state import ContainerPins, DnsState, RefreshResult
from coi_tui.services.inventory import mode_of
from coi_tui.services.resolve import Clock, Resolution, resolve_allowlist

__all__ = ["ContainerPins", "DnsRefresher", "DnsState", "RefreshResult", "pinned_ips"]

ResolveFn = Callable[[Sequence[str], bool], Resolution]  # (entries, allow_local) -> answers


def pinned_ips(rules: Iterable[CoiRule], ip: str, era: CoiEra) -> frozenset[str]:
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
        era: CoiEra,
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
            hosts, hosts_file = self._hosts_in_step(container, mine, live)
            old = self._old_answers(container, mine, live, cache, now)
            if self._apply and live is not None and container.ipv4 and entries:
                job = self._reapply_if_changed(container, mine, rule_ips or frozenset(), now,
                                               hosts)
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
                old, hosts_file,
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

    def _hosts_in_step(self, container: Container, resolution: Resolution,
                       live: Sequence[CoiRule] | None) -> tuple[tuple[PlanStep, ...], str]:
        """The era's /etc/hosts steps for these answers that the file is not in step with
        (each step verifies itself: one read of the file), and a word for the view."""
        if not self._era.writes_container_hosts or live is None or _has_unknown(resolution):
            return (), ""
        wanted = self._era.hosts_steps(container, self.settings, answers_of(resolution))
        if not wanted:
            return (), ""
        differ = [(step, why) for step in wanted
                  for why in [step.verify(lambda: live)] if why]
        if not differ:
            return (), "in step"
        unreadable = [w for _, why in differ for w in why if "could not read" in w]
        word = f"unreadable: {unreadable[0]}" if unreadable else "not in step"
        return tuple(step for step, _ in differ), word + (
            " (this refresh rewrites it)" if self._apply else "")

    def _old_answers(self, container: Container, resolution: Resolution,
                     live: Sequence[CoiRule] | None, cache: IpCache | None,
                     now: float) -> tuple[OldAnswer, ...] | None:
        """Pins DNS no longer gives, dated in coi-tui's ledger (None while a name fails:
        what it still gives is unknown)."""
        if not self._era.keeps_old_answers or live is None:
            return None
        pins = self._era.resolved_pins(container, live)
        answered = frozenset(resolution.ips)
        path = ledger_path(container.name, self._home)
        ledger = update_ledger(load_ledger(path), pins, answered,
                               datetime.fromtimestamp(now, UTC), cache)
        with contextlib.suppress(OSError):
            save_ledger(path, ledger)
        if _has_unknown(resolution) or any(r.status is DomainStatus.STALE
                                           for r in resolution.records.values()):
            return None
        return old_answers(ledger, pins - answered)

    def _reapply_if_changed(self, container: Container, resolution: Resolution,
                            pinned: frozenset[str], now: float,
                            hosts: tuple[PlanStep, ...] = ()) -> Job | None:
        target = frozenset(resolution.ips)
        keeps = self._era.keeps_old_answers
        if keeps:
            # old answers stay (permanent elements): due when an answer is not pinned yet
            # or the hosts file is not in step; a failed name's pins stay whatever happens
            due = bool(target - pinned) or bool(hosts)
            pinned_resolution = resolution
        else:
            if _has_unknown(resolution):
                # a failed domain with nothing cached: its IPs are unknown, so none may go
                target |= pinned
            due = target != pinned
            pinned_resolution = replace(resolution, ips=tuple(sorted(target)))
        if not due or not target:
            return None  # unchanged; or nothing resolved at all: never shrink to nothing
        settings, containers, era = self.settings, self._containers, self._era
        write_cache = not _has_unknown(resolution)

        def build(firewall: FirewallBackend) -> Built:
            planner = ChangePlanner(containers, settings, lambda _s: pinned_resolution,
                                    era=era)
            change = planner.apply([container.name], Mode.ALLOWLIST, firewall.list_rules())
            # the file steps the transition did not bring (the set already had the answers)
            extra = tuple(step for step in hosts if step not in change.plan.steps)
            if extra:
                change = replace(change, plan=Plan((*change.plan.steps, *extra),
                                                   change.plan.title or
                                                   f"{container.name}: /etc/hosts"))
            # nothing is taken away where old answers stay: no flow to cut
            recorded = record_outcome(change, containers, cut_flows=not keeps)

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


def answers_of(resolution: Resolution) -> dict[str, tuple[str, ...]]:
    """Each name (COI's parse of its entry) with the addresses it resolved to (a stale one's
    cached addresses), as the transition pins them."""
    return {entry_name(d): tuple(r.ips) for d, r in resolution.records.items() if r.ips}


def _has_unknown(resolution: Resolution) -> bool:
    return any(r.status is DomainStatus.FAILED for r in resolution.records.values())


def _cache_problem(errors: Sequence[str], name: str) -> str:
    return next((e for e in errors if f"/{name}.json" in e), "")
