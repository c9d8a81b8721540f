"""The firewall worker's progress: the running job, a bar, and a log of every step."""

from __future__ import annotations

from collections import deque

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Label, ProgressBar, RichLog

from coi_tui.runtime.engine import JobFinished, JobStarted, Notice, StepDone


class ProgressPanel(Vertical):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._lines: deque[str] = deque(maxlen=500)

    def has_text(self, fragment: str) -> bool:
        return any(fragment in line for line in self._lines)

    def compose(self) -> ComposeResult:
        yield Label("firewall worker: idle", id="progress-title")
        yield ProgressBar(total=1, show_eta=False, id="progress-bar")
        yield RichLog(id="progress-log", max_lines=500, markup=False, wrap=False)

    def _log(self, line: str) -> None:
        self._lines.append(line)
        self.query_one(RichLog).write(line)

    def started(self, event: JobStarted) -> None:
        self.display = True
        self.query_one("#progress-title", Label).update(
            f"job {event.job_id}: {event.title} ({event.total} steps)  [c] cancel"
        )
        self.query_one(ProgressBar).update(total=max(event.total, 1), progress=0)
        self._log(f"job {event.job_id} started: {event.title}")

    def step(self, event: StepDone) -> None:
        self.query_one(ProgressBar).update(progress=event.index)
        self._log(f"  {event}")

    def finished(self, event: JobFinished) -> None:
        if event.ok:
            outcome = "done, verified"
        elif event.cancelled:
            outcome = "cancelled between steps"
        else:
            outcome = f"FAILED: {event.error}"
        self.query_one("#progress-title", Label).update(
            f"job {event.job_id}: {event.title}: {outcome}"
        )
        self._log(f"job {event.job_id} {outcome}")
        for line in event.verify_diff:
            self._log(f"  verify: {line}")
        for line in event.warnings:
            self._log(f"  warning: {line}")

    def notice(self, event: Notice) -> None:
        self.display = True
        self._log(event.text)
