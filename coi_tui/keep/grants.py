"""Grants: let one destination through for one container, now, on top of its enforced mode
(the approve of the attempt feed, and `coi-tui allow`).

What a grant is follows the container's recorded mode: in allowlist mode the address (and
port) becomes reachable, in restricted mode a rejected LAN host becomes an exception as COI's
`[[network.hosts]]` would make it; open mode blocks nothing and metadata (169.254.0.0/16) is
never granted. Each era writes it as COI would (eras/firewalld/policy.py `opening_rules`,
eras/nft/openings.py). A grant is recorded in coi-tui's grants file (services/grants.py) and
from then on is part of the container's desired rules, so recovery and the refresher keep it;
when it ends (its time, or the container stopped) the next expiry plan takes it out and says
"grant for X expired" (the keeper runs one as soon as a snapshot shows it, `coi-tui allow`
before anything else). Every change is a reviewed plan through the engine.
"""

from __future__ import annotations

import copy
import ipaddress
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from coi_tui.backends.base import FirewallBackend
from coi_tui.changes import Change, ChangePlanner, StateMoved
from coi_tui.eras.seam import flat
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanStep
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import Built, Job
from coi_tui.services.config import ConfigEditor, ConfigError, Locations, load_effective
from coi_tui.services.grants import (
    GrantRecord,
    grants_path,
    load_grants,
    save_grants,
    with_grant,
    without,
)
from coi_tui.services.resolve import Resolution, resolve_allowlist
from coi_tui.services.traffic.attempts import Attempt

_METADATA = ipaddress.IPv4Network("169.254.0.0/16")
_PRIVATE = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12",
                                                    "192.168.0.0/16"))


@dataclass(frozen=True)
class Grant:
    """What the user asked for: `address` (and `port`, None: every port) reachable for
    `container`, named `name` in its /etc/hosts where COI writes one, until `until` (epoch
    seconds; None: until the container stops); `save` also writes it to COI's config."""

    container: str
    address: str
    port: int | None = None
    name: str | None = None
    until: float | None = None
    save: bool = False

    @property
    def destination(self) -> str:
        where = f"{self.address}:{self.port}" if self.port else self.address
        return f"{self.name} ({where})" if self.name else where


def check_grant(grant: Grant, container: Container, settings: NetworkSettings,
                era: str, now: float) -> Mode:
    """The container's enforced mode, when the grant fits it; else BadInput, one line."""
    try:
        address = ipaddress.IPv4Address(grant.address)
    except ValueError:
        raise BadInput(f"{grant.address!r} is not an IPv4 address") from None
    if address in _METADATA:
        raise BadInput(f"{address} is a link-local/metadata address (169.254.0.0/16): "
                       "never granted")
    if address.is_loopback or address.is_multicast or address.is_unspecified:
        raise BadInput(f"{address} is not a destination a grant can open")
    if grant.port is not None and not 1 <= grant.port <= 65535:
        raise BadInput(f"port {grant.port} is out of range (1-65535)")
    if grant.name is not None and not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?",
                                                   grant.name):
        raise BadInput(f"{grant.name!r} is not a host name")
    if grant.until is not None and grant.until <= now:
        raise BadInput("the grant's time is already up")
    try:
        mode = Mode(container.mode_key or "")
    except ValueError:
        raise BadInput(f"{container.name} has no recorded mode: nothing blocks it, nothing "
                       "to grant") from None
    private = any(address in net for net in _PRIVATE)
    local = settings.allow_local_network_access
    if mode is Mode.OPEN:
        raise BadInput("open mode blocks nothing")
    if mode is Mode.RESTRICTED and (not private or local or not settings.block_private_networks):
        raise BadInput(f"restricted mode does not block {address} (it rejects only the "
                       "private ranges and metadata): nothing to grant")
    if mode is Mode.ALLOWLIST and private and local:
        raise BadInput(f"allow_local_network_access already opens {address}: nothing to grant")
    if mode is Mode.ALLOWLIST and grant.port == 53:
        raise BadInput("allowlist mode blocks DNS by design: port 53 is never granted")
    if grant.save and mode is Mode.RESTRICTED and era == "firewalld":
        raise BadInput("COI's firewalld era has no [[network.hosts]]: --save cannot keep a "
                       "restricted-mode exception (grant it without --save)")
    return mode


def config_entry(record: GrantRecord, era: str) -> tuple[str, str]:
    """What `save` writes to COI's config, as COI reads it: an allowed_domains entry
    (`name:port`; COI's firewalld era takes no ports) or a `[[network.hosts]]` table."""
    if record.mode is Mode.ALLOWLIST:
        dest = record.name or record.address
        port = f":{record.port}" if record.port and era == "nft" else ""
        return "network.allowed_domains", f"{dest}{port}"
    names = f', hostnames = ["{record.name}"]' if record.name else ""
    ports = f", ports = [{record.port}]" if record.port else ""
    return "network.hosts", f'{{ ip = "{record.address}"{names}{ports} }}'


def _with_grants(planner: ChangePlanner, records: Sequence[GrantRecord]) -> ChangePlanner:
    planned = copy.copy(planner)
    planned.grants = lambda: records
    return planned


def _hosts_steps(planner: ChangePlanner, container: Container, mode: Mode,
                 settings: NetworkSettings) -> tuple[PlanStep, ...]:
    """The era's /etc/hosts steps for the grants (none where COI writes none)."""
    if mode is not Mode.ALLOWLIST or not planner.era.writes_container_hosts:
        return ()
    return planner.era.hosts_steps(container, settings, planner.answers(container))


def _joined(planner: ChangePlanner, plans: Sequence[Plan], extra: Sequence[PlanStep],
            title: str) -> Plan:
    plans = [p for p in plans if not p.empty]
    # one plan is merged already (a second merge would move the backstop twice)
    steps = list(plans[0].steps if len(plans) == 1 else planner.era.merge(plans, title).steps)
    steps += [s for s in dict.fromkeys(extra) if s not in steps]
    return Plan(tuple(steps), title)


def _for(grant: Grant, now: float) -> str:
    if grant.until is None:
        return "until it stops"
    return f"for {max(1, round(grant.until - now))}s"


def grant_change(planner: ChangePlanner, grant: Grant, live: Sequence[CoiRule],
                 *, now: float | None = None) -> tuple[Change, GrantRecord]:
    """The plan that puts `grant` in force (the container's desired rules with its grants,
    this one among them) and the record it leaves. BadInput where it does not fit."""
    now = time.time() if now is None else now
    (container,) = planner.find([grant.container])
    mode = check_grant(grant, container, planner.settings,
                       planner.era.name, now)
    assert container.ipv4 is not None
    record = GrantRecord(container.name, container.ipv4, mode, grant.address, grant.port,
                         grant.name, grant.until, now)
    planned = _with_grants(planner, with_grant(planner.grants(), record))
    change = planned.reapply(live, only_recorded=True, names=[container.name])
    if change.skipped:
        raise BadInput(change.skipped[0])
    title = f"grant {container.name} {grant.destination} {_for(grant, now)}"
    extra = _hosts_steps(planned, container, mode, planned.settings_for(container, mode)) \
        if grant.name else ()
    plan = _joined(planned, [change.plan], extra, title)
    return Change(plan, (container,), None, change.resolution, stale=change.stale), record


def grant_plan(planner: ChangePlanner, grant: Grant, live: Sequence[CoiRule]) -> Plan:
    """The one entry point for a review: the plan `grant` would run now."""
    return grant_change(planner, grant, live)[0].plan


def revoke_change(planner: ChangePlanner, container: str, address: str, port: int | None,
                  live: Sequence[CoiRule], *, now: float | None = None
                  ) -> tuple[Change, tuple[GrantRecord, ...]]:
    """The plan that takes a grant out before its time, and the record(s) it ends."""
    records = [g for g in planner.grants() if g.container == container
               and g.address == address and (port is None or g.port == port)]
    if not records:
        raise BadInput(f"no grant for {container} to {address}{f':{port}' if port else ''}")
    return _ending(planner, live, records, f"revoke {container} {address}",
                   time.time() if now is None else now), tuple(records)


def ended_grants(planner: ChangePlanner, now: float
                 ) -> tuple[tuple[GrantRecord, str], ...]:
    """Grants that no longer hold, with why."""
    records = planner.grants()
    if not records:
        return ()
    everyone = {c.name: c for c in planner.containers.list_containers()}
    return tuple((g, why) for g in records if (why := g.ended(everyone.get(g.container), now)))


def expiry_change(planner: ChangePlanner, live: Sequence[CoiRule], *,
                  now: float | None = None) -> tuple[Change, tuple[tuple[GrantRecord, str], ...]]:
    """The plan that takes every ended grant out of force, and those grants."""
    now = time.time() if now is None else now
    ended = ended_grants(planner, now)
    plan = _ending(planner, live, [g for g, _ in ended], "expire grants", now).plan \
        if ended else Plan((), "no grant ended")
    return Change(plan, (), None), ended


def _ending(planner: ChangePlanner, live: Sequence[CoiRule], gone: Sequence[GrantRecord],
            title: str, now: float) -> Change:
    """The containers' desired rules without `gone`, on every container that still runs
    with the granted address; in the nft era also the addresses out of the sets that the
    kernel does not time out itself (kept there as COI keeps old answers) and the names
    out of /etc/hosts."""
    rest = without(planner.grants(), gone)
    planned = _with_grants(planner, rest)
    running = {c.name: c for c in planner.containers.list_containers()
               if c.ipv4 and any(g.container == c.name and g.ipv4 == c.ipv4 for g in gone)}
    if not running:
        return Change(Plan((), title), (), None)
    change = planned.reapply(live, only_recorded=True, names=list(running))
    plans, extra = [change.plan], []
    for container in running.values():
        mine = [g for g in gone if g.container == container.name and g.mode is Mode.ALLOWLIST]
        if not mine or not planner.era.writes_container_hosts:
            continue
        settings = planned.settings_for(container, Mode.ALLOWLIST)
        answers = planned.answers(container)
        pinned = planner.era.resolved_pins(container, live)
        kept = {o.address for o in settings.openings} | set(flat(answers))
        stays = sorted({g.address for g in mine if g.until is None} & pinned - kept)
        if stays:
            plans.append(planner.era.prune(container, live, stays, settings, answers))
        ended = tuple(g.opening(now, ended=True) for g in mine if g.name)
        if ended:
            named = replace(settings, openings=(*settings.openings, *ended))
            extra += list(planner.era.hosts_steps(container, named, answers))
    return Change(_joined(planned, plans, extra, title), tuple(running.values()), None)


# ----------------------------------------------------------------------------- jobs
def _store(home: Path | None) -> Path:
    return grants_path(home or Path.home())


def _lines_as_reviewed(plan: Plan) -> tuple[str, ...]:
    """A plan's lines without the seconds a timed element has left (they tick between the
    review and the run; the grant's end is the same)."""
    return tuple(re.sub(r" timeout \d+s", " timeout", str(line)) for line in plan.lines())


def grant_job(grant: Grant, make_planner: Callable[[], ChangePlanner], *,
              reviewed: Plan | None = None, home: Path | None = None,
              audit: AuditLog | None = None,
              save: Callable[[GrantRecord], str] | None = None,
              on_planned: Callable[[Change], None] = lambda change: None) -> Job:
    """`grant` as a job: planned under the writer lock (when `reviewed` is given, it must be
    that plan, or nothing runs: review again); once it ran and verified, recorded in the
    grants file, audited and, with `save`, written to COI's config (`save` returns a line
    for the user)."""
    log = audit or AuditLog()

    def build(firewall: FirewallBackend) -> Built:
        planner = make_planner()
        change, record = grant_change(planner, grant, firewall.list_rules())
        if reviewed is not None and _lines_as_reviewed(change.plan) != \
                _lines_as_reviewed(reviewed):
            raise StateMoved(f"{reviewed.title}: the rules changed since the review: "
                             "review again")
        on_planned(change)

        def done() -> list[str]:
            path = _store(home)
            save_grants(path, with_grant(load_grants(path), record))
            log.write(kind="grant", action="grant", container=record.container,
                      destination=record.destination, mode=record.mode.value,
                      until=record.until, ok=True)
            return [save(record)] if save is not None and grant.save else []

        return change.plan, done

    return Job(f"grant {grant.container} {grant.destination}", build, "grant")


def ending_job(make_planner: Callable[[], ChangePlanner], *, home: Path | None = None,
               audit: AuditLog | None = None, revoke: tuple[str, str, int | None] | None = None,
               on_planned: Callable[[Change], None] = lambda change: None) -> Job:
    """The expiry plan as a job (or, with `revoke` = (container, address, port), that
    grant's end). Its success says, one line per grant, "grant for X expired" (or
    "revoked"); the grants file then no longer holds them."""
    log = audit or AuditLog()

    def build(firewall: FirewallBackend) -> Built:
        planner = make_planner()
        live = firewall.list_rules()
        if revoke is not None:
            change, records = revoke_change(planner, *revoke, live)
            gone = tuple((g, "revoked") for g in records)
        else:
            change, gone = expiry_change(planner, live)
        on_planned(change)

        def done() -> list[str]:
            path = _store(home)
            save_grants(path, without(load_grants(path), [g for g, _ in gone]))
            lines = []
            for record, why in gone:
                verb = "revoked" if why == "revoked" else f"expired ({why})"
                log.write(kind="grant", action="revoke" if why == "revoked" else "expire",
                          container=record.container, destination=record.destination,
                          ok=True, detail=why)
                lines.append(f"grant for {record.container} to {record.destination} {verb}")
            return lines

        return change.plan, done

    return Job("revoke a grant" if revoke else "expire grants", build, "grant")


def grant_of_attempt(attempt: Attempt, until: float | None, save: bool,
                     resolve: Callable[[str], Resolution] | None = None) -> Grant:
    """What a rejected attempt asks for: its destination and port, under the name it was
    for. A refused DNS query (allowlist mode) asks for the name itself: resolved here, through
    coi-tui's resolver, every port."""
    if attempt.query and attempt.port == 53:
        answered = (resolve or (lambda name: resolve_allowlist([name])))(attempt.query)
        if not answered.ips:
            why = answered.failed.get(attempt.query) or "no address"
            raise BadInput(f"{attempt.query} does not resolve: {why}")
        return Grant(attempt.container, answered.ips[0], None, attempt.query, until, save)
    return Grant(attempt.container, attempt.destination, attempt.port, attempt.name, until, save)


def save_to_config(record: GrantRecord, era: str, path: Path, locations: Locations) -> str:
    """The grant written to COI's config as COI would (comments kept): one line for the user."""
    key, value = config_entry(record, era)
    editor = ConfigEditor.load(path, inherited=load_effective(locations, below=path))
    try:
        editor.add(key, value)
    except ConfigError as error:
        return f"not saved to COI's config: {error}"
    return f"saved to {editor.save()}: {key} += {value}"
