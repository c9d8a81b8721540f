"""`coi-tui traffic [NAME...] [--json] [--follow]`: what the containers tried to reach.

Without --follow: the history `coi-tui watch` keeps. With it: the live feed (coi-tui's own
nft table; COI's rules are never touched), one line per attempt as it is decided, until
Ctrl-C or --seconds. --json: JSON lines, each with `schema` and `type`."""

from __future__ import annotations

import argparse
import json
import queue
import signal
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from coi_tui.cli.output import print_table
from coi_tui.errors import BadInput, CoiTuiError
from coi_tui.services.traffic.attempts import SCHEMA, Attempt, Counts, Verdict
from coi_tui.services.traffic.feed import FeedUpdate, TrafficFeed, watched_from
from coi_tui.services.traffic.history import history_path, read
from coi_tui.wiring import Scope, inventory_source, view_settings

SNAPSHOT_EVERY = 2.0  # seconds: which containers run, at which address, in which mode


def register(sub: Any) -> None:
    parser = sub.add_parser("traffic", help="what containers tried to reach: names, verdicts, "
                                            "the rule that decided")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these containers")
    parser.add_argument("--json", action="store_true", help="JSON lines")
    parser.add_argument("--follow", action="store_true", help="the live feed")
    parser.add_argument("--seconds", type=float, metavar="S",
                        help="with --follow: stop after S seconds")
    parser.add_argument("--last", type=int, default=50, metavar="N",
                        help="without --follow: the last N attempts (default 50)")
    parser.set_defaults(func=run)


def attempt_line(attempt: Attempt) -> list[object]:
    verdict = attempt.verdict.value.upper() if attempt.verdict is not Verdict.REACHED \
        else "reached"
    return [time.strftime("%H:%M:%S", time.localtime(attempt.at)), attempt.container,
            attempt.protocol, attempt.target if (attempt.query or attempt.name)
            else f"{attempt.destination}:{attempt.port}" if attempt.port else attempt.destination,
            attempt.destination, verdict, attempt.why]


HEADERS = ("time", "container", "proto", "target", "address", "verdict", "why")


def run(args: argparse.Namespace) -> int:
    if args.seconds is not None and not args.follow:
        raise BadInput("--seconds goes with --follow")
    if not args.follow:
        return _history(args)
    return _follow(args)


def _history(args: argparse.Namespace) -> int:
    path = history_path(Path.home())
    kept = [a for a in read(path) if not args.names or a.container in args.names]
    kept = kept[-args.last:] if args.last > 0 else kept
    if args.json:
        for attempt in kept:
            print(json.dumps(attempt.record()))
        return 0
    if not kept:
        print(f"no attempts kept in {path}: `coi-tui watch` keeps them; "
              "`coi-tui traffic --follow` shows them live")
        return 0
    print_table(HEADERS, [attempt_line(a) for a in kept])
    return 0


def _follow(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    source = inventory_source(scope, view_settings(args))
    updates: queue.Queue[FeedUpdate] = queue.Queue()
    feed = TrafficFeed(updates.put)
    stop = threading.Event()

    def stop_on(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, stop_on)
    signal.signal(signal.SIGINT, stop_on)
    until = time.monotonic() + args.seconds if args.seconds is not None else None
    inventory = source.snapshot()
    known = {s.container.name for s in inventory.containers}
    unknown = [n for n in args.names if n not in known]
    if unknown:
        source.close()
        raise BadInput(f"no container {', '.join(unknown)} (coi-tui status lists them)")
    feed.watch(watched_from(inventory))
    feed.start()
    counts: Counts | None = None
    printer = _Printer(args.json, args.names)
    if feed.running:
        printer.started(sorted(feed.watched.sources.values()))
    try:
        next_snapshot = time.monotonic() + SNAPSHOT_EVERY
        while not stop.is_set() and (until is None or time.monotonic() < until):
            try:
                update = updates.get(timeout=0.25)
            except queue.Empty:
                update = None
            if update is not None:
                if update.problem:
                    print(f"coi-tui: traffic: {update.problem}", file=sys.stderr)
                    if not feed.running:
                        return 1
                if update.note:
                    print(f"coi-tui: traffic: {update.note}", file=sys.stderr)
                counts = update.counts or counts
                printer.attempts(update.attempts)
            if time.monotonic() >= next_snapshot:
                next_snapshot = time.monotonic() + SNAPSHOT_EVERY
                try:
                    feed.watch(watched_from(source.snapshot()))
                except CoiTuiError as error:
                    print(f"coi-tui: traffic: {error}", file=sys.stderr)
        counts = feed.counts() or counts
    finally:
        feed.stop()
        source.close()
    printer.summary(counts, feed.watched.sources)
    return 0


class _Printer:
    def __init__(self, as_json: bool, names: Sequence[str]) -> None:
        self._json = as_json
        self._names = set(names)
        self._header = False

    def attempts(self, attempts: Sequence[Attempt]) -> None:
        for attempt in attempts:
            if self._names and attempt.container not in self._names:
                continue
            if self._json:
                print(json.dumps(attempt.record()), flush=True)
                continue
            if not self._header:
                self._header = True
                print("  ".join(h.upper() for h in HEADERS), flush=True)
            print("  ".join("-" if v is None else str(v) for v in attempt_line(attempt)),
                  flush=True)

    def started(self, names: Sequence[str]) -> None:
        """Once the readers listen: from here on no attempt is missed."""
        shown = [n for n in names if not self._names or n in self._names]
        if self._json:
            print(json.dumps({"schema": SCHEMA, "type": "started", "watching": shown}),
                  flush=True)
        else:
            print(f"watching {len(shown)} container(s); Ctrl-C stops", file=sys.stderr)

    def summary(self, counts: Counts | None, names: Mapping[str, str]) -> None:
        """The kernel's exact totals since the table was made, per container."""
        if counts is None:
            return
        shown = {ip: name for ip, name in names.items()
                 if not self._names or name in self._names}
        if self._json:
            print(json.dumps({
                "schema": SCHEMA, "type": "counts",
                "attempts": {name: counts.attempts.get(ip, 0) for ip, name in shown.items()},
                "blocked": {name: counts.blocked(ip) for ip, name in shown.items()},
                "limited": counts.limited}))
        elif counts.limited:
            print(f"{counts.limited} attempt(s) were left out of the feed by its rate limit "
                  "(counted in the totals)")
