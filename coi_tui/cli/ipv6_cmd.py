"""`coi-tui ipv6-off NAME... [--dry-run] [--yes]`: the fix for the IPv6 bypass.

A container with a routed IPv6 address passes every IPv4 rule of COI's firewalld era. This
turns its IPv6 off now and across restarts, as one plan: printed first, asked y/N (`--yes`
does not ask), run by the firewall engine under the writer lock and verified.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coi_tui.cli.changes_run import run_change
from coi_tui.errors import BadInput
from coi_tui.keep.ipv6_off import ipv6_off_change
from coi_tui.plans import Plan


def register(sub: Any) -> None:
    parser = sub.add_parser("ipv6-off", help="turn IPv6 off in containers, now and across "
                                             "restarts (the IPv6 bypass)")
    parser.add_argument("names", nargs="+", metavar="NAME", help="containers")
    parser.add_argument("--dry-run", action="store_true", help="print the exact plan only")
    parser.add_argument("--yes", action="store_true", help="do not ask")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def _ask(_plan: Plan) -> bool:
    sys.stdout.write("Turn IPv6 off as planned? [y/N]: ")
    sys.stdout.flush()
    if sys.stdin.readline().strip() in ("y", "Y"):
        return True
    print("Cancelled.")
    return False


def run(args: argparse.Namespace) -> int:
    if args.json and not (args.yes or args.dry_run):
        raise BadInput("ipv6-off --json needs --yes or --dry-run (there is no one to ask)")
    return run_change(args, lambda planner, _fw: ipv6_off_change(planner, args.names),
                      None if args.yes else _ask)
