"""One plan model in COI's nft era, against the real lab: the preview lists every line of the
transaction that runs (text, JSON, the TUI's review), the audit records each line with its real
action, and a plan whose state moved after the review is refused."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from coi_tui.changes import job_for
from coi_tui.models import Mode, NetworkSettings
from coi_tui.plans import review_lines
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.wiring import Scope, change_planner, open_coi_firewall
from tests import lab_support as lab
from tests.nft_era.test_nft_era import coi_home as coi_home  # autouse: a HOME of its own
from tests.nft_era.test_nft_era import coi_tui, lines_of, nft
from tests.nft_era.test_nft_era import first as first  # coi-lab-1 without rules, before and after
from tests.waiting import wait_until

pytestmark = pytest.mark.lab


def restricted_lines() -> int:
    """COI's 6 forward rules and its IPv6 drop, and the shared coi-base rule when missing."""
    return 7 if 'comment "coi-base"' in nft("list", "chain", "ip", "coi", "forward") else 8


def dry_run(name: str, mode: str, *extra: str) -> tuple[list[str], dict[str, object]]:
    text = coi_tui("apply", name, "--mode", mode, "--dry-run", *extra)
    data = coi_tui("apply", name, "--mode", mode, "--dry-run", "--json", *extra)
    assert text.returncode == 0 == data.returncode, text.stderr + data.stderr
    return text.stdout.splitlines(), json.loads(data.stdout)


def test_dry_run_lists_every_line_of_the_transaction_that_then_runs(
        first: tuple[str, str, str]) -> None:
    name, ip, _veth = first
    text, data = dry_run(name, "restricted")
    n = restricted_lines()
    assert text[0] == (f"plan: restricted for {name} (one transaction, {n} lines: "
                       f"{n} to add, 0 to remove, all or nothing)")
    steps = data["steps"]
    assert isinstance(steps, list)
    (step,) = steps
    planned = [line["text"] for line in step["lines"]]
    assert [line.strip() for line in text[1:]] == [f"+ {line}" for line in planned]
    assert {line["action"] for line in step["lines"]} == {"add"}
    assert coi_tui("apply", name, "--mode", "restricted").returncode == 0
    # what was previewed is what runs: every previewed rule is in the chain, nothing else
    listed = [re.sub(r'iifname "([^"]+)"', r"iifname \1", line)  # nft lists names quoted
              for line in lines_of(ip) + lines_of(name, family="ip6")]
    rules = [p.split(" coi forward ", 1)[1].replace("/32 ", " ") for p in planned
             if 'comment "coi-base"' not in p]  # shared, not the container's
    assert sorted(rules) == sorted(listed)


def test_the_audit_records_each_line_of_a_switch_with_its_real_action(
        first: tuple[str, str, str], coi_home: Path) -> None:
    name, _ip, _veth = first
    assert coi_tui("apply", name, "--mode", "restricted").returncode == 0
    _, data = dry_run(name, "allowlist", "--allow", lab.INTERNET_HOST)
    steps = data["steps"]
    assert isinstance(steps, list)
    (step,) = steps
    planned = [(line["action"], line["text"]) for line in step["lines"]]
    assert {a for a, _ in planned} == {"add", "delete"}
    audit = AuditLog(coi_home / ".coi" / "logs" / "coi-tui-audit.jsonl")
    before = len(audit.read())
    assert coi_tui("apply", name, "--mode", "allowlist", "--allow",
                   lab.INTERNET_HOST).returncode == 0
    lines = audit.read()[before:]
    assert [(r["action"], r["what"]) for r in lines] == planned
    assert all(r["ok"] and r["container"] == name and r["lines"] == len(planned)
               and r["title"] == f"allowlist for {name}" for r in lines)
    assert [r["action"] for r in lines if r["what"].startswith("delete rule")] == \
        ["delete"] * 6  # the old restricted rules: deleted by handle, not "removed"


def test_a_plan_whose_rules_moved_after_the_review_is_refused(
        first: tuple[str, str, str], tmp_path: Path) -> None:
    name, ip, _veth = first
    scope = Scope(era="nft")
    planner = change_planner(scope, NetworkSettings())
    firewall = open_coi_firewall(scope)
    reviewed = planner.apply([name], Mode.RESTRICTED, firewall.list_rules())
    assert len(reviewed.plan.lines()) == restricted_lines()
    # meanwhile someone else (COI, another tool) gives the container a rule
    nft("-f", "-", stdin=f'add rule ip coi forward ip saddr {ip} ip daddr 192.168.77.2 accept '
                        f'comment "coi-{ip}"\n')
    events: list[EngineEvent] = []
    engine = FirewallEngine(lambda: open_coi_firewall(scope), events.append,
                            AuditLog(tmp_path / "audit.jsonl")).start()
    try:
        engine.submit(job_for(reviewed, planner.containers,
                              lambda fw: planner.apply([name], Mode.RESTRICTED, fw.list_rules())))
        assert engine.wait_idle(30)
    finally:
        engine.stop()
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok and "review again" in finished.error
    # nothing of the reviewed plan ran: the hand-made rule is the container's only rule
    assert lines_of(ip) == [f'ip saddr {ip} ip daddr 192.168.77.2 accept comment "coi-{ip}"']


async def test_the_tui_review_lists_every_line_of_the_transaction(
        first: tuple[str, str, str]) -> None:
    name, _ip, _veth = first
    app = CoiApp(real_wiring(Scope(era="nft"), NetworkSettings()), poll_interval=2.0)
    async with app.run_test(size=(120, 40)) as pilot:
        view = app.query_one(ContainersView)
        key = f"default/{name}"
        await wait_until(lambda: key in view.table.rows, timeout=10)
        view.table.move_cursor(row=view.table.get_row_index(key))
        await pilot.press("m", "r")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=10)
        review = app.screen
        assert isinstance(review, PlanReview)
        summary = str(review.query_one("#plan-summary").render())
        n = restricted_lines()
        assert summary == f"one transaction, {n} lines: {n} to add, 0 to remove, all or nothing"
        shown = [str(w.render()) for w in review.query("#plan-steps Static")]
        assert shown == review_lines(review.plan)
        assert len(shown) == n and all(line.startswith("+ add rule ip") for line in shown)
        await pilot.press("n")
