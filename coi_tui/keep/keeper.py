"""The host keeper: everything that keeps isolation in force over time, assembled once for the
TUI and for `coi-tui watch`.

One firewall engine (the only writer of this process), the enforcer (recovery, healing, moved
addresses, the freeze guard), the inventory poller, the event watchers that wake it, and the
DNS allowlist refresher in a thread of its own. What each front end does with what happens is
its own: it passes sinks (the TUI posts messages, `watch` logs lines).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import ChangePlanner
from coi_tui.keep.backstop import EraBackstop, KeptBackstop
from coi_tui.keep.recovery import Enforcer
from coi_tui.keep.refresher import DnsRefresher
from coi_tui.models import Inventory, NetworkSettings
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, Job, JobFinished
from coi_tui.runtime.hostlock import WATCH, WRITER, Holder, HostLock
from coi_tui.services.dns.state import DnsState
from coi_tui.services.inventory import InventorySource
from coi_tui.services.poller import InventoryPoller


class Watcher(Protocol):
    """Something that reports events from its own thread (Incus events, firewalld signals)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


BackendEventSink = Callable[..., None]
WatcherFactory = Callable[[BackendEventSink], Sequence[Watcher]]
# (settings, submit, on_state, apply_changes) -> the allowlist refresher, run in a thread
RefresherFactory = Callable[
    [NetworkSettings, Callable[[Job], object], Callable[[DnsState], None], bool], DnsRefresher]


@dataclass(frozen=True)
class KeeperParts:
    """The concrete pieces, chosen by wiring (or by a test). Without a planner and a firewall
    the keeper only looks (read-only)."""

    make_source: Callable[[], InventorySource]
    watchers: WatcherFactory = lambda sink: ()
    make_planner: Callable[[NetworkSettings], ChangePlanner] | None = None
    make_firewall: Callable[[], FirewallBackend] | None = None
    make_containers: Callable[[], ContainerBackend] | None = None  # for the freeze guard
    make_refresher: RefresherFactory | None = None  # the DNS allowlist, live
    freeze_after: float | None = None  # the freeze guard; None: off
    backstop: EraBackstop | None = None  # blocks what recorded modes block, firewalld or not
    watch_holder: Callable[[], Holder | None] = lambda: HostLock(WATCH).holder()
    audit: AuditLog = field(default_factory=AuditLog)


@dataclass(frozen=True)
class Sinks:
    """What the front end is told; each is called from a worker thread."""

    inventory: Callable[[Inventory], None] = lambda inventory: None
    engine: Callable[[EngineEvent], None] = lambda event: None
    dns: Callable[[DnsState], None] = lambda state: None
    backend: BackendEventSink = lambda event, payload=None: None  # Incus, firewalld events
    say: Callable[[str], None] | None = None  # the enforcer's lines; None: engine notices


class HostKeeper:
    def __init__(self, parts: KeeperParts, sinks: Sinks, settings: NetworkSettings, *,
                 interval: float = 2.0, read_only: bool = False,
                 defer_to_watch: bool = False) -> None:
        """`defer_to_watch`: while a `coi-tui watch` runs, this keeper's enforcer stands down
        (never two enforcers on a host); `watch` itself passes False."""
        self.parts = parts
        self.settings = settings
        self._sinks = sinks
        self._interval = interval
        self._defer = defer_to_watch
        self.deferring_to: Holder | None = None
        self.engine: FirewallEngine | None = None
        self.enforcer: Enforcer | None = None
        self.refresher: DnsRefresher | None = None
        self._refresher_thread: threading.Thread | None = None
        self.poller: InventoryPoller | None = None
        self._watchers: Sequence[Watcher] = ()
        self.backstop: KeptBackstop | None = None
        if not read_only and parts.make_firewall and parts.make_planner:
            self.engine = FirewallEngine(parts.make_firewall, self._engine_event, parts.audit)
            make_planner = parts.make_planner
            writer = HostLock(WRITER)
            self.enforcer = Enforcer(
                self.engine,
                lambda: make_planner(self.settings),
                parts.make_containers or (lambda: make_planner(self.settings).containers),
                say=sinks.say or self.engine.notice,
                audit=parts.audit,
                freeze_after=parts.freeze_after,
                wake=self.wake,
                others_writing=lambda: writer.holder() is not None,
            )
            if parts.backstop is not None:
                self.backstop = KeptBackstop(parts.backstop, say=sinks.say or self.engine.notice)

    @property
    def writes(self) -> bool:
        return self.engine is not None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Blocking (builds backends): call it off the UI thread."""
        if self.engine is not None:
            self.engine.start()
        self.poller = InventoryPoller(self.parts.make_source(), self._snapshot,
                                      interval=self._interval)
        self.poller.start()
        self._watchers = self.parts.watchers(self._backend_event)
        for watcher in self._watchers:
            watcher.start()
        self.restart_refresher(self.settings)

    def stop(self) -> None:
        self._stop_refresher()
        for watcher in self._watchers:
            watcher.stop()
        if self.poller is not None:
            self.poller.stop()
        if self.engine is not None:
            self.engine.stop()
        if self.backstop is not None:
            self.backstop.stop()  # a clean exit leaves no backstop behind

    def restart_refresher(self, settings: NetworkSettings) -> None:
        """The allowlist refresher for these settings (a new one after a config save)."""
        self.settings = settings
        self._stop_refresher()
        make = self.parts.make_refresher
        if make is None:
            return
        refresher = make(settings, self._refresher_submit, self._sinks.dns, self.writes)
        self.refresher = refresher
        self._refresher_thread = threading.Thread(
            target=refresher.run, kwargs={"poll": 5.0}, name="dns-refresher", daemon=True)
        self._refresher_thread.start()

    def _stop_refresher(self) -> None:
        if self.refresher is not None:
            self.refresher.stop()
        if self._refresher_thread is not None:
            self._refresher_thread.join(10)
        self.refresher, self._refresher_thread = None, None

    # ------------------------------------------------------------------ any thread
    def wake(self) -> None:
        if self.poller is not None:
            self.poller.wake()

    def poll_waiting(self) -> tuple[str, float] | None:
        """What the poll waits on now, and since when (a daemon that does not answer)."""
        return self.poller.waiting if self.poller is not None else None

    def pause(self, paused: bool) -> None:
        if self.poller is not None:
            self.poller.pause(paused)

    def submit(self, job: Job) -> int | None:
        return self.engine.submit(job) if self.engine is not None else None

    def _refresher_submit(self, job: Job) -> int | None:
        if self.deferring_to is not None:
            return None  # the running `coi-tui watch` refreshes
        return self.submit(job)

    # ------------------------------------------------------------------ worker threads
    def _snapshot(self, inventory: Inventory) -> None:
        if self.backstop is not None:
            inventory = self.backstop.follow(inventory)
        if self.enforcer is not None:
            if self._defer:
                self._defer_to_watch(self.enforcer)
            self.enforcer.on_snapshot(inventory)
        self._sinks.inventory(inventory)

    def _defer_to_watch(self, enforcer: Enforcer) -> None:
        holder = self.parts.watch_holder()
        if (holder is None) != (self.deferring_to is None):
            if holder is not None:
                enforcer.active = False
                enforcer.say(f"{holder} keeps isolation on this host: "
                             "this TUI's own recovery defers to it")
            else:
                enforcer.active = True
                enforcer.say("coi-tui watch stopped: this TUI keeps isolation again")
        self.deferring_to = holder

    def _engine_event(self, event: EngineEvent) -> None:
        if isinstance(event, JobFinished) and self.refresher is not None:
            self.refresher.job_finished(event)
        self._sinks.engine(event)

    def _backend_event(self, event: str, payload: object = None) -> None:
        """Any event means "look again"; some also tell the enforcer why rules may be gone."""
        self._sinks.backend(event, payload)
        if self.enforcer is not None:
            self.enforcer.on_event(event, payload)
        self.wake()
