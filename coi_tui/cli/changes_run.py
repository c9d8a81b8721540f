"""Shared by apply and remove: preview a Change, or run it through the firewall engine."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import replace

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.changes import (
    BuildChange,
    Change,
    ChangePlanner,
    fresh_job,
    job_for,
    stale_line,
    stale_record,
)
from coi_tui.cli.output import print_json
from coi_tui.plans import Plan, plan_summary, review_lines
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import (
    EngineEvent,
    FirewallEngine,
    JobFinished,
    JobStarted,
    Notice,
    StepDone,
)
from coi_tui.wiring import Scope, coi_era, open_coi_firewall, open_containers, settings_from_args


def plan_record(plan: Plan) -> dict[str, object]:
    """The plan as it will run: each step with every line, its real action and owner."""
    return {
        "title": plan.title,
        "summary": plan_summary(plan),
        "steps": [
            {"container": step.container, "why": step.why,
             "lines": [{"action": line.action, "text": line.text,
                        "container": line.owner or step.container} for line in step.lines()]}
            for step in plan.steps
        ],
    }


def print_plan(plan: Plan) -> None:
    print(f"plan: {plan.title} ({plan_summary(plan)})")
    for line in review_lines(plan):
        print(f"  {line}")


def stale_fields(change: Change | None) -> dict[str, object]:
    """--json: the domains that failed and keep their cached addresses."""
    return {"stale": [stale_record(s) for s in change.stale] if change else []}


def print_stale(change: Change | None) -> None:
    if change is not None and change.stale:
        print(f"  {stale_line(change.stale)}")


def run_change(args: argparse.Namespace, build: BuildChange,
               confirm: Callable[[Plan], bool] | None = None) -> int:
    """--dry-run plans and prints; otherwise the engine plans once it holds the host's writer
    lock (so two writers never interleave) and runs that plan. `confirm`: the plan is printed
    first and runs only if it says yes (an empty plan is not asked about)."""
    settings = settings_from_args(args)
    if getattr(args, "allow", None):
        settings = replace(settings, allowed_domains=tuple(args.allow))
    scope = Scope.from_args(args)
    containers: ContainerBackend = open_containers(scope)
    planner = ChangePlanner(containers, settings, era=coi_era(scope))
    as_json = getattr(args, "json", False)
    reviewed: Change | None = None  # confirmed: it runs only if planned alike under the lock
    if args.dry_run or confirm is not None:
        firewall = open_coi_firewall(scope)
        try:
            change = build(planner, firewall)
        finally:
            firewall.close()
            if args.dry_run:
                containers.close()
        if as_json:
            print_json({**plan_record(change.plan), **stale_fields(change), "applied": False})
        else:
            print_plan(change.plan)
            print_stale(change)
        if args.dry_run:
            return 0
        if change.plan.empty or confirm is None or not confirm(change.plan):
            containers.close()
            return 0
        reviewed = change
    started: list[JobStarted] = []
    finished: list[JobFinished] = []
    built: list[Change] = []  # the change the engine planned under the lock

    def build_now(firewall: FirewallBackend) -> Change:
        built.append(build(planner, firewall))
        return built[-1]

    def report(event: EngineEvent) -> None:
        if isinstance(event, JobStarted):
            started.append(event)
            if not as_json and reviewed is None:
                print_plan(event.plan)
                print_stale(built[-1] if built else None)
        elif isinstance(event, StepDone) and not as_json:
            print(event)
        elif isinstance(event, Notice):
            print(f"coi-tui: {event.text}", file=sys.stderr, flush=True)
        elif isinstance(event, JobFinished):
            finished.append(event)

    engine = FirewallEngine(lambda: open_coi_firewall(scope), report, AuditLog()).start()
    try:
        engine.submit(job_for(reviewed, containers, build_now) if reviewed else
                      fresh_job("change", containers, build_now))
        engine.wait_idle()
    finally:
        engine.stop()
        containers.close()
    (result,) = finished
    plan = started[0].plan if started else Plan()
    for warning in result.warnings:
        print(f"coi-tui: warning: {warning}", file=sys.stderr)
    if as_json:
        print_json({**plan_record(plan), **stale_fields(built[-1] if built else None),
                    "applied": result.ok, "error": result.error,
                    "verify_diff": list(result.verify_diff),
                    "warnings": list(result.warnings)})
    elif result.ok:
        print(f"done: {plan.title}")
    if not result.ok:
        detail = "; ".join(result.verify_diff) or result.error
        if not started:  # refused while planning: bad input exits 2, as before any lock
            print(f"coi-tui: {result.error}", file=sys.stderr)
            return result.exit_code
        print(f"coi-tui: {plan.title} failed: {detail}", file=sys.stderr)
        return 1
    return 0
