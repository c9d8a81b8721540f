"""`coi-tui check`: is everything COI's isolation needs in place, and how to fix what is not."""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

from coi_tui.cli.output import print_json
from coi_tui.eras.firewalld.access import open_firewall
from coi_tui.services.checks import Check, run_checks, run_nft_checks
from coi_tui.wiring import Scope, host_era, open_coi_firewall, open_containers


def register(sub: Any) -> None:
    parser = sub.add_parser("check", help="COI's era and why; firewalld or nft access, Incus, "
                                "bridge zone, masquerade, flow cutting")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    choice = host_era(scope.era)
    era = Check("era", "warn" if choice.both else "ok", f"{choice.era}: {choice.reason}")
    containers = partial(open_containers, scope)
    if choice.era == "nft":
        checks = [era, *run_nft_checks(open_coi_firewall(scope), containers)]
    else:
        checks = [era, *run_checks(open_firewall, containers)]
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
