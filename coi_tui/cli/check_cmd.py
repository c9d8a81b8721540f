"""`coi-tui check`: is everything COI's isolation needs in place, and how to fix what is not."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.cli.output import print_json
from coi_tui.cli.status_cmd import load_inventory
from coi_tui.services.checks import Check, ipv6_checks
from coi_tui.wiring import Scope, host_checks


def register(sub: Any) -> None:
    parser = sub.add_parser("check", help="COI's era and why; firewalld or nft access, Incus, "
                                "bridge zone, masquerade, flow cutting, IPv6")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    checks = [*host_checks(Scope.from_args(args)),
              *ipv6_checks(load_inventory(args, need=()))]
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
