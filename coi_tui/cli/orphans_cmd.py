"""`coi-tui orphans [--json] [--clean [--yes]]`: what dead containers left behind.

Lists by default (a dry run, in COI's `clean --orphans` shape, each item with its reason);
`--clean` asks y/N, `--clean --yes` does not. Cleaning runs through the firewall engine under
the host's writer lock and removes exactly the listed items (each re-checked just before).
Inherited rules (a live container's) are listed but never cleaned from here: that container
needs a mode applied or its rules removed by name. Both eras' leftovers are looked for: nft's,
and firewalld's when it runs (else one line says they were not checked).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from coi_tui.cli.output import print_json
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished, Notice, StepDone
from coi_tui.services.orphan_clean import clean_job, default_sources, scan
from coi_tui.services.orphans import KIND_TITLES, Orphan, OrphanKind, OrphanReport
from coi_tui.wiring import Scope, open_coi_firewall

SHOWN = 10  # per kind in text mode, as COI; the rest as "... and K more"


def register(sub: Any) -> None:
    parser = sub.add_parser("orphans", help="list (or clean) what dead containers left behind")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--clean", action="store_true", help="remove the listed orphans")
    parser.add_argument("--yes", action="store_true", help="with --clean: do not ask")
    parser.add_argument("--all", action="store_true",
                        help="text mode: show every item (default: 10 per kind)")
    parser.set_defaults(func=run)


def record(orphan: Orphan) -> dict[str, object]:
    return {"kind": orphan.kind.value, "id": orphan.id, "detail": orphan.detail,
            "reason": orphan.reason}


def report_lines(report: OrphanReport, show_all: bool = False) -> list[str]:
    lines = ["Scanning for orphaned resources..."]
    lines += [f"  {note}" for note in report.notes]
    for part, error in sorted(report.errors.items()):
        lines.append(f"  Warning: Could not check {part}: {error}")
    orphans = [o for o in report.orphans if o.kind is not OrphanKind.INHERITED]
    if not orphans:
        lines.append("  (no orphaned resources found)")
    else:
        lines.append(f"Found {len(orphans)} orphaned resource(s):")
    for kind in OrphanKind:
        items = [o for o in report.orphans if o.kind is kind]
        if not items:
            continue
        lines.append(f"  {KIND_TITLES[kind]} ({len(items)}):")
        shown = items if show_all else items[:SHOWN]
        for item in shown:
            lines.append(f"    - {item.detail}")
            lines.append(f"      why: {item.reason}")
        if len(items) > len(shown):
            lines.append(f"    ... and {len(items) - len(shown)} more")
    if report.skipped:
        lines.append(f"  Not orphans, skipped ({len(report.skipped)}):")
        lines += [f"    - {s.kind.value} {s.id}: {s.reason}" for s in report.skipped]
    return lines


def run(args: argparse.Namespace) -> int:
    sources = default_sources(Path.home())
    _snapshot, report = scan(sources)
    cleanable = [o for o in report.orphans if o.kind is not OrphanKind.INHERITED]
    if not args.json:
        print("\n".join(report_lines(report, args.all)))
    if not args.clean:
        if args.json:
            print_json(_document(report))
        else:
            print("\n[Dry run] No changes made.")
        return 0
    if not cleanable:
        if args.json:
            print_json(_document(report) | {"cleaned": True, "results": []})
        else:
            print("\nNothing to clean.")
        return 0
    if not args.yes:
        answer = _ask("\nClean up orphaned resources? [y/N]: ")
        if answer not in ("y", "Y"):
            print("Cancelled.", file=sys.stderr if args.json else sys.stdout)
            return 0
    return _clean(args, cleanable, report, sources)


def _ask(prompt: str) -> str:
    sys.stdout.write(prompt)
    sys.stdout.flush()
    return sys.stdin.readline().strip()


def _document(report: OrphanReport) -> dict[str, object]:
    return {
        "orphans": [record(o) for o in report.orphans if o.kind is not OrphanKind.INHERITED],
        "inherited": [record(o) for o in report.orphans if o.kind is OrphanKind.INHERITED],
        "skipped": [{"kind": s.kind.value, "id": s.id, "reason": s.reason}
                    for s in report.skipped],
        "errors": dict(report.errors),
        "not_checked": list(report.notes),
    }


def _clean(args: argparse.Namespace, items: Sequence[Orphan], report: OrphanReport,
           sources: Any) -> int:
    results: list[dict[str, object]] = []
    finished: list[JobFinished] = []

    def on_event(event: EngineEvent) -> None:
        if isinstance(event, JobFinished):
            finished.append(event)
        elif isinstance(event, Notice):
            print(f"coi-tui: {event.text}", file=sys.stderr, flush=True)
        elif isinstance(event, StepDone):
            row = {"index": event.index, "total": event.total, "step": event.step.label(),
                   "ok": event.ok, "detail": event.detail}
            results.append(row)
            if not args.json:
                print("  [{index}/{total}] {mark} {step}  ({detail})".format(
                    **row, mark="ok  " if event.ok else "FAIL"), flush=True)

    scope = Scope.from_args(args)
    engine = FirewallEngine(lambda: open_coi_firewall(scope), on_event, AuditLog()).start()
    engine.submit(clean_job(items, sources))
    try:
        engine.wait_idle()
    finally:
        engine.stop()
    (result,) = finished
    skipped = sum(1 for r in results if str(r["detail"]).startswith("skipped:"))
    done = sum(1 for r in results if r["ok"]) - skipped
    if args.json:
        print_json(_document(report) | {"cleaned": result.ok, "results": results,
                                        "error": result.error,
                                        "verify_diff": list(result.verify_diff)})
    elif result.ok:
        print(f"\n✓ Cleaned {done} item(s)" + (f", {skipped} skipped" if skipped else ""))
    if not result.ok:
        detail = "; ".join(result.verify_diff) or result.error or "cancelled"
        print(f"coi-tui: cleaning failed: {detail}", file=sys.stderr)
        return 1
    return 0
