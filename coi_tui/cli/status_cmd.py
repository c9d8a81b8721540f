"""`coi-tui status`: the containers, their IPs, veths, modes and rule counts."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.cli.output import print_json, print_table
from coi_tui.errors import BackendUnavailable
from coi_tui.models import ContainerState, Inventory, Isolation
from coi_tui.services.checks import IPV6_FIX
from coi_tui.wiring import Scope, inventory_source, view_settings, with_backstop


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
        "exposed": state.exposed,
        "isolation": state.isolation.value if state.isolation else None,
        "reason": state.reason,
        "ipv6": c.ipv6.value,
        "ipv6_dropped": state.ipv6_dropped,
        "ipv6_bypass": state.ipv6_bypass,
    }


def load_inventory(args: argparse.Namespace, need: tuple[str, ...]) -> Inventory:
    """A snapshot; a backend in `need` that is down is an error (exit 1, one line). A config
    that cannot be read is a warning: the snapshot uses COI's built-in defaults."""
    scope = Scope.from_args(args)
    source = inventory_source(scope, view_settings(args))
    try:
        inventory = with_backstop(scope, source.snapshot())
    finally:
        source.close()
    for status in inventory.backends:
        if (status.name in need or (status.firewall and "firewall" in need)) and not status.ok:
            raise BackendUnavailable(status.detail)
    return inventory


def flag(state: ContainerState) -> str:
    """The one word a person scans for: EXPOSED, UNKNOWN, HELD, DRIFT (or nothing)."""
    if state.isolation in (Isolation.EXPOSED, Isolation.UNKNOWN, Isolation.HELD, Isolation.DRIFT):
        return state.isolation.value.upper()
    return ""


def run(args: argparse.Namespace) -> int:
    """Exit 1 when isolation is not in force (or cannot be vouched for), 0 otherwise."""
    inventory = load_inventory(args, need=("incus",))
    records = [container_record(s) for s in inventory.containers]
    down = [b for b in inventory.backends if not b.ok]
    if args.json:
        print_json(
            {
                "containers": records,
                "exposed": bool(inventory.exposed) or inventory.firewall_down,
                "in_force": inventory.in_force,
                "backends": {b.name: {"ok": b.ok, "detail": b.detail, "down": b.down}
                             for b in inventory.backends},
            }
        )
    else:
        headers = ["name", "project", "status", "ipv4", "veth", "mode", "source", "rules",
                   "isolation", "why"]
        rows = [
            [
                c.name,
                c.project,
                c.status,
                c.ipv4,
                c.veth,
                state.mode.value if state.mode else ("UNPROTECTED" if state.unprotected else None),
                state.mode_source.value,
                len(state.rules),
                flag(state) or (state.isolation.value if state.isolation else ""),
                state.reason if flag(state) else "",
            ]
            for state in inventory.containers
            for c in (state.container,)
        ]
        print_table(headers, rows)
        for b in down:
            print(f"warning: {b.name}: {b.detail}")
        if inventory.exposed:
            names = ", ".join(s.container.name for s in inventory.exposed)
            print(f"EXPOSED: isolation not in force for {names}")
        bypass = [s.container.name for s in inventory.containers if s.ipv6_bypass]
        if bypass:
            print(f"IPv6!: routed IPv6 passes every IPv4 rule of {', '.join(bypass)} "
                  f"(fix: {IPV6_FIX} {' '.join(bypass)})")
    return 0 if inventory.in_force else 1
