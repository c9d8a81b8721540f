"""The firewall worker: one long-lived thread runs every change, one job at a time.

A job builds its plan from fresh state just before it runs (so what runs is what the state
needs now), then runs it step by step: each step re-checks its precondition, a failed step
stops the plan, cancellation happens only between steps. Afterwards the worker re-reads the
rules to verify, runs the job's success hook, and writes one audit line per step. Progress
goes to a callback as frozen events; the UI turns them into messages.

A plan is one tuple of steps in both eras (plans.py): a firewalld direct rule, one nft
transaction, an orphan's link or file. Each step runs itself and verifies itself; the audit gets
one line per line of a step, with the real action (add, insert, delete, remove).
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

from coi_tui.backends.base import FirewallBackend
from coi_tui.errors import BackendUnavailable, CoiTuiError
from coi_tui.models import CoiRule
from coi_tui.plans import Plan, PlanStep
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.hostlock import WRITER, Holder, HostLock
from coi_tui.runtime.hostlock import Cancelled as LockWaitCancelled


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
    step: PlanStep
    ok: bool
    detail: str  # "added", "already present", firewalld's reason, ...

    def __str__(self) -> str:
        mark = "ok  " if self.ok else "FAIL"
        return f"[{self.index}/{self.total}] {mark} {self.step.label()}  ({self.detail})"


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
        if plan.title:  # what was planned names the job (a CLI job is submitted as "change")
            job = replace(job, title=plan.title)
        total = len(plan)
        self._emit(JobStarted(job.job_id, job.title, total, plan))
        try:
            ran = self._run_steps(job, plan, firewall)
        except Cancelled:
            self._finish(job, ok=False, cancelled=True)
            return
        except CoiTuiError as error:
            self._finish(job, ok=False, error=str(error))
            return
        diff = self._verify(ran, firewall)
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

    def _run_steps(self, job: Job, plan: Plan, firewall: FirewallBackend) -> list[PlanStep]:
        """Each step re-checked just before it runs; returns those that ran (to verify)."""
        total, ran = len(plan), []
        for index, step in enumerate(plan.steps, start=1):
            if self._is_cancelled(job.job_id):
                raise Cancelled
            try:
                skip = step.skip_reason()
                if skip:
                    self._record(job, index, total, step, ok=True, detail=f"skipped: {skip}")
                    continue
                detail = step.run(firewall)
            except CoiTuiError as error:
                self._record(job, index, total, step, ok=False, detail=str(error))
                if isinstance(error, BackendUnavailable):
                    self._drop_firewall()
                raise
            ran.append(step)
            self._record(job, index, total, step, ok=True, detail=detail)
        return ran

    def _record(self, job: Job, index: int, total: int, step: PlanStep, *, ok: bool,
                detail: str) -> None:
        lines = step.lines()
        for number, line in enumerate(lines, start=1):
            where = {"line": number, "lines": len(lines)} if len(lines) > 1 else {}
            self._audit.write(
                job=job.job_id, title=job.title, kind=job.kind, step=index, of=total, **where,
                container=line.owner or step.container, action=line.action, what=line.text,
                ok=ok, detail=detail,
            )
        self._emit(StepDone(job.job_id, index, total, step, ok, detail))

    @staticmethod
    def _verify(ran: Sequence[PlanStep], firewall: FirewallBackend) -> tuple[str, ...]:
        """Every step that ran checks itself against ONE read of the firewall."""
        seen: list[Sequence[CoiRule]] = []

        def present() -> Sequence[CoiRule]:
            if not seen:
                seen.append(firewall.list_rules())
            return seen[0]

        diff: list[str] = []
        for step in ran:
            try:
                diff += step.verify(present)
            except CoiTuiError as error:
                diff.append(f"could not verify {step.lines()[0] if step.lines() else step}: "
                            f"{error}")
        return tuple(diff)

    def _drop_firewall(self) -> None:
        if self._firewall is not None:
            self._firewall.close()
        self._firewall = None

    def _emit(self, event: EngineEvent) -> None:
        self._on_event(event)

    def notice(self, text: str) -> None:
        self._emit(Notice(text))
