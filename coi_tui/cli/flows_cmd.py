"""`coi-tui flows NAME`: the container's tracked connections (conntrack), capped."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from coi_tui.backends.conntrack import accounting, enable_accounting
from coi_tui.cli.output import print_json, print_table
from coi_tui.errors import BadInput
from coi_tui.models import Container
from coi_tui.services.traffic.flows import (
    ACCOUNTING_NOTE,
    FLOW_LIMIT,
    FlowReader,
    short_count,
    short_duration,
)
from coi_tui.wiring import Scope, open_containers


def register(sub: Any) -> None:
    parser = sub.add_parser("flows", help="a container's tracked connections (conntrack)")
    parser.add_argument("name", metavar="NAME", help="container")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--limit", type=int, default=FLOW_LIMIT, metavar="N",
                        help=f"show at most N flows (default {FLOW_LIMIT}); the rest are counted")
    parser.add_argument("--accounting", action="store_true",
                        help="first switch on the kernel's flow accounting, for bytes per flow "
                             "(HOST-WIDE: every new flow on this host is counted from then on)")
    parser.set_defaults(func=run)


def find_container(args: argparse.Namespace, name: str) -> Container:
    backend = open_containers(Scope.from_args(args))
    try:
        found = [c for c in backend.list_containers() if c.name == name]
    finally:
        backend.close()
    if not found:
        raise BadInput(f"no container {name} (coi-tui status lists them)")
    return found[0]


def switch_on_accounting(read_only: bool) -> None:
    if accounting():
        print("flow accounting was already on (host-wide)", file=sys.stderr)
        return
    if read_only:
        raise BadInput("--accounting changes a host-wide setting: not with --read-only")
    enable_accounting()
    print("flow accounting switched on HOST-WIDE (net.netfilter.nf_conntrack_acct=1): flows "
          "that start from now on have byte counts; sysctl -w "
          "net.netfilter.nf_conntrack_acct=0 switches it off", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise BadInput("--limit takes a number of flows, 1 or more")
    container = find_container(args, args.name)
    if args.accounting:
        switch_on_accounting(args.read_only)
    report = FlowReader(limit=args.limit)(container)
    if args.json:
        print_json(report.record())
    elif report.flows:
        print_table(
            ["proto", "destination", "name", "port", "state", "sent", "received", "expires"],
            [[f.protocol, f.destination, f.name, f.port, f.state, short_count(f.sent_bytes),
              short_count(f.received_bytes), short_duration(f.timeout)]
             for f in report.flows])
        if report.more:
            print(f"{report.more} more flows not shown (--limit)")
        if report.accounting is False:
            print(ACCOUNTING_NOTE)
    elif not report.problem:
        print(f"no tracked flows of {container.name} ({container.ipv4})")
    if report.problem:
        print(f"coi-tui: {report.problem}", file=sys.stderr)
        return 1
    return 0
