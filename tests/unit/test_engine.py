"""The worker's own logic (steps, cancel, failure, verification, audit) on an in-memory firewall.
Its behaviour against the real firewalld is shown in tests/integration/test_engine_traffic.py."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from coi_tui.eras.firewalld.rules import DirectRule, Step, StepAction
from coi_tui.errors import FirewallError
from coi_tui.plans import Plan
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import Built, EngineEvent, FirewallEngine, Job, JobFinished, StepDone
from tests.unit.fakes import FakeFirewall


def rule(n: int) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", 10, ("-s", "10.147.0.5", "-d", f"192.0.2.{n}",
                                                       "-j", "REJECT"))


def adds(*numbers: int) -> Plan:
    return Plan(tuple(Step(StepAction.ADD, rule(n), "c") for n in numbers), "test")


class GatedFirewall(FakeFirewall):
    """Blocks inside the first add until released: a step that is under way."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def add_rule(self, r: DirectRule) -> bool:
        if not self.entered.is_set():
            self.entered.set()
            self.release.wait(5)
        return super().add_rule(r)


class RefusingFirewall(FakeFirewall):
    def add_rule(self, r: DirectRule) -> bool:
        if r == rule(2):
            raise FirewallError("firewalld refused to add rule: COMMAND_FAILED")
        return super().add_rule(r)


class ForgetfulFirewall(FakeFirewall):
    """Says yes, keeps nothing: only the verification can notice."""

    def add_rule(self, r: DirectRule) -> bool:
        return True


def run(firewall: FakeFirewall, plan: Plan, tmp_path: Path,
        between: Callable[[FirewallEngine], None] | None = None,
        ) -> tuple[list[EngineEvent], FirewallEngine]:
    events: list[EngineEvent] = []
    engine = FirewallEngine(lambda: firewall, events.append, AuditLog(tmp_path / "a.jsonl"))
    engine.start()

    def build(_fw: object) -> Built:
        return plan, None

    engine.submit(Job("test", build))
    if between is not None:
        between(engine)
    assert engine.wait_idle(10)
    engine.stop()
    return events, engine


def test_cancel_stops_between_steps_never_inside_one(tmp_path: Path) -> None:
    firewall = GatedFirewall()

    def cancel_mid_step(engine: FirewallEngine) -> None:
        assert firewall.entered.wait(5)
        engine.cancel()
        firewall.release.set()

    events, _ = run(firewall, adds(1, 2, 3), tmp_path, cancel_mid_step)
    assert firewall.rules == [rule(1)]  # the step under way finished, nothing after it
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert finished.cancelled and not finished.ok


def test_a_failed_step_stops_the_plan_and_is_reported(tmp_path: Path) -> None:
    firewall = RefusingFirewall()
    events, _ = run(firewall, adds(1, 2, 3), tmp_path)
    assert firewall.rules == [rule(1)]
    steps = [e for e in events if isinstance(e, StepDone)]
    assert [(s.index, s.ok) for s in steps] == [(1, True), (2, False)]
    assert "COMMAND_FAILED" in steps[1].detail
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok and "COMMAND_FAILED" in finished.error
    audit = AuditLog(tmp_path / "a.jsonl").read()
    assert [line["ok"] for line in audit] == [True, False]


def test_verification_reports_what_is_not_there_afterwards(tmp_path: Path) -> None:
    events, _ = run(ForgetfulFirewall(), adds(1), tmp_path)
    (finished,) = [e for e in events if isinstance(e, JobFinished)]
    assert not finished.ok
    assert finished.verify_diff == (f"missing after apply: {rule(1)}",)


def test_a_step_already_done_is_a_reported_no_op(tmp_path: Path) -> None:
    firewall = FakeFirewall([rule(1)])
    events, _ = run(firewall, adds(1, 2), tmp_path)
    details = [e.detail for e in events if isinstance(e, StepDone)]
    assert details == ["already present", "added"]
    assert next(e for e in events if isinstance(e, JobFinished)).ok
