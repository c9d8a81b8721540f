"""The one plan model in COI's firewalld era, against the real lab: the preview lists every
direct rule in the fail-closed order, and a plan whose rules moved after the review is
refused, with nothing run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.changes import ChangePlanner, job_for
from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Mode
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished
from tests import lab_support as lab
from tests.integration.test_engine_traffic import ALLOW_ONE, bare, coi_tui, rules_of

pytestmark = pytest.mark.lab


@pytest.fixture
def first() -> Iterator[tuple[str, str]]:
    with bare(lab.CONTAINERS[0]) as container:
        yield container


def test_dry_run_lists_every_rule_in_fail_closed_order(first: tuple[str, str]) -> None:
    name, ip = first
    text = coi_tui("apply", name, "--mode", "restricted", "--dry-run").stdout.splitlines()
    data = json.loads(coi_tui("apply", name, "--mode", "restricted", "--dry-run",
                              "--json").stdout)
    assert text[0].startswith(f"plan: restricted for {name} (")
    assert "in fail-closed order" in text[0]
    lines = [line for step in data["steps"] for line in step["lines"]]
    assert [line.strip() for line in text[1:]] == [f"+ {line['text']}" for line in lines]
    assert len(data["steps"]) == len(lines)  # one direct rule per step
    assert all(f"-s {ip}" in line["text"] for line in lines if line["container"] == name)


def test_a_plan_whose_rules_moved_after_the_review_is_refused(first: tuple[str, str],
                                                              tmp_path: Path) -> None:
    name, ip = first
    planner = ChangePlanner(IncusBackend(), ALLOW_ONE, era=FirewalldEra())
    firewall = DBusFirewall()
    try:
        reviewed = planner.apply([name], Mode.RESTRICTED, firewall.list_rules())
        # meanwhile someone else gives the container a rule the review did not see
        stray = DirectRule("ipv4", "filter", "FORWARD", 0,
                           ("-s", ip, "-d", lab.LAN_HOST, "-j", "ACCEPT"))
        assert firewall.add_rule(stray)
    finally:
        firewall.close()
    events: list[EngineEvent] = []
    engine = FirewallEngine(DBusFirewall, events.append, AuditLog(tmp_path / "a.jsonl")).start()
    try:
        engine.submit(job_for(reviewed, planner.containers,
                              lambda fw: planner.apply([name], Mode.RESTRICTED,
                                                       fw.list_rules())))
        assert engine.wait_idle(30)
    finally:
        engine.stop()
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok and "review again" in finished.error
    assert rules_of(ip) == {stray}  # nothing of the reviewed plan ran
