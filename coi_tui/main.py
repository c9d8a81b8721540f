"""`coi-tui` entry point, above the CLI and the UI: the TUI with no subcommand, the headless
commands otherwise.

Each subcommand lives in its own module of `cli/` with `register(subparsers)`, which sets `func`.
Exit status: 0 done, 1 a step or check failed, 2 bad usage or bad config.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from coi_tui.errors import CoiTuiError

SUBCOMMANDS = ("status", "rules", "check", "apply", "remove", "config", "dns", "watch",
               "orphans", "flows", "ipv6", "allow", "traffic")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"coi-tui: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="coi-tui", description="See and steer COI's network isolation.")
    parser.add_argument("--config", metavar="PATH", help="COI config file to edit")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--project", metavar="P", help="only this Incus project")
    scope.add_argument("--all-projects", action="store_true", help="every Incus project")
    parser.add_argument("--read-only", action="store_true", help="never change anything")
    parser.add_argument("--era", choices=("firewalld", "nft"),
                        help="COI's era on this host (default: detected; env COI_TUI_ERA)")
    parser.add_argument("--no-mouse", action="store_true", help="leave the mouse to the terminal")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"coi_tui.cli.{name}_cmd")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            from coi_tui.ui.run import run_tui  # Textual is imported only for the TUI

            return run_tui(args)
        code: int = args.func(args)
        return code
    except CoiTuiError as error:
        print(f"coi-tui: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
