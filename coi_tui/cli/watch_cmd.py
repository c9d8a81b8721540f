"""`coi-tui watch`: keeps every recorded mode in force, headless, one instance per host.

What the TUI does in the background, without the TUI: recovery after firewalld reloads or
restarts, healing of removed rules and moved addresses, the freeze guard, and the DNS
allowlist refresher. One log line per
event and action on stdout. Exit: 0 after SIGTERM/SIGINT, 1 when another watch runs (its PID
is named), 2 on bad usage or a bad config.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from dataclasses import replace
from pathlib import Path
from types import FrameType
from typing import Any

from coi_tui.errors import CoiTuiError
from coi_tui.keep.keeper import HostKeeper, Sinks
from coi_tui.keep.refresher import DnsState
from coi_tui.models import Inventory
from coi_tui.runtime.engine import (
    EngineEvent,
    JobFinished,
    JobStarted,
    Notice,
    StepDone,
)
from coi_tui.runtime.hostlock import WATCH, HostLock
from coi_tui.services.dns.report import refresh_line
from coi_tui.services.own_settings import freeze_after_value, load_own_settings
from coi_tui.services.traffic.feed import FeedUpdate, TrafficFeed, watched_from
from coi_tui.services.traffic.history import History, history_path
from coi_tui.wiring import Scope, keeper_parts, settings_from_args


class AlreadyWatching(CoiTuiError):
    exit_code = 1


def register(sub: Any) -> None:
    parser = sub.add_parser("watch", help="keep recorded modes in force (headless, one per host)")
    parser.add_argument("--freeze-after", type=float, metavar="SECONDS",
                        help="freeze guard: freeze enforcing containers after SECONDS without "
                             "isolation (0 = off; default from ~/.config/coi-tui/config.toml)")
    parser.add_argument("--no-backstop", action="store_true",
                        help="firewalld era: keep no nft table of coi-tui's own (firewalld "
                             "stopping then opens what the modes block until it is back)")
    parser.add_argument("--no-traffic", action="store_true",
                        help="keep no history of attempts (the traffic feed stays off)")
    parser.add_argument("--interval", type=float, default=1.0, metavar="SECONDS",
                        help="snapshot at least this often (events wake it at once)")
    parser.set_defaults(func=run)


class Log:
    """One line per event, with a timestamp; a line repeated back to back is said once."""

    def __init__(self) -> None:
        self._last = ""
        self._lock = threading.Lock()

    def __call__(self, text: str) -> None:
        with self._lock:
            if text == self._last:
                return
            self._last = text
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            print(f"{stamp} {text}", flush=True)


def engine_line(event: EngineEvent) -> str | None:
    if isinstance(event, JobStarted):
        return f"job {event.job_id} started: {event.title} ({event.total} step(s))"
    if isinstance(event, StepDone) and not event.ok:
        return (f"job {event.job_id} step {event.index}/{event.total} FAILED: "
                f"{event.step.label()}: {event.detail}")
    if isinstance(event, JobFinished):
        if event.ok:
            return f"job {event.job_id} done: {event.title}" + "".join(
                f"; warning: {w}" for w in event.warnings)
        return f"job {event.job_id} FAILED: {event.title}: " \
               f"{'; '.join(event.verify_diff) or event.error or 'cancelled'}"
    if isinstance(event, Notice):
        return event.text
    return None


class IsolationLog:
    """Logs a container's isolation when it changes, not every snapshot."""

    def __init__(self, log: Log) -> None:
        self._log = log
        self._seen: dict[str, str] = {}

    def __call__(self, inventory: Inventory) -> None:
        for state in inventory.containers:
            isolation = state.isolation.value if state.isolation else "-"
            line = f"{state.container.name}: {isolation.upper()} ({state.reason})"
            if self._seen.get(state.container.key) != isolation:
                self._seen[state.container.key] = isolation
                self._log(line)


def traffic_history(log: Log) -> TrafficFeed:
    """The feed, into the bounded history `coi-tui traffic` reads; a problem is logged once."""
    history = History(history_path(Path.home()))

    def sink(update: FeedUpdate) -> None:
        if update.problem or update.note:
            log(f"traffic: {update.problem or update.note}")
        history.add(update.attempts)

    return TrafficFeed(sink, counts_every=None)


def run(args: argparse.Namespace) -> int:
    watch_lock = HostLock(WATCH)
    if not watch_lock.try_acquire():
        raise AlreadyWatching(
            f"another coi-tui watch keeps isolation on this host: {watch_lock.holder()}")
    try:
        return _watch(args)
    finally:
        watch_lock.release()


def _watch(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    freeze_after = (freeze_after_value(args.freeze_after, "--freeze-after")
                    if args.freeze_after is not None else load_own_settings().freeze_after)
    scope = Scope.from_args(args)
    log = Log()
    stop = threading.Event()

    def stop_on(signum: int, _frame: FrameType | None) -> None:
        log(f"{signal.Signals(signum).name}: stopping")
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)

    isolation_log = IsolationLog(log)
    last_refresh = [0.0]

    def backend_event(event: str, payload: dict[str, object] | None = None) -> None:
        if event in ("RuleAdded", "RuleRemoved"):
            log(f"firewalld: {event} {payload.get('args') if payload else ''}")
        elif event not in ("resync",):
            log(f"event: {event}" + (f" {payload.get('name', '')}" if payload else ""))

    def engine_event(event: EngineEvent) -> None:
        line = engine_line(event)
        if line:
            log(line)

    def dns_state(state: DnsState) -> None:
        result = state.last_refresh
        if result is not None and result.at != last_refresh[0]:  # a refresh, not a job result
            last_refresh[0] = result.at
            log(f"dns: {refresh_line(state)}")

    feed = None if args.no_traffic else traffic_history(log)

    def inventory(snapshot: Inventory) -> None:
        isolation_log(snapshot)
        if feed is not None:
            feed.watch(watched_from(snapshot))

    parts = keeper_parts(scope, settings, freeze_after, backstop_on=not args.no_backstop)
    if not settings.allowed_domains:
        parts = replace(parts, make_refresher=None)
    keeper = HostKeeper(parts, Sinks(inventory, engine_event, dns_state, backend_event, log),
                        settings, interval=args.interval)
    guard = f"after {freeze_after:g}s" if freeze_after else "off"
    backstop = "on" if parts.backstop is not None else "off"
    log(f"coi-tui watch (PID {os.getpid()}) keeps isolation on this host; freeze guard {guard}; "
        f"backstop {backstop}")
    keeper.start()
    if feed is not None:
        feed.start()
        if feed.running:
            log(f"traffic: reading; history in {history_path(Path.home())}")
    try:
        while not stop.wait(0.5):
            pass
    finally:
        keeper.stop()
        if feed is not None:
            feed.stop()
        log("stopped")
    return 0
