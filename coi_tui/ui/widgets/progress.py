"""The firewall worker's progress. One line when no job runs ("firewall worker: idle · last:
..."); while a job runs the line says its step, with a bar and the log of its steps under it.
A job that went well collapses to the line again after COLLAPSE_AFTER seconds; a failed one
stays open until `toggle_log()` (which also opens the last job's steps again)."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.timer import Timer
from textual.widgets import Label, ProgressBar, RichLog

from coi_tui.runtime.engine import JobFinished, JobStarted, Notice, StepDone

COLLAPSE_AFTER = 4.0  # seconds a finished job's steps stay on screen


class ProgressPanel(Vertical):
    DEFAULT_CSS = """
    ProgressPanel { height: auto; display: none; background: $panel; }
    ProgressPanel #progress-title {
        width: 1fr; height: 1; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    ProgressPanel #progress-more, ProgressPanel #progress-log { display: none; }
    ProgressPanel.-open { border-top: solid $primary; background: $surface; }
    ProgressPanel.-open #progress-title { text-style: bold; }
    ProgressPanel.-open #progress-more { display: block; height: 1; padding: 0 1; }
    ProgressPanel #progress-hint { color: $text-muted; margin-left: 2; }
    ProgressPanel.-open #progress-log {
        display: block; height: 20vh; min-height: 3; overflow-x: hidden;
    }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: deque[str] = deque(maxlen=500)
        self._job: JobStarted | None = None
        self._last = ""  # the last job's outcome, for the idle line
        self._collapse: Timer | None = None

    def has_text(self, fragment: str) -> bool:
        return any(fragment in line for line in self._lines)

    @property
    def expanded(self) -> bool:
        return self.has_class("-open")

    @property
    def running(self) -> str | None:
        """The job the worker runs now ("job 3: set coi-lab-2 to restricted"), if any."""
        return None if self._job is None else f"job {self._job.job_id}: {self._job.title}"

    def compose(self) -> ComposeResult:
        yield Label("firewall worker: idle", id="progress-title", markup=False)
        with Horizontal(id="progress-more"):
            yield ProgressBar(total=1, show_eta=False, id="progress-bar")
            yield Label("c cancels between steps", id="progress-hint")
        yield RichLog(id="progress-log", max_lines=500, markup=False, wrap=False)

    def toggle_log(self) -> None:
        """Open or close the last job's steps (a key of the action table)."""
        self._stop_timer()
        self.display = True
        self._open(not self.expanded)

    def _open(self, opened: bool) -> None:
        self.set_class(opened, "-open")
        job = self._job
        self.query_one("#progress-hint").display = job is not None
        self._title(self._idle_line() if job is None else self._running_line(job))

    def _idle_line(self) -> str:
        return "firewall worker: idle" + (f" · last: {self._last}" if self._last else "")

    @staticmethod
    def _running_line(job: JobStarted, step: StepDone | None = None) -> str:
        where = str(step) if step is not None else f"[0/{job.total}] starting"
        return f"job {job.job_id}: {job.title} {where}"

    def _title(self, text: str) -> None:
        self.query_one("#progress-title", Label).update(text)

    def _log(self, line: str) -> None:
        self._lines.append(line)
        self.query_one(RichLog).write(line)

    def _stop_timer(self) -> None:
        if self._collapse is not None:
            self._collapse.stop()
            self._collapse = None

    def started(self, event: JobStarted) -> None:
        self._stop_timer()
        self._job = event
        self.display = True
        self.query_one(RichLog).clear()  # the log shows this job's steps
        self.query_one(ProgressBar).update(total=max(event.total, 1), progress=0)
        self._log(f"job {event.job_id} started: {event.title}")
        self._open(True)

    def step(self, event: StepDone) -> None:
        self.query_one(ProgressBar).update(progress=event.index)
        self._log(f"  {event}")
        if self._job is not None and self._job.job_id == event.job_id:
            self._title(self._running_line(self._job, event))

    def finished(self, event: JobFinished) -> None:
        if event.ok:
            outcome = "done, verified"
        elif event.cancelled:
            outcome = "cancelled between steps"
        else:
            outcome = f"FAILED: {event.error}"
        self._job = None
        self.query_one("#progress-hint").display = False
        self._last = f"job {event.job_id} {event.title}: {outcome}"
        self._title(f"job {event.job_id}: {event.title}: {outcome}")
        self._log(f"job {event.job_id} {outcome}")
        for line in event.verify_diff:
            self._log(f"  verify: {line}")
        for line in event.warnings:
            self._log(f"  warning: {line}")
        if event.ok or event.cancelled:  # a failure stays open until the user closes it
            self._collapse = self.set_timer(COLLAPSE_AFTER, lambda: self._open(False))

    def notice(self, event: Notice) -> None:
        self.display = True
        self._log(event.text)
        if self._job is None:
            self._title(f"{self._idle_line()} · {event.text}")
