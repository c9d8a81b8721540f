"""Keeps recorded modes in force: isolation is never lost silently (docs/design.md §3.9).

Every way COI's rules disappear ends in an inventory snapshot that shows it: firewalld reloaded
or restarted (its signals wake the poller), a rule removed by someone else (RuleRemoved), a
container whose IPv4 changed (its recorded mode no longer has rules at the new address). The
Enforcer looks at each snapshot and, where a recorded mode is not in force, queues one job that
re-applies it through the engine (fail-closed, audited, under the writer lock), removing the
rules of the address a container left. While firewalld is down nothing can be re-applied; the
opt-in freeze guard then freezes the containers whose recorded mode rejects something, and
thaws them once a snapshot shows their rules back.

Used by the TUI and by `coi-tui watch`; one per host is active (the TUI defers to a `watch`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import ChangePlanner, Grants, grants_reader, record_outcome
from coi_tui.errors import CoiTuiError
from coi_tui.keep.grants import ending_job
from coi_tui.models import FROZEN_BY_GUARD_KEY, ContainerState, Inventory, Isolation, ModeSource
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import Built, FirewallEngine, Job, JobFinished
from coi_tui.services.inventory import ENFORCING

CAUSES = {
    "Reloaded": "firewalld reloaded (runtime rules wiped)",
    "firewalld-up": "firewalld started again",
    "firewalld-down": "firewalld stopped (its rules are flushed)",
    "dbus-down": "the system D-Bus went away",
    "dbus-up": "the system D-Bus is back",
    "RuleRemoved": "a rule was removed",
}
RETRY_AFTER = 5.0  # seconds between attempts when a restore fails and nothing new happens


def needs_restore(state: ContainerState) -> bool:
    return (state.mode_source is ModeSource.SET and state.container.ipv4 is not None
            and state.isolation in (Isolation.EXPOSED, Isolation.DRIFT, Isolation.HELD,
                                    Isolation.BACKSTOP))


class Enforcer:
    def __init__(
        self,
        engine: FirewallEngine,
        make_planner: Callable[[], ChangePlanner],
        make_containers: Callable[[], ContainerBackend],
        *,
        say: Callable[[str], None],
        audit: AuditLog | None = None,
        freeze_after: float | None = None,
        wake: Callable[[], None] = lambda: None,
        others_writing: Callable[[], bool] = lambda: False,
        clock: Callable[[], float] = time.monotonic,
        grants: Grants | None = None,
    ) -> None:
        self._engine = engine
        self._make_planner = make_planner
        self._make_containers = make_containers
        self.say = say  # one line per event and action, for a notice or a log
        self._audit = audit or AuditLog()
        self.freeze_after = freeze_after  # None: the freeze guard is off
        self._wake = wake
        self._others_writing = others_writing
        self._clock = clock
        self._lock = threading.Lock()
        self._cause = ""
        self._last_said = ""
        self._pending: int | None = None
        self._retry_at = 0.0
        self._ips: dict[str, str] = {}  # container key -> last IPv4 seen with a recorded mode
        self._moved: set[str] = set()  # addresses containers left, whose rules must go
        self._down_since: float | None = None
        self._told_unneeded: set[str] = set()  # the backstop holds them: said once
        self.active = True  # False while another process (a `watch`) enforces
        self._grants = grants or grants_reader()  # an ended one goes by a plan
        self._expiring = False

    # ------------------------------------------------------------ from watcher threads
    def on_event(self, event: str, payload: object = None) -> None:
        cause = CAUSES.get(event)
        if cause is None:
            return
        if event == "RuleRemoved" and isinstance(payload, dict):
            cause = f"{cause} ({payload.get('args')})"
        with self._lock:
            self._cause = cause
            self._retry_at = 0.0  # something new happened: try again at once
        with self._lock:
            repeated, self._last_said = self._last_said == cause, cause
        if event != "RuleRemoved" and not repeated:  # dbus-down repeats while the bus is gone
            self.say(cause)

    # ------------------------------------------------------------ from the poller thread
    def on_snapshot(self, inventory: Inventory) -> None:
        self._track_addresses(inventory)
        if not self.active:
            return
        firewall = inventory.firewall_status
        if firewall is not None and firewall.down:
            self._firewall_down(inventory)
            return
        if firewall is None or not firewall.ok:
            return  # rules unreadable: nothing can be judged or changed
        self._down_since = None
        self._told_unneeded = set()
        missing = [s for s in inventory.containers if needs_restore(s)]
        left = {r.source_ip() for r in inventory.rules} & self._moved
        if missing or left:
            self._restore(missing, left)
        elif self._pending is None and not self._engine.busy:
            # thawed only on a snapshot taken after the restore job verified its steps
            self._moved.clear()
            self._thaw([s for s in inventory.containers
                        if s.container.held and s.isolation is Isolation.OK])
            self._expire_grants(inventory)

    def _expire_grants(self, inventory: Inventory) -> None:
        """A grant whose time is up (or whose container stopped) goes by a plan, at once."""
        if self._expiring or self._others_writing():
            return
        containers = {s.container.name: s.container for s in inventory.containers}
        now = time.time()
        if not any(g.ended(containers.get(g.container), now) for g in self._grants()):
            return

        def finished(event: JobFinished) -> None:
            self._expiring = False
            for line in event.warnings:
                self.say(line)
            if not event.ok:
                self.say(f"could NOT expire grants: "
                         f"{'; '.join(event.verify_diff) or event.error or 'cancelled'}")
            self._wake()

        self._expiring = True
        job = ending_job(self._make_planner, audit=self._audit)
        self._engine.submit(replace(job, on_finished=finished))

    def _track_addresses(self, inventory: Inventory) -> None:
        for state in inventory.containers:
            c = state.container
            if state.mode_source is not ModeSource.SET or c.ipv4 is None:
                continue
            before = self._ips.get(c.key)
            if before is not None and before != c.ipv4:
                self._moved.add(before)
                self.say(f"{c.name} moved from {before} to {c.ipv4}: its rules follow it")
            self._ips[c.key] = c.ipv4

    def _restore(self, missing: list[ContainerState], left: set[str | None]) -> None:
        with self._lock:
            if self._pending is not None or self._clock() < self._retry_at:
                return
            if self._engine.busy or self._others_writing():
                return  # a change is under way; the snapshot after it decides
            cause = self._cause or "isolation not in force"
            self._cause = ""
            moved = {ip for ip in left if ip}
            names = ", ".join(f"{s.container.name} ({s.mode}: {s.reason})" for s in missing)
            what = names or "rules of " + ", ".join(sorted(moved))
            self.say(f"{cause}: restoring {what}")
            self._pending = self._engine.submit(self._job(moved, cause))

    def _job(self, moved: set[str], cause: str) -> Job:
        def build(firewall: FirewallBackend) -> Built:
            planner = self._make_planner()
            change = planner.reapply(firewall.list_rules(), only_recorded=True,
                                     moved_from=moved)
            return change.plan, record_outcome(change, planner.containers)

        def finished(event: JobFinished) -> None:
            with self._lock:
                self._pending = None
                if not event.ok or event.warnings:
                    self._retry_at = self._clock() + RETRY_AFTER
            for warning in event.warnings:
                self.say(f"restore: {warning}")
            if event.ok:
                self.say(f"restored after: {cause}")
            else:
                detail = "; ".join(event.verify_diff) or event.error or "cancelled"
                self.say(f"could NOT restore ({cause}): {detail}; retrying")
            self._wake()  # a fresh snapshot verifies, and thaws what the guard froze

        return Job("restore recorded modes", build, "recovery", on_finished=finished)

    # ------------------------------------------------------------ the freeze guard
    def _firewall_down(self, inventory: Inventory) -> None:
        now = self._clock()
        backstop = [s.container.name for s in inventory.containers
                    if s.isolation is Isolation.BACKSTOP]
        if self._down_since is None:
            self._down_since = now
            exposed = ", ".join(s.container.name for s in inventory.exposed) or (
                "" if backstop else "no container")
            said = ([f"EXPOSED {exposed}"] if exposed else []) + (
                [f"held by the backstop: {', '.join(backstop)}"] if backstop else [])
            self.say("firewalld is not running: " + "; ".join(said))
        if self.freeze_after is None or now - self._down_since < self.freeze_after:
            return
        targets = [s for s in inventory.containers
                   if s.mode_source is ModeSource.SET and s.mode in ENFORCING
                   and s.container.status == "Running" and s.isolation is not Isolation.BACKSTOP]
        unneeded = set(backstop) - self._told_unneeded
        if unneeded:
            self._told_unneeded |= unneeded
            self.say(f"freeze guard: not needed for {', '.join(sorted(unneeded))}: the backstop "
                     "blocks what their modes block")
        if targets:
            self._freeze(targets, now - self._down_since)

    def _freeze(self, targets: list[ContainerState], after: float) -> None:
        containers = self._make_containers()
        try:
            for state in targets:
                c = state.container
                try:
                    # marked first: a freeze that lands is always one coi-tui will undo
                    containers.set_config(c, FROZEN_BY_GUARD_KEY, "true")
                    containers.set_frozen(c, True)
                except CoiTuiError as error:
                    self.say(f"freeze guard: could not freeze {c.name}: {error}")
                    continue
                self._audit.write(kind="freeze-guard", action="freeze", container=c.name,
                                  ok=True, detail=f"firewalld down for {after:.1f}s")
                self.say(f"freeze guard: froze {c.name} ({state.mode}) after {after:.1f}s "
                          "without firewalld")
        finally:
            containers.close()

    def _thaw(self, states: list[ContainerState]) -> None:
        if not states:
            return
        containers = self._make_containers()
        try:
            for state in states:
                c = state.container
                try:
                    if c.status == "Frozen":
                        containers.set_frozen(c, False)
                    containers.set_config(c, FROZEN_BY_GUARD_KEY, None)
                except CoiTuiError as error:
                    self.say(f"freeze guard: could not thaw {c.name}: {error}")
                    continue
                self._audit.write(kind="freeze-guard", action="thaw", container=c.name,
                                  ok=True, detail="its rules are back and verified")
                self.say(f"freeze guard: thawed {c.name}: its {state.mode} rules are back")
        finally:
            containers.close()
