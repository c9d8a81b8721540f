"""The coi-tui application shell: header, backend banner, the views, the firewall worker's
progress, footer with key hints. The UI thread never does I/O: the poller, the planner and the
firewall engine run in threads and report through messages."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Protocol

from textual import on
from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, TabbedContent, TabPane

from coi_tui.changes import BuildChange, job_for, stale_line
from coi_tui.errors import CoiTuiError
from coi_tui.keep.grants import grant_job, grant_of_attempt, grant_plan, save_to_config
from coi_tui.keep.ipv6_off import ipv6_off_change
from coi_tui.keep.keeper import HostKeeper, KeeperParts, Sinks
from coi_tui.keep.prune import prune_change
from coi_tui.keep.refresher import DnsRefresher, DnsState
from coi_tui.models import Inventory, Mode, NetworkSettings
from coi_tui.runtime.engine import (
    EngineEvent,
    FirewallEngine,
    JobFinished,
    JobStarted,
    Notice,
    StepDone,
)
from coi_tui.runtime.hostlock import Holder
from coi_tui.services.config import Locations
from coi_tui.services.grants import GrantRecord
from coi_tui.services.orphan_clean import OrphanSources, clean_job, scan
from coi_tui.services.orphans import OrphanKind, OrphanReport
from coi_tui.services.traffic.attempts import Attempt
from coi_tui.services.traffic.feed import (
    COUNTS_EVERY,
    COUNTS_HIDDEN,
    FeedUpdate,
    Watched,
    watched_from,
)
from coi_tui.services.traffic.flows import FlowReader
from coi_tui.services.traffic.rates import RateMeter
from coi_tui.services.traffic.rule_hits import DecidingRules, with_deciding
from coi_tui.ui.actions import TITLES, bindings
from coi_tui.ui.commands import CoiCommands
from coi_tui.ui.messages import (
    ChangeFailed,
    ChangeReady,
    DnsUpdated,
    EngineUpdate,
    GrantReady,
    InventoryUpdated,
    RatesUpdated,
    TrafficUpdated,
)
from coi_tui.ui.paths import stylesheets
from coi_tui.ui.screens import containers, dns_view, orphans, rules, traffic_view
from coi_tui.ui.screens.apply_offer import ApplyOffer
from coi_tui.ui.screens.config_view import ConfigSaved, ConfigView, policy_changed
from coi_tui.ui.screens.containers import (
    ContainersView,
    DisableIpv6Requested,
    FlowsRequested,
    ModeChangeRequested,
    RulesOfRequested,
    RulesRemovalRequested,
)
from coi_tui.ui.screens.dns_view import DnsPruneRequested, DnsRefreshRequested, DnsView
from coi_tui.ui.screens.flows import FlowSource, FlowsScreen
from coi_tui.ui.screens.grant_picker import Choice, GrantPicker
from coi_tui.ui.screens.help import HelpScreen
from coi_tui.ui.screens.mode_picker import ModePicker
from coi_tui.ui.screens.orphans import (
    CleanOrphansRequested,
    InheritedModeRequested,
    OrphansScanned,
    OrphansView,
)
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.ui.screens.quit_confirm import QuitConfirm
from coi_tui.ui.screens.rules import RuleCounters, RulesView
from coi_tui.ui.screens.traffic_view import GrantRequested, TrafficView
from coi_tui.ui.widgets.banner import BackendBanner
from coi_tui.ui.widgets.progress import ProgressPanel
from coi_tui.ui.widgets.status import SEP, StatusLine, header_counts

EXIT_GRACE = 10.0  # seconds after SIGHUP/SIGTERM before a stuck shutdown is cut short
ORPHAN_SCAN_EVERY = 30.0  # seconds between orphan scans (each reads links, rules, nft, files)
LEGENDS = {"containers": containers.LEGEND, "rules": rules.LEGEND,  # what `?` explains
           "dns": dns_view.LEGEND, "orphans": orphans.LEGEND, "traffic": traffic_view.LEGEND}


class Feed(Protocol):
    """The traffic feed as the app drives it (services.traffic.feed.TrafficFeed)."""

    def watch(self, watched: Watched) -> None: ...
    def name_of(self, source: str, destination: str) -> str | None: ...
    counts_every: float | None
    def start(self) -> None: ...
    def stop(self) -> None: ...


FeedSink = Callable[[FeedUpdate], None]


@dataclass(frozen=True)
class Wiring:
    """Everything the app talks to, built lazily in threads. Without a planner and a firewall
    the keeper (and so the app) can only look (as with --read-only)."""

    keeper: KeeperParts  # what keeps isolation, as `coi-tui watch` has it too
    settings: NetworkSettings = field(default_factory=NetworkSettings)
    config: tuple[Path, Locations] | None = None  # the file the Config view edits
    config_problem: str | None = None  # COI's config could not be read: defaults are shown
    orphan_sources: OrphanSources | None = None  # the Orphans view (None: not shown)
    keymap: Mapping[str, str] = field(default_factory=dict)  # [keys] of coi-tui's settings
    rule_counters: RuleCounters | None = None  # the Rules view's hits (None: "-")
    flows: FlowSource | None = None  # a container's tracked connections (None: not offered)
    traffic: Callable[[FeedSink], Feed] | None = None  # the Traffic view (None: not shown)


class ViewTabs(TabbedContent):
    """The views; tab and shift+tab go round them (a form view may keep tab for its fields)."""

    BINDINGS = bindings("views")

    def _step(self, by: int) -> None:
        panes = [p.id for p in self.query(TabPane) if p.id]
        if panes and self.active in panes:
            self.active = panes[(panes.index(self.active) + by) % len(panes)]

    def action_next_view(self) -> None:
        self._step(1)

    def action_previous_view(self) -> None:
        self._step(-1)


class CoiApp(App[int]):
    TITLE = "coi-tui"
    SUB_TITLE = "network isolation of code-on-incus containers"
    CSS_PATH = stylesheets()
    COMMANDS = App.COMMANDS | {CoiCommands}
    BINDINGS = bindings("app")

    def __init__(
        self,
        wiring: Wiring,
        *,
        read_only: bool = False,
        poll_interval: float = 2.0,
        quit_on_signals: bool = False,
    ) -> None:
        super().__init__()
        self._quit_on_signals = quit_on_signals
        self.wiring = wiring
        self._poll_interval = poll_interval
        self.read_only = read_only or wiring.keeper.make_planner is None
        self.inventory = Inventory()
        self._shown: tuple[Inventory, list[str]] | None = None  # what the views show now
        # The main screen's widgets, kept so that handlers reach them while a modal is on top
        # (App.query_one looks at the active screen only).
        self.banner = BackendBanner(id="banner")
        self.views = ViewTabs(id="views", initial="containers")
        self.containers_view = ContainersView(read_only=self.read_only, id="containers-view")
        self.deciding = DecidingRules()  # the Hits of rules that keep no counter (nft era)
        self.rules_view = RulesView(with_deciding(wiring.rule_counters, self.deciding)
                                    if wiring.traffic is not None else wiring.rule_counters,
                                    id="rules-view")
        self.progress = ProgressPanel(id="progress")
        self.dns_view = DnsView(id="dns-view")
        self.orphans_view = OrphansView(read_only=self.read_only, id="orphans-view")
        self.traffic_view = TrafficView(id="traffic-view")
        self._rate_meter = RateMeter()  # the poller thread's only
        self.feed: Feed | None = None
        self._feed_started = False
        self._watched = Watched()
        self.orphan_count: int | None = None
        self._orphans_scanned_at = 0.0
        self._paused = False
        self.config_problem = wiring.config_problem
        self.keeper = HostKeeper(
            wiring.keeper, Sinks(self._on_inventory, self._on_engine_event, self._on_dns_state),
            wiring.settings, interval=poll_interval, read_only=self.read_only,
            defer_to_watch=True)

    @property
    def settings(self) -> NetworkSettings:
        return self.keeper.settings

    @property
    def engine(self) -> FirewallEngine | None:
        return self.keeper.engine

    @property
    def refresher(self) -> DnsRefresher | None:
        return self.keeper.refresher

    @property
    def deferring_to(self) -> Holder | None:
        """The `coi-tui watch` that keeps isolation while it runs (this TUI defers to it)."""
        return self.keeper.deferring_to

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield self.banner
        with self.views:
            with TabPane("Containers [1]", id="containers"):
                yield self.containers_view
            with TabPane("Rules [2]", id="rules"):
                yield self.rules_view
            if self.wiring.config is not None:
                with TabPane("Config [3]", id="config"):
                    yield ConfigView(*self.wiring.config, id="config-view")
            if self.wiring.keeper.make_refresher is not None:
                with TabPane("DNS [4]", id="dns"):
                    yield self.dns_view
            if self.wiring.orphan_sources is not None:
                with TabPane("Orphans [5]", id="orphans"):
                    yield self.orphans_view
            if self.wiring.traffic is not None:
                with TabPane("Traffic [6]", id="traffic"):
                    yield self.traffic_view
        yield self.progress
        # kept, like the views, so that handlers reach it while a modal is on top
        self.status_line = StatusLine(self._poll_interval, self.keeper.poll_waiting,
                                      writes=not self.read_only, id="status-line")
        yield self.status_line
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.animation_level = "none"  # over SSH and in tmux: redraw less, never animate
        if self._quit_on_signals:
            # Textual leaves SIGHUP (the terminal went away: a dropped SSH session) and SIGTERM
            # to their default, death without an unmount: the keeper, the feed and coi-tui's
            # tables would be left behind
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGHUP, signal.SIGTERM):
                loop.add_signal_handler(signum, self._quit_on_signal)
        if self.wiring.keymap:
            self.set_keymap(self.wiring.keymap)
        self.banner.display = False
        if self.read_only:
            self._update_subtitle()
        # Backends are slow and blocking: build and run them off the UI thread.
        self.run_worker(self.keeper.start, thread=True, group="keeper", exit_on_error=False)
        if self.wiring.traffic is not None:
            self.feed = self.wiring.traffic(self._on_feed)
            self.feed.counts_every = COUNTS_HIDDEN

    def _quit_on_signal(self) -> None:
        """Quit as `q` does. With the terminal gone Textual's own shutdown can then wait
        forever on its output thread (seen once in the lab, after the unmount had run): a
        process that is still there after EXIT_GRACE ends itself."""
        watchdog = threading.Timer(EXIT_GRACE, os._exit, args=(0,))
        watchdog.daemon = True  # a shutdown that ends in time is not held back by it
        watchdog.start()
        self.exit()

    def _on_feed(self, update: FeedUpdate) -> None:
        """On the feed's thread: to the Traffic view."""
        self.post_message(TrafficUpdated(update))

    def on_rates_updated(self, message: RatesUpdated) -> None:
        self.traffic_view.show_rates(message.rates)

    def on_traffic_updated(self, message: TrafficUpdated) -> None:
        self.traffic_view.show_update(message.update, self._watched.sources)
        self.deciding.add(message.update.attempts)

    def on_grant_requested(self, message: GrantRequested) -> None:
        """`a` in the Traffic view: how long, then the reviewed plan, then the worker."""
        if self.read_only:
            self.notify("read-only: a grant changes the firewall", severity="warning")
            return
        attempt = message.attempt

        def picked(choice: Choice | None) -> None:
            if choice is not None:
                seconds, save = choice
                self._plan_grant(attempt, seconds, save)

        self.push_screen(GrantPicker(attempt, can_save=self.wiring.config is not None), picked)

    def _plan_grant(self, attempt: Attempt, seconds: float | None, save: bool) -> None:
        make_planner, make_firewall = self.wiring.keeper.make_planner, \
            self.wiring.keeper.make_firewall
        if make_planner is None or make_firewall is None:
            return
        settings = self.settings

        def work() -> None:
            try:
                grant = grant_of_attempt(attempt, time.time() + seconds if seconds else None,
                                         save)
                firewall = make_firewall()
                try:
                    plan = grant_plan(make_planner(settings), grant, firewall.list_rules())
                finally:
                    firewall.close()
            except CoiTuiError as error:
                self.post_message(ChangeFailed(str(error)))
                return
            self.post_message(GrantReady(grant, plan))

        self.run_worker(work, thread=True, group="plan", exclusive=True, exit_on_error=False)

    def on_grant_ready(self, message: GrantReady) -> None:
        make_planner, config = self.wiring.keeper.make_planner, self.wiring.config
        grant = message.grant

        def save(record: GrantRecord) -> str:  # on the engine's thread, after the run
            assert config is not None and make_planner is not None
            return save_to_config(record, make_planner(self.settings).era.name, *config)

        def decided(apply: bool | None) -> None:
            if apply and self.engine is not None and make_planner is not None:
                self.engine.submit(grant_job(
                    grant, lambda: make_planner(self.settings), reviewed=message.plan,
                    save=save if grant.save and config is not None else None))

        self.push_screen(PlanReview(message.plan), decided)

    def _on_inventory(self, inventory: Inventory) -> None:
        """On the poller thread (after the enforcer saw it): to the views and the feed."""
        self.post_message(InventoryUpdated(inventory))
        running = [s.container for s in inventory.containers
                   if s.container.status.lower() == "running"]
        rates = self._rate_meter.sample(running)  # /sys/class/net: no daemon call
        self.post_message(RatesUpdated({c.name: (r.current.rx_per_s, r.current.tx_per_s)
                                        for c in running
                                        if (r := rates.get(c.key)) and r.current}))
        if self.feed is not None:
            self._watched = watched_from(inventory)
            self.feed.watch(self._watched)

    def _on_dns_state(self, state: DnsState) -> None:
        self.post_message(DnsUpdated(state))

    def _scan_orphans(self) -> None:
        """Off the UI thread: one orphan scan (throttled; at once after a clean-up)."""
        sources = self.wiring.orphan_sources
        if sources is None:
            return
        try:
            report = scan(sources)[1]  # nft, and firewalld through its own handle
        except CoiTuiError as error:
            report = OrphanReport(errors={"scan": str(error)})
        self.post_message(OrphansScanned(report))

    def on_orphans_scanned(self, message: OrphansScanned) -> None:
        self.orphans_view.show_report(message.report)
        self.containers_view.show_inherited(frozenset(
            o.id for o in message.report.orphans if o.kind is OrphanKind.INHERITED))
        self.orphan_count = self.orphans_view.count
        self._update_subtitle()

    def on_clean_orphans_requested(self, message: CleanOrphansRequested) -> None:
        sources = self.wiring.orphan_sources
        if self.engine is not None and sources is not None and not self.read_only:
            self.engine.submit(clean_job(message.items, sources))

    def on_inherited_mode_requested(self, message: InheritedModeRequested) -> None:
        name = message.container

        def picked(mode: Mode | None) -> None:
            if mode is not None:
                self.plan_mode_change((name,), mode)

        self.push_screen(ModePicker(name, "inherited rules"), picked)

    def _update_subtitle(self) -> None:
        """READ-ONLY and what is not protected, in plain words (PAUSED, freshness and the
        worker are the status line's)."""
        parts = ["READ-ONLY"] if self.read_only else []
        if self.inventory.taken_at:  # counts only once there is a first snapshot
            parts.append(header_counts(self.inventory, self.orphan_count))
        self.sub_title = SEP.join(parts) or type(self).SUB_TITLE

    def _on_engine_event(self, event: EngineEvent) -> None:
        self.post_message(EngineUpdate(event))

    # ------------------------------------------------------------------ messages
    def on_inventory_updated(self, message: InventoryUpdated) -> None:
        notes = [f"{self.config_problem} (3: fix it in the Config view)"] \
            if self.config_problem else []
        same = (replace(message.inventory, taken_at=0.0), notes) == self._shown
        self.inventory = message.inventory
        if message.inventory.taken_at - self._orphans_scanned_at >= ORPHAN_SCAN_EVERY:
            # an orphan scan now and then, in a worker of its own: it reads Incus too, and a
            # hung incusd must not hold the poller (whose status line says so)
            self._orphans_scanned_at = message.inventory.taken_at
            self.run_worker(self._scan_orphans, thread=True, group="orphans", exclusive=True,
                            exit_on_error=False)
        if self.status_line.is_mounted:
            self.status_line.show_inventory(message.inventory)  # every one: "updated N s ago"
        if self.feed is not None and not self._feed_started:
            # after the first paint: its readers and table cost nothing before it
            self._feed_started = True
            self.run_worker(self.feed.start, thread=True, group="traffic", exit_on_error=False)
        if same or not self.containers_view.query("#containers-table"):
            return  # nothing moved (idle costs no redraw), or shutting down
        self._shown = (replace(message.inventory, taken_at=0.0), notes)
        self.banner.show_inventory(message.inventory, notes)
        self.containers_view.show_inventory(message.inventory)
        self.rules_view.show_inventory(message.inventory)
        self._update_subtitle()

    def on_dns_updated(self, message: DnsUpdated) -> None:
        self.dns_view.show_state(message.state)
        self.containers_view.show_next_refresh(message.state.next_refresh_at)
        if self.status_line.is_mounted:
            self.status_line.show_dns(message.state)

    def on_dns_refresh_requested(self, _message: DnsRefreshRequested) -> None:
        if self.refresher is not None:
            self.refresher.request_refresh()

    def on_dns_prune_requested(self, message: DnsPruneRequested) -> None:
        """`P` in the DNS view: the old answers out, reviewed like any change (beyond COI)."""
        if self.read_only:
            self.notify("read-only: a prune changes the firewall", severity="warning")
            return
        settings, names = self.settings, message.names
        self._plan(lambda planner, fw: prune_change(planner, settings, names, fw.list_rules()))

    def on_engine_update(self, message: EngineUpdate) -> None:
        panel = self.progress
        if not panel.query("#progress-bar"):
            return  # shutting down: the panel's children are already gone
        event = message.event
        self.status_line.show_engine(event)
        if isinstance(event, JobStarted):
            panel.started(event)
        elif isinstance(event, StepDone):
            panel.step(event)
        elif isinstance(event, JobFinished):
            panel.finished(event)
            if event.kind == "orphans":
                self.run_worker(self._scan_orphans, thread=True, group="orphans",
                                exclusive=True, exit_on_error=False)
            for warning in event.warnings:
                self.notify(warning, severity="warning", timeout=30)
            if event.ok:
                self.notify(f"{event.title}: done")
            else:
                self.notify(f"{event.title}: {event.error or 'failed'}", severity="error")
            self.action_refresh()
        elif isinstance(event, Notice):
            panel.notice(event)
            self.notify(event.text, severity="warning")

    def on_change_ready(self, message: ChangeReady) -> None:
        change, planner, build = message.change, message.planner, message.build

        def decided(apply: bool | None) -> None:
            if apply and self.engine is not None:
                self.engine.submit(job_for(change, planner.containers,
                                           lambda firewall: build(planner, firewall)))

        def review(accepted: bool | None = True) -> None:
            if accepted:
                self.push_screen(PlanReview(change.plan, note=stale_line(change.stale)),
                                 decided)

        if not message.offer:
            review()
        elif not change.plan.empty:
            self.push_screen(ApplyOffer(len(change.targets), change.plan.title), review)

    def on_config_saved(self, message: ConfigSaved) -> None:
        before, after = message.before, message.after
        self.keeper.settings = after  # plans from now on use it; the refresher follows
        self.config_problem = None  # it was saved valid and read back
        self.run_worker(lambda: self.keeper.restart_refresher(after), thread=True,
                        group="dns", exit_on_error=False)
        if self.read_only or not policy_changed(before, after):
            return

        self._plan(lambda planner, fw: planner.after_settings_change(before, fw.list_rules()),
                   offer=True)

    def on_change_failed(self, message: ChangeFailed) -> None:
        self.notify(message.reason, severity="error")

    # ------------------------------------------------------------------ actions
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_job":
            return self.engine is not None and self.engine.busy
        return True

    def _plan(self, build: BuildChange, offer: bool = False) -> None:
        """Plan off the UI thread; the review (or, after a config save, the offer) follows."""
        parts = self.wiring.keeper
        make_planner, make_firewall = parts.make_planner, parts.make_firewall
        if make_planner is None or make_firewall is None:
            return
        settings = self.settings

        def work() -> None:
            try:
                planner = make_planner(settings)
                firewall = make_firewall()
                try:
                    change = build(planner, firewall)
                finally:
                    firewall.close()
            except CoiTuiError as error:
                self.post_message(ChangeFailed(str(error)))
                return
            self.post_message(ChangeReady(change, planner, build, offer))

        self.run_worker(work, thread=True, group="plan", exclusive=True, exit_on_error=False)

    def on_mode_change_requested(self, message: ModeChangeRequested) -> None:
        self.plan_mode_change(message.names, message.mode)

    def on_rules_removal_requested(self, message: RulesRemovalRequested) -> None:
        names = list(message.names)
        self._plan(lambda planner, fw: planner.remove(names, fw.list_rules()))

    @on(DisableIpv6Requested)  # a digit in the name defeats Textual's on_<snake_case> naming
    def plan_ipv6_off(self, message: DisableIpv6Requested) -> None:
        names = list(message.names)
        self._plan(lambda planner, _fw: ipv6_off_change(planner, names))

    def on_rules_of_requested(self, message: RulesOfRequested) -> None:
        self.rules_view.filter_for(message.name)
        self.action_view("rules")

    def on_flows_requested(self, message: FlowsRequested) -> None:
        if self.wiring.flows is None:
            self.notify("tracked flows are not read here", severity="warning")
            return
        reader: FlowSource = self.wiring.flows
        if self.feed is not None and isinstance(reader, FlowReader):
            # names from the container's own DNS answers, as the feed has them
            reader = partial(reader, names=partial(self.feed.name_of,
                                                   message.container.ipv4 or ""))
        self.push_screen(FlowsScreen(message.container, reader))

    def plan_mode_change(self, names: tuple[str, ...], mode: Mode) -> None:
        self._plan(lambda planner, fw: planner.apply(list(names), mode, fw.list_rules()))

    def action_cancel_job(self) -> None:
        if self.engine is not None:
            self.engine.cancel()

    def action_refresh(self) -> None:
        self.keeper.wake()

    def action_pause(self) -> None:
        self._paused = not self._paused
        self.keeper.pause(self._paused)
        self.status_line.set_paused(self._paused)

    def action_view(self, view: str) -> None:
        if self.views.query(f"TabPane#{view}"):
            self.views.active = view

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()
        if self.feed is not None:  # blocked/s every 2 s while it shows, every 10 s else
            self.feed.counts_every = COUNTS_EVERY if event.pane.id == "traffic" \
                else COUNTS_HIDDEN
        if event.pane.id == "orphans":  # opening the view shows what is there now
            self.run_worker(self._scan_orphans, thread=True, group="orphans", exclusive=True,
                            exit_on_error=False)
        # keys act on what is shown: give the new view's main widget the focus
        main = {"containers": "#containers-table", "rules": "#rules-table",
                "config": "#cfg-mode", "dns": "#dns-table",
                "orphans": "#orphans-table",
                "traffic": "#traffic-table"}.get(event.pane.id or "")
        if main and self.views.query(main):
            self.views.query_one(main).focus()

    def action_toggle_help(self) -> None:
        view = self.views.active if self.views.is_mounted else "containers"
        lists = ("list",) if self.views.query(f"TabPane#{view} ListTable") else ()
        self.push_screen(HelpScreen(TITLES[view], view, LEGENDS.get(view, ()),
                                    (*lists, "app", "views"), self.wiring.keymap))

    def action_toggle_job_log(self) -> None:
        self.progress.toggle_log()

    async def action_quit(self) -> None:
        engine = self.engine
        if engine is None or not engine.busy:
            self.exit(0)
            return

        def decided(quit_now: bool | None) -> None:
            if quit_now:
                self.exit(0)

        self.push_screen(QuitConfirm(self.progress.running or "a firewall job"), decided)

    async def on_unmount(self) -> None:
        self.keeper.stop()
        if self.feed is not None:
            self.feed.stop()
