"""Operations as plan steps (OpStep) beside rule steps: run in order, counted in the total, reported
and audited one by one, re-checked before they run (skipped with the reason), verified with
`gone()`, a failure stops the rest, cancellation between items."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from coi_tui.eras.firewalld.rules import DirectRule, Step, StepAction
from coi_tui.errors import CoiTuiError
from coi_tui.plans import OpStep, Plan
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import (
    Built,
    EngineEvent,
    FirewallEngine,
    Job,
    JobFinished,
    JobStarted,
    StepDone,
)
from tests.unit.fakes import FakeFirewall

RULE = DirectRule("ipv4", "filter", "FORWARD", 10, ("-s", "10.147.0.99", "-j", "REJECT"))


@dataclass
class FakeOp:
    name: str
    applies: bool = True
    fail: bool = False
    forgetful: bool = False  # says done, leaves it there
    log: list[str] = field(default_factory=list)
    gate: threading.Event | None = None
    entered: threading.Event = field(default_factory=threading.Event)
    done: bool = False

    def __str__(self) -> str:
        return f"delete {self.name}"

    @property
    def skip_reason(self) -> str:
        return f"{self.name} came back"

    def still_applies(self) -> bool:
        return self.applies

    def run(self) -> str:
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(5)
        self.log.append(self.name)
        if self.fail:
            raise CoiTuiError(f"could not delete {self.name}")
        self.done = not self.forgetful
        return "deleted"

    def gone(self) -> bool:
        return self.done


def run(plan: Plan, tmp_path: Path, firewall: FakeFirewall | None = None,
        during: object = None) -> tuple[list[EngineEvent], list[dict[str, object]]]:
    events: list[EngineEvent] = []
    fw = firewall or FakeFirewall([RULE])
    engine = FirewallEngine(lambda: fw, events.append, AuditLog(tmp_path / "a.jsonl")).start()

    def build(_fw: object) -> Built:
        return plan, None

    engine.submit(Job("clean", build, kind="orphans"))
    if callable(during):
        during(engine)
    assert engine.wait_idle(10)
    engine.stop()
    return events, AuditLog(tmp_path / "a.jsonl").read()


def test_ops_run_after_rule_steps_counted_reported_and_audited(tmp_path: Path) -> None:
    firewall = FakeFirewall([RULE])
    a, b = FakeOp("a"), FakeOp("b", applies=False)
    plan = Plan((Step(StepAction.REMOVE, RULE, "(was 10.147.0.99)"),
                 OpStep(a, "veth", "no master"), OpStep(b, "cache-file", "dead")), "clean")
    events, audit = run(plan, tmp_path, firewall)
    (started,) = [e for e in events if isinstance(e, JobStarted)]
    assert started.total == 3 == len(plan)
    steps = [e for e in events if isinstance(e, StepDone)]
    assert [(s.index, s.total, str(s.step), s.detail) for s in steps] == [
        (1, 3, f"- {RULE}", "removed"),
        (2, 3, "delete a", "deleted"),
        (3, 3, "delete b", "skipped: b came back"),
    ]
    assert firewall.rules == [] and a.log == ["a"] and b.log == []
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert finished.ok and finished.verify_diff == ()
    assert [(line["action"], line["what"], line["container"]) for line in audit] == [
        ("remove", str(RULE), "(was 10.147.0.99)"),
        ("remove", "delete a", "veth"),
        ("remove", "delete b", "cache-file"),
    ]


def test_a_failed_op_stops_the_rest_and_is_reported(tmp_path: Path) -> None:
    a, b, c = FakeOp("a"), FakeOp("b", fail=True), FakeOp("c")
    events, audit = run(Plan(tuple(OpStep(o) for o in (a, b, c)), "clean"), tmp_path)
    assert (a.log, b.log, c.log) == (["a"], ["b"], [])
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok and finished.error == "could not delete b"
    assert [line["ok"] for line in audit] == [True, False]


def test_verification_names_an_op_whose_target_is_still_there(tmp_path: Path) -> None:
    events, _ = run(Plan((OpStep(FakeOp("a", forgetful=True)),), "clean"), tmp_path)
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok
    assert finished.verify_diff == ("still present after removal: delete a",)


def test_cancel_stops_between_ops_never_inside_one(tmp_path: Path) -> None:
    gate = threading.Event()
    a, b = FakeOp("a", gate=gate), FakeOp("b")

    def cancel_mid_op(engine: FirewallEngine) -> None:
        assert a.entered.wait(5)
        engine.cancel()
        gate.set()

    events, _ = run(Plan((OpStep(a), OpStep(b)), "clean"), tmp_path, during=cancel_mid_op)
    assert (a.log, b.log) == (["a"], [])
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert finished.cancelled


def test_an_ops_only_plan_is_not_empty_and_needs_no_rule_listing(tmp_path: Path) -> None:
    class NoListing(FakeFirewall):
        def list_rules(self) -> list[DirectRule]:
            raise AssertionError("an ops-only plan verifies with gone(), not firewalld")

    plan = Plan((OpStep(FakeOp("a")),), "clean")
    assert not plan.empty and len(plan) == 1
    events, _ = run(plan, tmp_path, NoListing())
    assert next(e for e in events if isinstance(e, JobFinished)).ok
