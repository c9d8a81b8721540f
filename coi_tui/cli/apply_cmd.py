"""`coi-tui apply NAME... --mode M` and `coi-tui apply --all`: COI's rules, fail-closed."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.changes import parse_mode
from coi_tui.cli.changes_run import run_change
from coi_tui.errors import BadInput


def register(sub: Any) -> None:
    parser = sub.add_parser("apply", help="apply a network mode (or re-apply drifted rules)")
    parser.add_argument("names", nargs="*", metavar="NAME", help="containers")
    parser.add_argument("--mode", help="open, restricted or allowlist")
    parser.add_argument("--all", action="store_true", help="re-apply wherever rules drifted")
    parser.add_argument(
        "--allow",
        action="append",
        metavar="DOMAIN_OR_IP",
        help="allowlist entry for this run instead of network.allowed_domains (repeatable)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the exact plan only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.all:
        if args.names or args.mode:
            raise BadInput("apply --all takes no names and no --mode")
        return run_change(args, lambda planner, fw: planner.reapply(fw.list_rules()))
    if not args.names:
        raise BadInput("apply needs container names (or --all)")
    if not args.mode:
        raise BadInput("apply needs --mode open|restricted|allowlist")
    mode = parse_mode(args.mode)
    return run_change(args, lambda planner, fw: planner.apply(args.names, mode, fw.list_rules()))
