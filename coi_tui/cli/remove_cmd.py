"""`coi-tui remove NAME...`: take a container's rules out (exactly its own, never a neighbour's)."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.cli.changes_run import run_change


def register(sub: Any) -> None:
    parser = sub.add_parser("remove", help="remove the rules of containers")
    parser.add_argument("names", nargs="+", metavar="NAME", help="containers")
    parser.add_argument("--dry-run", action="store_true", help="print the exact plan only")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_change(args, lambda planner, fw: planner.remove(args.names, fw.list_rules()))
