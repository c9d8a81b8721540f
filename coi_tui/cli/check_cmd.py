"""`coi-tui check`: is everything COI's isolation needs in place, and how to fix what is not."""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from coi_tui.backends.firewalld import open_firewall
from coi_tui.cli.output import print_json
from coi_tui.services.checks import Check, run_checks
from coi_tui.wiring import Scope, open_containers


def register(sub: Any) -> None:
    parser = sub.add_parser("check", help="check firewalld, access, Incus, bridge zone, masquerade")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    checks = run_checks(open_firewall, partial(open_containers, scope))
    if args.json:
        print_json({"checks": [c.as_dict() for c in checks], "ok": all_ok(checks)})
    else:
        for c in checks:
            print(f"[{c.level.upper():4}] {c.name}: {c.summary}")
            if c.fix:
                print(f"       fix: {c.fix}")
    return 0 if all_ok(checks) else 1


def all_ok(checks: list[Check]) -> bool:
    return all(c.level != "fail" for c in checks)
