"""`coi-tui rules [NAME]`: every COI rule (firewalld direct rules, or nft rules and sets) with
the container that owns it, and its packet/byte counters where the kernel keeps them (the
firewalld era's direct rules; COI's nft rules carry none)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from coi_tui.cli.output import print_json, print_table
from coi_tui.cli.status_cmd import load_inventory
from coi_tui.eras.firewalld.counters import RuleCounter, RuleCounterReader
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Inventory


def register(sub: Any) -> None:
    parser = sub.add_parser("rules", help="list direct rules with their owner container")
    parser.add_argument("name", nargs="?", metavar="NAME", help="only this container's rules")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(func=run)


def rule_record(rule: CoiRule, inventory: Inventory,
                counts: Mapping[CoiRule, RuleCounter] | None = None) -> dict[str, object]:
    owner = inventory.owner_of(rule)
    counter = (counts or {}).get(rule)
    return {
        "ipv": rule.ipv,
        "table": rule.table,
        "chain": rule.chain,
        "priority": rule.priority,
        "args": list(rule.args),
        "owner": owner.split("/", 1)[1] if owner else None,
        "owner_project": owner.split("/", 1)[0] if owner else None,
        # A rule for one host that no known container has: left behind by a gone container.
        "orphan": owner is None and rule.source_ip() is not None,
        # the kernel's counters since the rule was (re-)added; None: not kept or not readable
        "packets": counter.packets if counter else None,
        "bytes": counter.bytes if counter else None,
    }


def run(args: argparse.Namespace) -> int:
    # A rule is an orphan only if no instance in *any* project has its address (COI looks at
    # one project and deletes the rules of containers in the others).
    if not args.project:
        args.all_projects = True
    inventory = load_inventory(args, need=("firewall",))
    rules = sorted(inventory.rules, key=lambda r: (r.ipv, r.table, r.chain, r.priority, r.args))
    if args.name:
        if not any(s.container.name == args.name for s in inventory.containers):
            raise BadInput(f"no container {args.name} (coi-tui status lists them)")
        rules = [r for r in rules if (inventory.owner_of(r) or "").split("/", 1)[-1]
                 == args.name]
    reading = RuleCounterReader()(rules)
    if reading.problem:
        print(f"warning: {reading.problem}", file=sys.stderr)
    records = [rule_record(r, inventory, reading.counts) for r in rules]
    if args.json:
        print_json({"rules": records})
        return 0
    print_table(
        ["prio", "owner", "rule", "orphan", "hits"],
        [
            [r["priority"], r["owner"], str(rule), "ORPHAN" if r["orphan"] else "", r["packets"]]
            for r, rule in zip(records, rules, strict=True)
        ],
    )
    return 0
