"""`coi-tui allow NAME ADDRESS[:PORT] [--name HOST] [--for 10m] [--save]`, `allow --list`,
`allow --revoke NAME ADDRESS[:PORT]`: grants (keep/grants.py) through the same reviewed-plan
path as `apply`: the writer lock, the plan, the run, its verification, the audit.

Ended grants go first, whatever is asked ("grant for X expired"). Without `--yes` the plan is
shown and asked for (y/N), and the very plan reviewed is what runs.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from coi_tui.backends.base import FirewallBackend
from coi_tui.changes import ChangePlanner
from coi_tui.cli.changes_run import plan_record, print_plan
from coi_tui.cli.output import print_json, print_table
from coi_tui.errors import BadInput
from coi_tui.keep.grants import (
    Grant,
    ending_job,
    grant_job,
    grant_plan,
    revoke_change,
    save_to_config,
)
from coi_tui.plans import Plan
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, Job, JobFinished, JobStarted
from coi_tui.services.grants import GrantRecord, grants_path, load_grants
from coi_tui.wiring import (
    Scope,
    change_planner,
    coi_era,
    edit_target,
    locations_from_env,
    open_coi_firewall,
    settings_from_args,
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def register(sub: Any) -> None:
    parser = sub.add_parser("allow", help="let one destination through for a container now")
    parser.add_argument("target", nargs="*", metavar="NAME ADDRESS[:PORT]",
                        help="the container and the destination")
    parser.add_argument("--name", metavar="HOST", help="the destination's name (/etc/hosts)")
    parser.add_argument("--for", dest="duration", metavar="TIME",
                        help="how long: 30s, 10m, 1h, 2d (default: until the container stops)")
    parser.add_argument("--save", action="store_true",
                        help="also write it to COI's config (allowed_domains or [[network.hosts]])")
    parser.add_argument("--list", action="store_true", help="the grants in force")
    parser.add_argument("--revoke", action="store_true", help="end NAME's grant to ADDRESS now")
    parser.add_argument("--dry-run", action="store_true", help="print the exact plan only")
    parser.add_argument("--yes", action="store_true", help="do not ask")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def parse_duration(text: str) -> float:
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text)
    if not match or float(match.group(1)) <= 0:
        raise BadInput(f"--for {text!r}: expected a time like 30s, 10m, 1h or 2d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_destination(text: str) -> tuple[str, int | None]:
    address, colon, port = text.partition(":")
    if not colon:
        return address, None
    if not port.isdigit():
        raise BadInput(f"{text!r}: expected ADDRESS or ADDRESS:PORT")
    return address, int(port)


def run(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    settings = settings_from_args(args)

    def make_planner() -> ChangePlanner:  # a fresh one per job (its own Incus connection)
        return change_planner(scope, settings)

    if args.list:
        if args.target or args.revoke:
            raise BadInput("allow --list takes no NAME, ADDRESS or --revoke")
        code = _run_jobs(args, scope, [ending_job(make_planner)], quiet=True)
        _list(args)
        return code
    if len(args.target) != 2:
        raise BadInput("allow needs NAME ADDRESS[:PORT] (or --list)")
    name, destination = args.target
    address, port = parse_destination(destination)
    expire = ending_job(make_planner)
    if args.revoke:
        job = ending_job(make_planner, revoke=(name, address, port))
        if args.dry_run or not args.yes:
            plan = _planned(scope, lambda fw: revoke_change(
                make_planner(), name, address, port, fw.list_rules())[0].plan)
            if args.dry_run:
                _show(args, plan, applied=False)
                return 0
            if not _confirm(args, plan):
                return 0
        return _run_jobs(args, scope, [expire, job])
    until = time.time() + parse_duration(args.duration) if args.duration else None
    grant = Grant(name, address, port, args.name, until, args.save)
    era = coi_era(scope).name

    def save(record: GrantRecord) -> str:
        return save_to_config(record, era, edit_target(args),
                              locations_from_env().with_top(getattr(args, "config", None)))

    if args.dry_run or not args.yes:
        plan = _planned(scope, lambda fw: grant_plan(make_planner(), grant, fw.list_rules()))
        if args.dry_run:
            _show(args, plan, applied=False)
            return 0
        if not _confirm(args, plan):
            return 0
        job = grant_job(grant, make_planner, reviewed=plan, save=save)
    else:
        job = grant_job(grant, make_planner, save=save)
    return _run_jobs(args, scope, [expire, job])


def _planned(scope: Scope, plan_now: Callable[[FirewallBackend], Plan]) -> Plan:
    """The plan now, for --dry-run and the review (nothing changed)."""
    firewall = open_coi_firewall(scope)
    try:
        return plan_now(firewall)
    finally:
        firewall.close()


def _confirm(args: argparse.Namespace, plan: Plan) -> bool:
    print_plan(plan)
    if plan.empty:
        return True
    if not sys.stdin.isatty():
        raise BadInput("not a terminal: review the plan with --dry-run, then run with --yes")
    sys.stdout.write("Apply this plan? [y/N]: ")
    sys.stdout.flush()
    if sys.stdin.readline().strip() not in ("y", "Y"):
        print("Cancelled.")
        return False
    return True


def _show(args: argparse.Namespace, plan: Plan, *, applied: bool) -> None:
    if args.json:
        print_json({**plan_record(plan), "applied": applied})
    else:
        print_plan(plan)


def _run_jobs(args: argparse.Namespace, scope: Scope, jobs: list[Job], *,
              quiet: bool = False) -> int:
    finished: list[JobFinished] = []
    started: dict[int, JobStarted] = {}

    def report(event: EngineEvent) -> None:
        if isinstance(event, JobStarted):
            started[event.job_id] = event
            if not args.json and not quiet and not event.plan.empty:
                print_plan(event.plan)
        elif isinstance(event, JobFinished):
            finished.append(event)

    engine = FirewallEngine(lambda: open_coi_firewall(scope), report, AuditLog()).start()
    try:
        for job in jobs:
            engine.submit(job)
        engine.wait_idle()
    finally:
        engine.stop()
    code = 0
    for result in finished:
        for line in result.warnings:
            print(f"coi-tui: {line}", file=sys.stderr)
        if not result.ok:
            detail = "; ".join(result.verify_diff) or result.error
            print(f"coi-tui: {result.title} failed: {detail}", file=sys.stderr)
            code = max(code, result.exit_code if result.job_id not in started else 1)
    last = finished[-1] if finished else None
    if last is not None and not quiet:
        plan = started[last.job_id].plan if last.job_id in started else Plan()
        if args.json:
            print_json({**plan_record(plan), "applied": last.ok, "error": last.error,
                        "verify_diff": list(last.verify_diff), "notes": list(last.warnings)})
        elif last.ok:
            print(f"done: {plan.title}")
    return code


def _list(args: argparse.Namespace) -> None:
    grants = load_grants(grants_path(Path.home()))
    if args.json:
        print_json({"grants": [{"container": g.container, "address": g.address, "port": g.port,
                                "name": g.name, "mode": g.mode.value, "until": g.until,
                                "ipv4": g.ipv4} for g in grants]})
        return
    now = time.time()
    print_table(["container", "destination", "mode", "ends"],
                [[g.container, g.destination, g.mode.value,
                  "when it stops" if g.until is None else f"in {max(0, round(g.until - now))}s"]
                 for g in grants])
