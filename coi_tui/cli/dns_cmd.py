"""`coi-tui dns [NAME...] [--json] [--refresh | --follow | --prune NAME [--dry-run]]`: the
allowlist's domains, their IPs, TTL countdowns and states, the refresh schedule, and each
allowlist container's pinned IPs (in the nft era also its old answers, with their age, and
whether its /etc/hosts block is in step).

Without options it resolves now and only shows (nothing is changed, no COI cache is
written). --refresh re-applies, through the firewall worker, the allowlists whose answers
changed (nft era: adds the new answers, then rewrites the container's /etc/hosts block; exit 1
if a step failed). --follow runs the refresher headless, one log line per refresh, until
SIGTERM or Ctrl-C. --prune (beyond COI) takes the old answers of a container out of its
allowlist, as one reviewed change (--dry-run prints it).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import Change, ChangePlanner
from coi_tui.cli.changes_run import run_change
from coi_tui.cli.output import print_json, print_table
from coi_tui.errors import BadInput, CoiTuiError
from coi_tui.keep.prune import HELP as PRUNE_HELP
from coi_tui.keep.prune import prune_change
from coi_tui.keep.refresher import DnsRefresher, DnsState
from coi_tui.models import CoiRule, NetworkSettings
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished, StepDone
from coi_tui.services.dns.report import old_answers_text, refresh_line, state_record
from coi_tui.services.dns.schedule import seconds_until
from coi_tui.wiring import Scope, coi_era, open_coi_firewall, open_containers, settings_from_args


def register(sub: Any) -> None:
    parser = sub.add_parser("dns", help="allowlist domains, resolved IPs, TTLs and refreshes")
    parser.add_argument("names", nargs="*", metavar="NAME", help="only these containers")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--refresh", action="store_true",
                      help="resolve now and re-apply the allowlists whose IPs changed")
    mode.add_argument("--follow", action="store_true",
                      help="run the refresher until stopped, one log line per refresh")
    mode.add_argument("--prune", action="append", metavar="NAME",
                      help=f"{PRUNE_HELP} (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                        help="with --prune: print the exact plan only")
    parser.set_defaults(func=run)


def _rule_reader(firewall: FirewallBackend | None, reason: str
                 ) -> Callable[[], Sequence[CoiRule]]:
    def read() -> Sequence[CoiRule]:
        if firewall is None:
            raise CoiTuiError(reason)
        return firewall.list_rules()

    return read


def print_state(state: DnsState, now: float) -> None:
    rows = [
        [r.domain, " ".join(r.ips) or None, r.ttl, r.expires_in(now), r.status.value,
         " ".join(f"{ip} ({why})" for ip, why in r.blocked) or None]
        for r in state.records
    ]
    print_table(["domain", "ips", "ttl", "expires_in", "status", "blocked_ips"], rows)
    interval = "disabled" if state.interval is None else f"{state.interval}s"
    left = seconds_until(state.next_refresh_at, now)
    print(f"\ninterval {interval}; next refresh in {'-' if left is None else f'{left}s'}")
    print(f"last refresh: {refresh_line(state)}")
    if state.containers:
        print()
        print_table(["container", "ipv4", "pinned_ips (cache)", "rule_ips", "old answers",
                     "/etc/hosts", "cache"], [
            [p.name, p.ipv4, " ".join(p.cached_ips) or None,
             None if p.rule_ips is None else " ".join(p.rule_ips) or "-",
             old_answers_text(p, now), p.hosts_file or "-",
             f"UNREADABLE: {p.cache_error}" if p.cache_error else p.cache_file]
            for p in state.containers
        ])
        if any(p.old_answers for p in state.containers):
            print("\nold answers stay allowed, as COI keeps them; "
                  "`coi-tui dns --prune NAME` takes them out (beyond COI)")
    print(f"\nnote: {state.note}")


def run(args: argparse.Namespace) -> int:
    if args.prune:
        if args.names:
            raise BadInput("dns --prune takes its containers as --prune NAME")
        return _prune(args)
    if args.dry_run:
        raise BadInput("--dry-run goes with --prune")
    settings = settings_from_args(args)
    if not settings.allowed_domains and (args.refresh or args.follow):
        raise BadInput("network.allowed_domains is empty: nothing to resolve")
    containers: ContainerBackend = open_containers(Scope.from_args(args))
    firewall: FirewallBackend | None = None
    try:
        firewall = open_coi_firewall(Scope.from_args(args))
        unreadable = ""
    except CoiTuiError as error:
        unreadable = str(error)
    try:
        if args.follow:
            return _follow(args, settings, containers, firewall, unreadable)
        if args.refresh:
            return _refresh(args, settings, containers, firewall, unreadable)
        refresher = DnsRefresher(settings, containers, _rule_reader(firewall, unreadable),
                                 lambda _job: None, home=Path.home(), names=args.names,
                                 era=coi_era(Scope.from_args(args)),
                                 apply_changes=False)
        state = refresher.refresh_now()
        _show(args, state)
        return 0
    finally:
        if firewall is not None:
            firewall.close()
        containers.close()


def _prune(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    names = list(dict.fromkeys(args.prune))

    def build(planner: ChangePlanner, firewall: FirewallBackend) -> Change:
        return prune_change(planner, settings, names, firewall.list_rules())

    return run_change(args, build)


def _show(args: argparse.Namespace, state: DnsState) -> None:
    now = time.time()
    if args.json:
        print_json(state_record(state, now))
    else:
        print_state(state, now)


def _engine(args: argparse.Namespace, refresher_box: list[DnsRefresher],
            failed: list[JobFinished]) -> FirewallEngine:
    def report(event: EngineEvent) -> None:
        if isinstance(event, StepDone) and not args.json:
            print(f"  {event}", flush=True)
        elif isinstance(event, JobFinished):
            if refresher_box:
                refresher_box[0].job_finished(event)
            if not event.ok:
                failed.append(event)
                detail = "; ".join(event.verify_diff) or event.error or "cancelled"
                print(f"coi-tui: {event.title} failed: {detail}", file=sys.stderr, flush=True)

    scope = Scope.from_args(args)
    return FirewallEngine(lambda: open_coi_firewall(scope), report, AuditLog()).start()


def _refresh(args: argparse.Namespace, settings: NetworkSettings, containers: ContainerBackend,
             firewall: FirewallBackend | None, unreadable: str) -> int:
    box: list[DnsRefresher] = []
    failed: list[JobFinished] = []
    engine = _engine(args, box, failed)
    try:
        refresher = DnsRefresher(settings, containers, _rule_reader(firewall, unreadable),
                                 engine.submit, home=Path.home(), names=args.names,
                                 era=coi_era(Scope.from_args(args)))
        box.append(refresher)
        refresher.refresh_now()
        engine.wait_idle()
    finally:
        engine.stop()
    _show(args, refresher.state)
    return 1 if failed else 0


def _follow(args: argparse.Namespace, settings: NetworkSettings, containers: ContainerBackend,
            firewall: FirewallBackend | None, unreadable: str) -> int:
    box: list[DnsRefresher] = []
    failed: list[JobFinished] = []
    engine = _engine(args, box, failed)
    last_at: list[float] = []

    def on_state(state: DnsState) -> None:
        result = state.last_refresh
        if result is None or (last_at and last_at[-1] == result.at):
            return  # a job result, not a new refresh: one line per refresh
        last_at.append(result.at)
        if args.json:
            print_json(state_record(state, time.time()))
        else:
            print(refresh_line(state), flush=True)

    refresher = DnsRefresher(settings, containers, _rule_reader(firewall, unreadable),
                             engine.submit, home=Path.home(), names=args.names,
                                 era=coi_era(Scope.from_args(args)),
                             on_state=on_state)
    box.append(refresher)

    def stop(_signum: int, _frame: FrameType | None) -> None:
        refresher.stop()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        if not args.json:
            print("DNS refresher started (Ctrl-C or SIGTERM stops it)", flush=True)
        refresher.run()
        engine.wait_idle(60)  # a re-apply in flight finishes: no half-applied plan
    finally:
        engine.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not args.json:
        print("DNS refresher stopped", flush=True)
    return 0
