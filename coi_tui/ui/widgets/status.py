"""The status line above the footer, and the header's counts, in plain words.

One row, elided, never wrapped: how fresh the data is (a warning when the poll is late or a
daemon does not answer), PAUSED, the firewall worker, the firewall access in use, the last
error. `status_text` and `header_counts` are pure, so unit tests call them without an app; the
widget only keeps what the events said and ticks once a second, repainting on a change.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.widgets import Static

from coi_tui.keep.refresher import DnsState
from coi_tui.models import Inventory, Isolation, Mode
from coi_tui.runtime.engine import EngineEvent, JobFinished, JobStarted, StepDone
from coi_tui.services.dns.records import DomainStatus

SEP = " · "
IDLE = "worker idle"
# how a person calls each backend (BackendStatus.name, and what a poll waits on)
DAEMONS = {"incus": "Incus", "firewalld": "firewalld", "nft": "nft"}
# dnspython's "nobody answered" errors (records carry "<Exception>: <text>"); NXDOMAIN and
# NoAnswer are answers
SILENT_DNS = ("LifetimeTimeout", "Timeout", "NoNameservers", "no nameservers")
ANSWERED_DNS = ("NXDOMAIN", "NoAnswer", "YXDOMAIN", "no A records")

Waiting = tuple[str, float] | None  # (backend, since) while a poll waits on it


def late_after(interval: float) -> float:
    """No new inventory for longer than this is LATE: two polls, at least the 1 s tick."""
    return max(2 * interval, 1.0)


def silent_after(interval: float) -> float:
    """A read pending this long is a daemon not answering: reads take milliseconds. The poll
    starts up to one interval after the daemon stopped; this and the half-second tick keep
    "within two poll intervals" with a second to spare at 2 s."""
    return max(interval / 4, 0.5)


def _seconds(age: float) -> str:
    whole = max(0, int(age))
    return f"{whole} s" if whole < 120 else f"{whole // 60} min"


def dns_silent(state: DnsState | None) -> bool:
    """True when the last refresh got no answer at all: some query timed out (or found no
    nameserver) and none was answered."""
    if state is None:
        return False
    silent = [r for r in state.records if r.error.startswith(SILENT_DNS)]
    answered = any(r.status in (DomainStatus.FRESH, DomainStatus.BLOCKED)
                   or r.error.startswith(ANSWERED_DNS) for r in state.records)
    return bool(silent) and not answered


def not_answering(now: float, inventory: Inventory | None, *, interval: float,
                  waiting: Waiting = None, dns: DnsState | None = None) -> list[str]:
    """The daemons that do not answer: the last inventory's failed backends, the one a poll
    has waited on too long (a blocked poll delivers nothing to say so), DNS."""
    words: list[str] = []
    if waiting is not None and now - waiting[1] > silent_after(interval):
        words.append(f"{DAEMONS.get(waiting[0], waiting[0])} not answering")
    for status in inventory.backends if inventory is not None else ():
        if not status.ok:
            state = "not running" if status.down else "not answering"
            word = f"{DAEMONS.get(status.name, status.name)} {state}"
            if word not in words and word.replace("not running", "not answering") not in words:
                words.append(word)
    if dns_silent(dns):
        words.append("DNS not answering")
    return words


def access_of(inventory: Inventory | None) -> str:
    status = inventory.firewall_status if inventory is not None else None
    return status.access if status is not None else ""


def status_text(
    now: float,
    inventory: Inventory | None,
    *,
    interval: float,
    started_at: float,
    paused: bool = False,
    waiting: Waiting = None,
    dns: DnsState | None = None,
    worker: str | None = IDLE,
    last_error: str = "",
) -> str:
    """The status line. `inventory` is the newest (None: none yet), `started_at` when the
    app began waiting for the first one, `worker` None when nothing can write."""
    taken = inventory.taken_at if inventory is not None else None
    age = now - (taken if taken is not None else started_at)
    if not paused and age > late_after(interval):
        parts = [f"LATE: no update for {_seconds(age)}"]
    elif taken is None:
        parts = ["waiting for the first update"]
    else:
        parts = [f"updated {_seconds(age)} ago"]
    parts += not_answering(now, inventory, interval=interval, waiting=waiting, dns=dns)
    if paused:
        parts.append("PAUSED")
    if worker:
        parts.append(worker)
    if access := access_of(inventory):
        parts.append(access)
    if last_error:
        parts.append(" ".join(last_error.split()))  # one line, whatever it carried
    return SEP.join(parts)


def worker_text(previous: str, event: EngineEvent) -> str:
    """The worker's state after an engine event (a notice leaves it as it was)."""
    if isinstance(event, JobStarted):
        return f"worker: job {event.job_id} 0/{event.total}"
    if isinstance(event, StepDone):
        return f"worker: job {event.job_id} {event.index}/{event.total}"
    if isinstance(event, JobFinished):
        return IDLE if event.ok or event.cancelled else f"worker: FAILED {event.title}"
    return previous


def _count(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word}"


def header_counts(inventory: Inventory, orphan_count: int | None) -> str:
    """The header's plain words: what is not protected, and the orphans, or "all N
    protected". Counts containers with an address (there is nothing to isolate without)."""
    live = [s for s in inventory.containers if s.container.ipv4 is not None]
    by = {i: sum(1 for s in live if s.isolation is i) for i in Isolation}
    unprotected = sum(1 for s in live if s.unprotected)
    open_mode = sum(1 for s in live if s.mode is Mode.OPEN and s.isolation is Isolation.OK)
    problems = [
        (unprotected, "unprotected", None),
        (by[Isolation.EXPOSED], "EXPOSED", None),
        (by[Isolation.DRIFT], "drifted", None),
        (by[Isolation.UNKNOWN], "unknown", None),
        (by[Isolation.HELD], "held", None),
        (by[Isolation.BACKSTOP], "held by the backstop", None),
    ]
    parts = [_count(n, word, plural) for n, word, plural in problems if n]
    if not parts:
        protected = len(live) - open_mode
        if not live:
            parts.append("no running containers")
        elif open_mode:
            parts += [f"{protected} protected", f"{open_mode} open"]
        else:
            parts.append(f"all {protected} protected")
    if orphan_count:
        parts.append(_count(orphan_count, "orphan", "orphans"))
    return SEP.join(parts)


def _new_errors(seen: dict[str, str], current: dict[str, str]) -> list[str]:
    """What failed anew (or differently) since the last look: each is once a "last error"."""
    return [text for key, text in current.items() if seen.get(key) != text]


class StatusLine(Static):
    """One row, right above the (docked) footer: the views take the height left. The app
    feeds it (inventory, DNS, engine, pause); `waiting` is read on each tick: a poll that
    blocks delivers nothing, yet shows."""

    DEFAULT_CSS = """
    StatusLine {
        height: 1;
        width: 100%;
        padding: 0 1;
        background: $panel;
        color: $text-muted;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    StatusLine.-warning {
        background: $warning-darken-2;
        color: $text;
    }
    """

    def __init__(self, interval: float, waiting: Callable[[], Waiting] = lambda: None, *,
                 writes: bool = True, clock: Callable[[], float] = time.time,
                 **kwargs: object) -> None:
        # markup off: error texts carry brackets
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]
        self._interval = interval
        self._waiting = waiting
        self._clock = clock
        self._started_at = clock()
        self.inventory: Inventory | None = None
        self._dns: DnsState | None = None
        self._paused = False
        self._worker: str | None = IDLE if writes else None
        self._last_error = ""
        self._failing: dict[str, str] = {}  # what fails now: backend or source -> its error
        self.shown = ""

    def on_mount(self) -> None:
        # the one timer: "N s ago", a late poll, a read pending (repaints only on a change)
        self.set_interval(0.5, self.repaint)
        self.repaint()

    def repaint(self) -> None:
        now = self._clock()
        text = status_text(now, self.inventory, interval=self._interval,
                           started_at=self._started_at, paused=self._paused,
                           waiting=self._waiting(), dns=self._dns, worker=self._worker,
                           last_error=self._last_error)
        if text == self.shown:
            return  # idle costs no redraw
        self.shown = text
        self.set_class(text.startswith("LATE") or "not answering" in text
                       or "not running" in text, "-warning")
        self.update(text)

    # ------------------------------------------------------------------ fed by the app
    def show_inventory(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self._note({s.name: s.detail for s in inventory.backends if not s.ok}, "backend:")
        self.repaint()

    def show_dns(self, state: DnsState) -> None:
        self._dns = state
        last = state.last_refresh
        domains = {f"{r.domain}: {r.error}" for r in state.records
                   if r.status is DomainStatus.FAILED}
        # a domain that does not resolve is the DNS view's to show; the rest is an error here
        other = [e for e in (last.errors if last else ()) if e not in domains]
        self._note({f"{i}": e for i, e in enumerate(other)}, "dns:")
        self.repaint()

    def show_engine(self, event: EngineEvent) -> None:
        if self._worker is not None:
            self._worker = worker_text(self._worker, event)
        if isinstance(event, JobFinished) and not event.ok and not event.cancelled:
            self._set_error(f"{event.title}: {event.error or 'failed'}")
        self.repaint()

    def set_paused(self, paused: bool) -> None:
        self._paused = paused
        self.repaint()

    def _note(self, failing: dict[str, str], prefix: str) -> None:
        current = {f"{prefix}{key}": text for key, text in failing.items()}
        seen = {k: v for k, v in self._failing.items() if k.startswith(prefix)}
        for text in _new_errors(seen, current):
            self._set_error(text)
        self._failing = {k: v for k, v in self._failing.items()
                         if not k.startswith(prefix)} | current

    def _set_error(self, text: str) -> None:
        self._last_error = f"error {time.strftime('%H:%M:%S', time.localtime())}: {text}"

