"""Apply the allowlist rule sets of 20 containers: the firewall engine (D-Bus) vs COI's way,
one `firewall-cmd --direct --add-rule` process per rule, side by side on the same firewalld.

Run as root with the lab up:  .venv/bin/python bench/apply_allowlist.py [N]
Uses N source addresses in the lab's 10.147.0.0/24 (rules only, no traffic); cleans up.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.eras.firewalld.planner import plan_many, plan_transition
from coi_tui.eras.firewalld.policy import BASE_RULE, desired_rules
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Mode, NetworkSettings
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import Built, FirewallEngine, Job, JobFinished

GATEWAY = "10.147.0.1"
SETTINGS = NetworkSettings(allowed_domains=("203.0.113.10", "203.0.113.20"))


def rule_sets(n: int) -> list[tuple[str, tuple[DirectRule, ...]]]:
    return [
        (ip, desired_rules(ip, Mode.ALLOWLIST, SETTINGS, GATEWAY, SETTINGS.allowed_domains))
        for ip in (f"10.147.0.{10 + i}" for i in range(n))
    ]


def clean(sets: list[tuple[str, tuple[DirectRule, ...]]]) -> None:
    firewall = DBusFirewall()
    for _ip, rules in sets:
        for rule in rules:
            firewall.remove_rule(rule)
    firewall.close()


def by_engine(sets: list[tuple[str, tuple[DirectRule, ...]]]) -> float:
    finished: list[JobFinished] = []
    plan = plan_many(plan_transition((), rules, container=ip, present=(BASE_RULE,))
                  for ip, rules in sets)

    def build(_firewall: object) -> Built:
        return plan, None

    with tempfile.TemporaryDirectory() as tmp:
        engine = FirewallEngine(
            DBusFirewall, lambda e: finished.append(e) if isinstance(e, JobFinished) else None,
            AuditLog(Path(tmp) / "audit.jsonl"),
        ).start()
        start = time.perf_counter()
        engine.submit(Job("bench", build))
        engine.wait_idle()
        took = time.perf_counter() - start
        engine.stop()
    assert finished and finished[0].ok, finished
    return took


def by_firewall_cmd(sets: list[tuple[str, tuple[DirectRule, ...]]]) -> float:
    start = time.perf_counter()
    for _ip, rules in sets:
        for rule in rules:
            subprocess.run(["firewall-cmd", "--direct", "--add-rule", *rule.cli_args()],
                           check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    sets = rule_sets(n)
    rules = sum(len(r) for _, r in sets)
    clean(sets)
    engine = by_engine(sets)
    clean(sets)
    coi = by_firewall_cmd(sets)
    clean(sets)
    print(f"allowlist sets of {n} containers, {rules} rules, same firewalld, one run:")
    print(f"  firewall engine (D-Bus, verified):   {engine:8.3f} s")
    print(f"  firewall-cmd per rule (COI's way):   {coi:8.3f} s")
    print(f"  ratio: {coi / engine:.1f}x faster (target >= 30x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
