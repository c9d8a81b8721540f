"""What a change to COI's isolation is: the plans behind apply, re-apply and remove.

Plans are computed here from fresh state (containers, live rules, settings, resolved allowlist)
and handed to the firewall engine as jobs; the CLI's --dry-run and the TUI's review show the
very same Plan object the engine then runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from coi_tui.backends import conntrack, sockets
from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.eras.seam import Allowed, CoiEra, entry_name, owned
from coi_tui.errors import BadInput, CoiTuiError, PermissionDenied
from coi_tui.models import MODE_CONFIG_KEY, CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan
from coi_tui.runtime.engine import Built, Job
from coi_tui.services.dns.cache import (
    CacheError,
    IpCache,
    cache_from_resolution,
    cache_path,
    load_cache,
    merge_cached,
    save_cache,
)
from coi_tui.services.dns.records import DomainStatus
from coi_tui.services.grants import GrantRecord, GrantsError, grants_path, load_grants, openings_for
from coi_tui.services.inventory import mode_of
from coi_tui.services.resolve import Resolution, is_ipv4_literal, resolve_allowlist

Resolver = Callable[[NetworkSettings], Resolution]
# The allowlist IPs a container has pinned (COI's IP cache), None when unknown.
Pinned = Callable[[Container], tuple[str, ...] | None]
# COI's IP cache of a container, None when there is none (or it does not parse).
CachedIps = Callable[[Container], IpCache | None]
# coi-tui's grants (services/grants.py): part of each container's desired rules
Grants = Callable[[], Sequence[GrantRecord]]


def grants_reader(home: Path | None = None) -> Grants:
    """The grants file under `home` (None: the user's home, at each read). Unreadable: no
    grant counts (more closed, never more open); `coi-tui allow` says why."""

    def grants() -> Sequence[GrantRecord]:
        try:
            return load_grants(grants_path(home or Path.home()))
        except GrantsError:
            return ()

    return grants


def cache_reader(home: Path | None = None) -> CachedIps:
    """COI's IP cache files under `home` (None: the user's home, looked up at each read)."""

    def cached(container: Container) -> IpCache | None:
        try:
            cache = load_cache(cache_path(container.name, home or Path.home()))
        except CacheError:
            return None  # a corrupt file is the refresher's and the DNS view's to report
        return cache if cache.domains else None

    return cached


def default_resolver(settings: NetworkSettings) -> Resolution:
    return resolve_allowlist(
        settings.allowed_domains, allow_local=settings.allow_local_network_access
    )


def parse_mode(value: str) -> Mode:
    try:
        return Mode(value)
    except ValueError:
        raise BadInput(
            f"unknown mode {value!r} (expected open, restricted or allowlist)"
        ) from None


@dataclass(frozen=True)
class StaleDomain:
    """A domain that did not resolve and keeps the addresses COI's IP cache holds for it
    (COI: "DNS failures use cached IPs from previous successful resolution")."""

    container: str
    domain: str
    ips: tuple[str, ...]
    cached_at: datetime | None  # the cache's last_update; None: unknown (Go's zero time)
    error: str = ""  # why it failed this time

    def age(self, now: datetime | None = None) -> str:
        return cache_age(self.cached_at, now)


def cache_age(cached_at: datetime | None, now: datetime | None = None) -> str:
    """How old a cache is, short: "45 s old", "12 min old", "3 h 5 min old", "2 d old"."""
    if cached_at is None:
        return "age unknown"
    seconds = max(0, int(((now or datetime.now(UTC)) - cached_at).total_seconds()))
    if seconds < 60:
        return f"{seconds} s old"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min old"
    if minutes < 24 * 60:
        return f"{minutes // 60} h {minutes % 60} min old" if minutes % 60 else \
            f"{minutes // 60} h old"
    return f"{minutes // (24 * 60)} d old"


def stale_line(stale: Sequence[StaleDomain], now: datetime | None = None) -> str:
    """One line for --dry-run and the review: "stale: <domain> from COI's IP cache (<age>)";
    domains of the same age together; whose cache, in brackets, when several containers'."""
    if not stale:
        return ""
    several = len({s.container for s in stale}) > 1
    groups: dict[tuple[str, str], list[str]] = {}
    for item in stale:
        key = (item.age(now), item.container if several else "")
        if item.domain not in groups.setdefault(key, []):
            groups[key].append(item.domain)
    parts = [f"{', '.join(domains)} from COI's IP cache ({age})" + (f" [{who}]" if who else "")
             for (age, who), domains in groups.items()]
    return "stale: " + "; ".join(parts)


def stale_record(item: StaleDomain, now: datetime | None = None) -> dict[str, object]:
    """A stale domain for --json."""
    return {"container": item.container, "domain": item.domain, "ips": list(item.ips),
            "cached_at": item.cached_at.isoformat() if item.cached_at else None,
            "age": item.age(now), "error": item.error}


@dataclass(frozen=True)
class Change:
    """A previewable change: the plan, and what to record once it has run."""

    plan: Plan
    targets: tuple[Container, ...]
    mode: Mode | None  # recorded on each target after a successful run
    resolution: Resolution | None = None
    forget_mode: bool = False  # a removal also forgets the recorded mode
    skipped: tuple[str, ...] = ()  # containers left out, and why (said as warnings)
    stale: tuple[StaleDomain, ...] = ()  # failed domains kept at their cached addresses
    # per target: its resolution with its own cache's stale answers merged in (pinned after)
    resolutions: Mapping[str, Resolution] = field(default_factory=dict)

    def resolution_of(self, container: Container) -> Resolution | None:
        return self.resolutions.get(container.name, self.resolution)


class ChangePlanner:
    def __init__(
        self,
        containers: ContainerBackend,
        settings: NetworkSettings,
        resolver: Resolver = default_resolver,
        pinned: Pinned | None = None,
        *,
        era: CoiEra,
        cached: CachedIps | None = None,
        grants: Grants | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.era = era
        self.grants = grants or grants_reader()
        self._clock = clock
        self._cached = cached or cache_reader()  # COI's IP cache: a failed domain keeps it
        self.containers = containers
        self._settings = settings
        self._resolver = resolver
        self._pinned = pinned  # restores keep an allowlist's pinned IPs rather than re-resolve
        self._gateways: dict[str, str | None] = {}

    def find(self, names: Sequence[str]) -> list[Container]:
        """The named containers, each running with an IPv4; BadInput otherwise."""
        known = {c.name: c for c in self.containers.list_containers()}
        found = []
        for name in dict.fromkeys(names):
            container = known.get(name)
            if container is None:
                raise BadInput(f"no such container: {name}")
            if container.ipv4 is None:
                raise BadInput(
                    f"{name} has no IPv4 address (status {container.status}): start it first"
                )
            found.append(container)
        return found

    def _gateway(self, container: Container) -> str | None:
        network = container.network
        if network is None:
            return None
        if network not in self._gateways:
            net = self.containers.get_network(network)
            self._gateways[network] = net.gateway if net else None
        return self._gateways[network]

    def _allowed(self, resolution: Resolution | None,
                 pinned: tuple[str, ...] | None = None) -> Allowed:
        """An allowlist's answers per entry: what is pinned, else what was resolved."""
        domains = [entry_name(d) for d in self._settings.allowed_domains]
        if pinned:
            return dict.fromkeys(domains, pinned)
        if resolution is None:
            return {}
        if not resolution.records:
            return dict.fromkeys(domains, resolution.ips)
        allowed = {entry_name(d): tuple(r.ips) for d, r in resolution.records.items()}
        kept = tuple(sorted(set(resolution.ips) - {ip for ips in allowed.values() for ip in ips}))
        if kept:  # IPs kept for domains that did not answer: a DNS failure never shrinks
            for domain in [d for d, ips in allowed.items() if not ips] or list(allowed):
                allowed[domain] = (*allowed[domain], *kept)
        return allowed

    @property
    def settings(self) -> NetworkSettings:
        return self._settings

    def settings_for(self, container: Container, mode: Mode) -> NetworkSettings:
        """The settings with the container's grants in force (they are desired too)."""
        openings = openings_for(self.grants(), container, mode, self._clock())
        return replace(self._settings, openings=openings) if openings else self._settings

    def _transition(self, container: Container, mode: Mode, live: Sequence[CoiRule],
                    allowed: Allowed) -> Plan:
        return self.era.transition(container, live, mode, self.settings_for(container, mode),
                                   self._gateway(container), allowed)

    def answers(self, container: Container) -> Allowed:
        """The allowlist answers a re-apply installs for the container: pinned, else
        resolved (COI's error when nothing resolves)."""
        pinned = self._pinned(container) if self._pinned is not None else None
        if pinned:
            return self._allowed(None, pinned)
        resolution = self._resolution([Mode.ALLOWLIST], [container])
        return self._allowed(self._with_cache(resolution, container)[0] if resolution else None)

    def _resolution(self, modes: Iterable[Mode],
                    targets: Sequence[Container] = ()) -> Resolution | None:
        """The allowlist, resolved once for every target. COI's error when nothing resolved
        and no target's IP cache holds addresses for a domain that failed."""
        if Mode.ALLOWLIST not in set(modes):
            return None
        if not self._settings.allowed_domains:
            raise BadInput("allowlist mode requires at least one allowed domain")
        resolution = self._resolver(self._settings)
        if not resolution.ips and not any(self._with_cache(resolution, c)[0].ips
                                          for c in targets):
            raise BadInput(nothing_resolved(resolution))
        return resolution

    def _with_cache(self, resolution: Resolution, container: Container
                    ) -> tuple[Resolution, tuple[StaleDomain, ...]]:
        """The container's answers (COI's ResolveAll): a domain that failed keeps what COI's IP
        cache of this container holds for it, marked stale (through the rebinding filter
        again); and which domains are stale, with the cache's time."""
        records = resolution.records.values()
        if not any(r.status in (DomainStatus.FAILED, DomainStatus.STALE) for r in records):
            return resolution, ()
        cache = self._cached(container)
        mine = resolution
        if cache is not None and any(r.status is DomainStatus.FAILED
                                     and not is_ipv4_literal(r.domain) for r in records):
            mine = merge_cached(resolution, [cache], self._settings.allow_local_network_access)
            # addresses the resolver kept beyond its records (a refresh's pins) stay
            mine = replace(mine, ips=tuple(sorted({*mine.ips, *resolution.ips})))
        stale = tuple(
            StaleDomain(container.name, r.domain, r.ips,
                        cache.last_update if cache and r.domain in cache.domains else None,
                        r.error)
            for r in mine.records.values() if r.status is DomainStatus.STALE and r.ips)
        return mine, stale

    def apply(self, names: Sequence[str], mode: Mode, live: Iterable[CoiRule]) -> Change:
        targets = self.find(names)
        live = tuple(live)
        resolution = self._resolution([mode], targets)
        plans: list[Plan] = []
        stale: list[StaleDomain] = []
        resolutions: dict[str, Resolution] = {}
        for c in targets:
            mine = resolution
            if resolution is not None:
                mine, kept = self._with_cache(resolution, c)
                if not mine.ips:  # nothing resolved and nothing cached for this one
                    raise BadInput(nothing_resolved(resolution, c.name))
                stale += kept
                resolutions[c.name] = mine
            plans.append(self._transition(c, mode, live, self._allowed(mine)))
        title = f"{mode.value} for {', '.join(c.name for c in targets)}"
        return Change(self.era.merge(plans, title), tuple(targets), mode, resolution,
                      stale=tuple(stale), resolutions=resolutions)

    def reapply(self, live: Iterable[CoiRule], *, only_recorded: bool = False,
                moved_from: Iterable[str] = (), names: Sequence[str] = ()) -> Change:
        """Desired rules back wherever they drifted: every container with a mode (recorded, or
        with `only_recorded=False` also inferred from its rules), or only those in `names`.
        `moved_from`: addresses that containers had before their IPv4 changed; their rules go
        too, unless an instance holds that address again."""
        live = tuple(live)
        wanted: list[tuple[Container, Mode]] = []
        everyone = self.containers.list_containers()
        taken = {c.ipv4 for c in everyone if c.ipv4}
        left_behind = [
            self.era.removal(Container(f"(was {ip})", "", "Gone", ip, None, None, None), live)
            for ip in dict.fromkeys(moved_from) if ip not in taken
        ]
        for c in everyone:
            if c.ipv4 is None or (names and c.name not in names):
                continue
            mode, _source = mode_of(c, owned(c, live), self.era)
            if mode is None or (only_recorded and not c.mode_key):
                continue
            wanted.append((c, mode))
        skipped: list[str] = []
        pinned = {c.name: self._pinned(c) for c, m in wanted
                  if m is Mode.ALLOWLIST and self._pinned is not None}
        unpinned = [w for w in wanted if w[1] is Mode.ALLOWLIST and not pinned.get(w[0].name)]
        try:
            resolution = self._resolution((m for c, m in wanted if not pinned.get(c.name)),
                                          [c for c, _ in unpinned])
        except BadInput as error:
            # one allowlist that cannot be resolved must not keep the others unrestored
            resolution = None
            skipped = [f"{c.name} (allowlist) not re-applied: {error}" for c, _ in unpinned]
            wanted = [w for w in wanted if w not in unpinned]
        answers: dict[str, Allowed] = {}
        stale: list[StaleDomain] = []
        for c, mode in list(wanted):
            if (c, mode) in unpinned and resolution is not None:
                mine, kept = self._with_cache(resolution, c)
                if not mine.ips:
                    skipped.append(f"{c.name} (allowlist) not re-applied: "
                                   f"{nothing_resolved(resolution)}")
                    wanted.remove((c, mode))
                    continue
                stale += kept
                answers[c.name] = self._allowed(mine)
            else:
                answers[c.name] = self._allowed(resolution, pinned.get(c.name))
        plans = {c.name: self._transition(c, mode, live, answers[c.name]) for c, mode in wanted}
        plan = self.era.merge((p for p in [*plans.values(), *left_behind] if not p.empty),
                              "re-apply drifted rules")
        return Change(plan, tuple(c for c, _ in wanted if not plans[c.name].empty), None,
                      resolution, skipped=tuple(skipped),
                      stale=tuple(s for s in stale if not plans[s.container].empty))

    def after_settings_change(self, old: NetworkSettings, live: Iterable[CoiRule]) -> Change:
        """What a saved config means for running containers (this planner has the new
        settings): a new default mode goes to the containers that run the old default; other
        changes (flags, allowlist) re-apply every container with a mode."""
        live = tuple(live)
        if old.mode is not self._settings.mode:
            followers = []
            for c in self.containers.list_containers():
                if c.ipv4 is None:
                    continue
                mode, _source = mode_of(c, owned(c, live), self.era)
                if mode is old.mode:
                    followers.append(c.name)
            if not followers:
                return Change(Plan((), "no container runs the old default mode"), (), None)
            return self.apply(followers, self._settings.mode, live)
        return self.reapply(live)

    def remove(self, names: Sequence[str], live: Iterable[CoiRule]) -> Change:
        known = {c.name: c for c in self.containers.list_containers()}
        missing = [n for n in names if n not in known]
        if missing:
            raise BadInput(f"no such container: {missing[0]}")
        targets = [known[n] for n in dict.fromkeys(names)]
        live = tuple(live)
        title = f"remove the rules of {', '.join(c.name for c in targets)}"
        plan = self.era.merge([self.era.removal(c, live) for c in targets], title)
        return Change(plan, tuple(targets), None, forget_mode=True)


def nothing_resolved(resolution: Resolution, container: str = "") -> str:
    """COI's error when an allowlist would allow nothing (for one container: its cache had
    nothing either)."""
    reasons = "; ".join(f"{d}: {r}" for d, r in resolution.failed.items())
    where = f" for {container} (nor in its IP cache)" if container else ""
    return f"failed to resolve any allowed domains{where}: {reasons or 'none allowed'}"


BuildChange = Callable[[ChangePlanner, FirewallBackend], Change]


def record_outcome(change: Change, containers: ContainerBackend, *,
                   cut_flows: bool = True) -> Callable[[], list[str]]:
    """After a successful run: remember each container's mode (or forget it on removal) and
    cut the flows the new rules would no longer let start (`cut_flows=False` where nothing
    was taken away, e.g. an nft-era refresh that only adds answers). Returns warnings for
    the user."""

    def done() -> list[str]:
        warnings = list(change.skipped)
        for container in change.targets:
            if change.mode is not None:
                containers.set_config(container, MODE_CONFIG_KEY, change.mode.value)
            resolution = change.resolution_of(container)
            if change.mode is Mode.ALLOWLIST and resolution is not None:
                warnings += _pin_in_cache(container, resolution)
            elif change.forget_mode:
                containers.set_config(container, MODE_CONFIG_KEY, None)
            mode = change.mode or _recorded_mode(container)
            if cut_flows and container.ipv4 and not change.forget_mode \
                    and mode is not Mode.OPEN:
                warning = _cut_flows(container)
                if warning:
                    warnings.append(warning)
        return warnings

    return done


def _pin_in_cache(container: Container, resolution: Resolution) -> list[str]:
    """What was applied goes to COI's IP cache, as COI does: the refresher and drift read it."""
    cache = cache_from_resolution(resolution, datetime.now(UTC))
    try:
        save_cache(cache_path(container.name, Path.home()), cache)
    except (CacheError, OSError) as error:
        return [f"{container.name}: IP cache not written: {error}"]
    return []


def _recorded_mode(container: Container) -> Mode | None:
    try:
        return Mode(container.mode_key) if container.mode_key else None
    except ValueError:
        return None


def _cut_flows(container: Container) -> str:
    """The rules are in place whatever happens here; flows that survive are named."""
    assert container.ipv4 is not None
    try:
        conntrack.flush_source(container.ipv4)
        return ""
    except PermissionDenied as error:
        fix = f"add to sudoers: {conntrack.sudoers_line()}"
        reason = str(error)
    except CoiTuiError as error:
        fix, reason = "install conntrack, run as root", str(error)
    flows = sockets.open_flows(container)
    named = "; ".join(flows[:8]) + (f" (+{len(flows) - 8} more)" if len(flows) > 8 else "")
    return (f"{container.name}: existing flows were NOT cut and stay open until they end "
            f"({named or 'none seen open'}): {reason}; fix: {fix}")


def job_for(
    change: Change,
    containers: ContainerBackend,
    rebuild: Callable[[FirewallBackend], Change],
    kind: str = "change",
) -> Job:
    """The reviewed change as a job. Under the writer lock it is planned again from the state
    found then: if that is not the reviewed plan, nothing runs (what was previewed is what
    runs) and the user reviews again."""

    def build(firewall: FirewallBackend) -> Built:
        fresh = rebuild(firewall)
        if fresh.plan.lines() != change.plan.lines():
            now, then = len(fresh.plan.lines()), len(change.plan.lines())
            raise StateMoved(
                f"{change.plan.title}: the rules changed since the review "
                f"({now} line(s) now, {then} reviewed): review again")
        return change.plan, record_outcome(change, containers)

    return Job(change.plan.title, build, kind)


def fresh_job(title: str, containers: ContainerBackend,
              plan_now: Callable[[FirewallBackend], Change], kind: str = "change") -> Job:
    """A change planned only once the writer lock is held (the CLI, recovery)."""

    def build(firewall: FirewallBackend) -> Built:
        change = plan_now(firewall)
        return change.plan, record_outcome(change, containers)

    return Job(title, build, kind)


class StateMoved(CoiTuiError):
    """The state changed between the review and the run."""
