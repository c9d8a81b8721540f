"""The firewall worker: one long-lived thread runs every change, one job at a time.

A job builds its plan from fresh state just before it runs (so what runs is what the state
needs now), then runs it step by step: each step re-checks its precondition, a failed step
stops the plan, cancellation happens only between steps. Afterwards the worker re-reads the
rules to verify, runs the job's success hook, and writes one audit line per step. Progress
goes to a callback as frozen events; the UI turns them into messages.

A plan may also carry operations (`Plan.ops`: a link, a zone binding, an nft rule, a file to
remove) that run after its rule steps, one by one, reported, audited and verified the same way.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from coi_tui.backends.base import FirewallBackend
from coi_tui.errors import BackendUnavailable, CoiTuiError
from coi_tui.models import OpStep, Plan, Step, StepAction
from coi_tui.services.audit import AuditLog
from coi_tui.services.hostlock import WRITER, Holder, HostLock
from coi_tui.services.hostlock import Cancelled as LockWaitCancelled


@dataclass(frozen=True)
class JobStarted:
    job_id: int
    title: str
    total: int
    plan: Plan


@dataclass(frozen=True)
class StepDone:
    job_id: int
    index: int  # 1-based
    total: int
    step: Step | OpStep
    ok: bool
    detail: str  # "added", "already present", firewalld's reason, ...


@dataclass(frozen=True)
class JobFinished:
    job_id: int
    title: str
    ok: bool
    cancelled: bool = False
    error: str = ""
    verify_diff: tuple[str, ...] = ()  # steps whose effect is not in firewalld afterwards
    warnings: tuple[str, ...] = ()  # done, but something the user must know (flows not cut)
    kind: str = "change"
    exit_code: int = 1  # for the CLI: 2 when planning refused bad input


@dataclass(frozen=True)
class Notice:
    text: str


EngineEvent = JobStarted | StepDone | JobFinished | Notice
EventSink = Callable[[EngineEvent], None]


# What a job runs, and what to do once it succeeded (e.g. record the mode); that hook returns
# warnings for the user.
Built = tuple[Plan, Callable[[], Sequence[str]] | None]


@dataclass(frozen=True)
class Job:
    title: str
    build: Callable[[FirewallBackend], Built]  # runs on the worker, under the writer lock
    kind: str = "change"
    job_id: int = field(default=0, compare=False)
    on_finished: Callable[[JobFinished], None] | None = field(default=None, compare=False)


class Cancelled(Exception):
    pass


class FirewallEngine:
    def __init__(
        self,
        make_firewall: Callable[[], FirewallBackend],
        on_event: EventSink,
        audit: AuditLog | None = None,
        lock: HostLock | None = None,
    ) -> None:
        self._make_firewall = make_firewall
        # One writer per host: plan, run, verify and record happen while holding it.
        self._host_lock = lock if lock is not None else HostLock(WRITER)
        self._on_event = on_event
        self._audit = audit or AuditLog()
        self._jobs: queue.Queue[Job | None] = queue.Queue()
        self._ids = itertools.count(1)
        self._cancelled: set[int] = set()
        self._running: int | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="firewall-worker", daemon=True)
        self._firewall: FirewallBackend | None = None

    # ---------------------------------------------------------------- API (any thread)
    def start(self) -> FirewallEngine:
        self._thread.start()
        return self

    def submit(self, job: Job) -> int:
        job_id = next(self._ids)
        self._idle.clear()
        self._jobs.put(replace(job, job_id=job_id))
        return job_id

    def cancel(self, job_id: int | None = None) -> None:
        """Cancel a queued or running job (the running one stops between steps)."""
        with self._lock:
            target = job_id if job_id is not None else self._running
            if target is not None:
                self._cancelled.add(target)

    @property
    def busy(self) -> bool:
        return not self._idle.is_set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        self.cancel()
        self._jobs.put(None)
        self._thread.join(timeout)

    # ---------------------------------------------------------------- worker thread
    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                break
            with self._lock:
                self._running = job.job_id
            try:
                self._run_job(job)
            finally:
                with self._lock:
                    self._running = None
                    self._cancelled.discard(job.job_id)
                if self._jobs.empty():
                    self._idle.set()
        if self._firewall is not None:
            self._firewall.close()

    def _firewall_backend(self) -> FirewallBackend:
        if self._firewall is None:
            self._firewall = self._make_firewall()
        return self._firewall

    def _is_cancelled(self, job_id: int) -> bool:
        with self._lock:
            return job_id in self._cancelled

    def _run_job(self, job: Job) -> None:
        def waiting(holder: Holder | None) -> None:
            who = str(holder) if holder else "another coi-tui"
            self.notice(f"{job.title}: waiting for the writer lock, held by {who}")

        try:
            self._host_lock.acquire(waiting, lambda: self._is_cancelled(job.job_id))
        except LockWaitCancelled:
            self._finish(job, ok=False, cancelled=True)
            return
        try:
            self._run_locked(job)
        finally:
            self._host_lock.release()

    def _run_locked(self, job: Job) -> None:
        try:
            firewall = self._firewall_backend()
            plan, on_success = job.build(firewall)
        except CoiTuiError as error:
            if isinstance(error, BackendUnavailable):
                self._drop_firewall()
            self._finish(job, ok=False, error=str(error), exit_code=error.exit_code)
            return
        total = len(plan)
        self._emit(JobStarted(job.job_id, job.title, total, plan))
        try:
            self._run_steps(job, plan, firewall)
            ran = self._run_ops(job, plan, len(plan.steps))
        except Cancelled:
            self._finish(job, ok=False, cancelled=True)
            return
        except CoiTuiError as error:
            self._finish(job, ok=False, error=str(error))
            return
        diff = self._verify(plan, firewall) + self._verify_ops(ran)
        if diff:
            self._finish(job, ok=False, verify_diff=diff, error="verification found differences")
            return
        try:
            warnings = tuple(on_success()) if on_success is not None else ()
        except CoiTuiError as error:
            self._finish(job, ok=False, error=str(error))
            return
        self._finish(job, ok=True, warnings=warnings)

    def _finish(self, job: Job, *, ok: bool, cancelled: bool = False, error: str = "",
                verify_diff: tuple[str, ...] = (), warnings: tuple[str, ...] = (),
                exit_code: int = 1) -> None:
        event = JobFinished(job.job_id, job.title, ok, cancelled, error, verify_diff, warnings,
                            job.kind, exit_code)
        self._emit(event)
        if job.on_finished is not None:
            job.on_finished(event)

    def _run_steps(self, job: Job, plan: Plan, firewall: FirewallBackend) -> None:
        total = len(plan)
        for index, step in enumerate(plan.steps, start=1):
            if self._is_cancelled(job.job_id):
                raise Cancelled
            try:
                detail = self._apply(step, firewall)
            except CoiTuiError as error:
                self._record(job, index, total, step, ok=False, detail=str(error))
                if isinstance(error, BackendUnavailable):
                    self._drop_firewall()
                raise
            self._record(job, index, total, step, ok=True, detail=detail)

    def _run_ops(self, job: Job, plan: Plan, done: int) -> list[OpStep]:
        """The operations after the rule steps; returns those that ran (to verify)."""
        ran = []
        for index, item in enumerate(plan.ops, start=done + 1):
            if self._is_cancelled(job.job_id):
                raise Cancelled
            try:
                if not item.op.still_applies():
                    self._record(job, index, len(plan), item, ok=True,
                                 detail=f"skipped: {item.op.skip_reason}")
                    continue
                detail = item.op.run()
            except CoiTuiError as error:
                self._record(job, index, len(plan), item, ok=False, detail=str(error))
                raise
            ran.append(item)
            self._record(job, index, len(plan), item, ok=True, detail=detail)
        return ran

    @staticmethod
    def _apply(step: Step, firewall: FirewallBackend) -> str:
        # Re-check just before acting: the state may have moved since the plan was shown.
        if step.action is StepAction.ADD:
            return "added" if firewall.add_rule(step.rule) else "already present"
        return "removed" if firewall.remove_rule(step.rule) else "already gone"

    def _record(self, job: Job, index: int, total: int, step: Step | OpStep, *, ok: bool,
                detail: str) -> None:
        what = ({"action": step.action.value, "rule": str(step.rule)} if isinstance(step, Step)
                else {"action": "remove", "op": str(step.op)})
        self._audit.write(
            job=job.job_id, title=job.title, kind=job.kind, step=index, of=total,
            container=step.container, **what, ok=ok, detail=detail,
        )
        self._emit(StepDone(job.job_id, index, total, step, ok, detail))

    @staticmethod
    def _verify(plan: Plan, firewall: FirewallBackend) -> tuple[str, ...]:
        if not plan.steps:
            return ()  # nothing of firewalld's to check (an ops-only plan)
        present = set(firewall.list_rules())
        diff = []
        for step in plan.steps:
            there = step.rule in present
            if step.action is StepAction.ADD and not there:
                diff.append(f"missing after apply: {step.rule}")
            if step.action is StepAction.REMOVE and there:
                diff.append(f"still present after removal: {step.rule}")
        return tuple(diff)

    @staticmethod
    def _verify_ops(ran: Sequence[OpStep]) -> tuple[str, ...]:
        diff = []
        for item in ran:
            try:
                if not item.op.gone():
                    diff.append(f"still present after removal: {item}")
            except CoiTuiError as error:
                diff.append(f"could not verify {item}: {error}")
        return tuple(diff)

    def _drop_firewall(self) -> None:
        if self._firewall is not None:
            self._firewall.close()
        self._firewall = None

    def _emit(self, event: EngineEvent) -> None:
        self._on_event(event)

    def notice(self, text: str) -> None:
        self._emit(Notice(text))
