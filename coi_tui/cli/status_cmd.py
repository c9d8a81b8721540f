"""`coi-tui status`: the containers, their IPs, veths, modes and rule counts."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.cli.output import print_json, print_table
from coi_tui.cli.settings import settings_from_args
from coi_tui.errors import BackendUnavailable
from coi_tui.models import ContainerState, Inventory
from coi_tui.wiring import Scope, inventory_source


def register(sub: Any) -> None:
    parser = sub.add_parser("status", help="list containers with IPs, veths and network modes")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def container_record(state: ContainerState) -> dict[str, object]:
    c = state.container
    return {
        "name": c.name,
        "project": c.project,
        "status": c.status,
        "ipv4": c.ipv4,
        "veth": c.veth,
        "mode": state.mode.value if state.mode else None,
        "mode_source": state.mode_source.value,
        "rules": len(state.rules),
        "expected_rules": None if state.expected_rules is None else len(state.expected_rules),
        "drift": state.drift,
        "unprotected": state.unprotected,
    }


def load_inventory(args: argparse.Namespace, need: tuple[str, ...]) -> Inventory:
    """A snapshot; a backend in `need` that is down is an error (exit 1, one line)."""
    source = inventory_source(Scope.from_args(args), settings_from_args(args))
    try:
        inventory = source.snapshot()
    finally:
        source.close()
    for status in inventory.backends:
        if status.name in need and not status.ok:
            raise BackendUnavailable(status.detail)
    return inventory


def run(args: argparse.Namespace) -> int:
    inventory = load_inventory(args, need=("incus",))
    records = [container_record(s) for s in inventory.containers]
    down = [b for b in inventory.backends if not b.ok]
    if args.json:
        print_json(
            {
                "containers": records,
                "backends": {b.name: {"ok": b.ok, "detail": b.detail} for b in inventory.backends},
            }
        )
    else:
        headers = ["name", "project", "status", "ipv4", "veth", "mode", "source", "rules", "drift"]
        rows = [
            [
                r["name"],
                r["project"],
                r["status"],
                r["ipv4"],
                r["veth"],
                r["mode"] or ("UNPROTECTED" if r["unprotected"] else None),
                r["mode_source"],
                r["rules"],
                "DRIFT" if r["drift"] else "",
            ]
            for r in records
        ]
        print_table(headers, rows)
        for b in down:
            print(f"warning: {b.name}: {b.detail}")
    return 0
