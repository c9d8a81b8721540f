"""The DNS view: each allowlist domain with its IPs, a TTL countdown, its state and the IPs the
rebinding guard refused (with the reason); the next refresh as a countdown and the last
refresh's result; `R` asks for a refresh now. Per allowlist container: its pins and, in the
nft era, its old answers (pinned, no longer given by DNS: COI keeps them) with their age and
whether its /etc/hosts block is in step; `P` reviews a prune of the old answers (beyond COI).

Countdowns are computed from absolute expiries by ONE timer for the whole view, and only the
cells whose text changed are touched (reconcile_rows), so a ticking view stays cheap. The view
does no I/O: the host feeds it `DnsState`s (`show_state`) and handles `DnsRefreshRequested`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static

from coi_tui.keep.refresher import DnsState
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.dns.report import old_answers_text, timestamp
from coi_tui.services.dns.schedule import seconds_until
from coi_tui.ui.widgets.reconcile import reconcile_rows

COLUMNS = (
    ("domain", "Domain"),
    ("ips", "IPs"),
    ("ttl", "TTL"),
    ("expires", "Expires in"),
    ("status", "Status"),
    ("blocked", "Blocked (reason)"),
)
STATUS_TEXT = {
    DomainStatus.FRESH: "fresh",
    DomainStatus.STALE: "STALE (cached IPs kept)",
    DomainStatus.FAILED: "FAILED",
    DomainStatus.BLOCKED: "BLOCKED",
    DomainStatus.LITERAL: "literal",
}


class DnsRefreshRequested(Message):
    """`R`: the user wants the allowlist resolved (and re-applied where it changed) now."""


class DnsPruneRequested(Message):
    """`P`: review taking these containers' old answers out of their allowlists."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__()
        self.names = names


def countdown(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(seconds, 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def record_cells(record: DomainRecord, now: float) -> tuple[str, ...]:
    expires = record.expires_in(now)
    return (
        record.domain,
        " ".join(record.ips) or "-",
        str(record.ttl) if record.ttl else "-",
        "never" if record.status is DomainStatus.LITERAL else countdown(expires),
        STATUS_TEXT[record.status] + (f": {record.error}" if record.error and
                                      record.status is DomainStatus.FAILED else ""),
        "; ".join(f"{ip} ({why})" for ip, why in record.blocked) or "-",
    )


def schedule_text(state: DnsState, now: float) -> str:
    if not state.enabled:
        head = "refresh disabled (refresh_interval_minutes <= 0)"
    elif state.next_refresh_at is None:
        head = "not resolved yet"
    else:
        head = (f"next refresh in {countdown(seconds_until(state.next_refresh_at, now))} "
                f"(every {countdown(state.interval)})")
    last = state.last_refresh
    if last is None:
        return f"{head} · no refresh yet"
    verdict = "ok" if last.ok else "WARNING"
    detail = "; ".join((*last.failed_jobs, *last.errors))
    return (f"{head} · last refresh {timestamp(last.at)} {verdict}: {last.summary}"
            + (f" — {detail}" if detail else ""))


def pins_text(state: DnsState, now: float | None = None) -> str:
    lines = []
    for pins in state.containers:
        cached = " ".join(pins.cached_ips) or "-"
        problem = f"  cache UNREADABLE (kept as is): {pins.cache_error}" if pins.cache_error else ""
        lines.append(f"{pins.name}: pinned {cached}{problem}")
        if pins.old_answers and now is not None:
            lines.append(f"  old answers (still allowed, as COI keeps them; P prunes): "
                         f"{old_answers_text(pins, now)}")
        if pins.hosts_file and pins.hosts_file != "in step":
            lines.append(f"  /etc/hosts: {pins.hosts_file}")
    return "\n".join(lines) or "no allowlist containers"


def prunable(state: DnsState) -> tuple[str, ...]:
    return tuple(p.name for p in state.containers if p.old_answers)


def _wrapped_lines(text: str, width: int) -> int:
    return sum(max(1, -(-len(line) // width)) for line in text.split("\n"))


class DnsView(Vertical):
    BINDINGS = [Binding("R", "refresh_dns", "Refresh DNS now", id="dns.refresh"),
                Binding("P", "prune_dns", "Prune old answers", id="dns.prune")]

    DEFAULT_CSS = """
    DnsView #dns-table { height: 1fr; }
    DnsView #dns-schedule, DnsView #dns-pins, DnsView #dns-note { height: auto; }
    DnsView #dns-note { color: $text-muted; }
    """

    def __init__(self, clock: Callable[[], float] = time.time, tick: float = 1.0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self._tick_seconds = tick
        self._state = DnsState()
        self._texts: dict[str, str] = {}
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="dns-schedule")
        table: DataTable[str] = DataTable(id="dns-table", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table
        yield Static("", id="dns-pins")
        yield Static("", id="dns-note")

    def on_mount(self) -> None:
        # the one timer of the view: every countdown is derived from absolute times on it
        self.timer = self.set_interval(self._tick_seconds, self.tick)
        self.tick()

    @property
    def state(self) -> DnsState:
        return self._state

    def show_state(self, state: DnsState) -> None:
        """A new state from the refresher (UI thread)."""
        self._state = state
        self.tick()

    def tick(self) -> None:
        now = self._clock()
        state = self._state
        table = self.query_one("#dns-table", DataTable)
        reconcile_rows(table, {r.domain: record_cells(r, now) for r in state.records},
                       [key for key, _ in COLUMNS], sort_key=None)
        self._set("#dns-schedule", schedule_text(state, now))
        self._set("#dns-pins", pins_text(state, now))
        self._set("#dns-note", f"note: {state.note}")

    def _set(self, selector: str, text: str) -> None:
        before = self._texts.get(selector)
        if before == text:  # no re-render when nothing changed
            return
        self._texts[selector] = text
        widget = self.query_one(selector, Static)
        width = widget.content_size.width
        # a countdown ticking keeps the text's height: repaint it, do not lay out the screen
        same_height = before is not None and width > 0 and (
            _wrapped_lines(before, width) == _wrapped_lines(text, width))
        widget.update(text, layout=not same_height)

    def action_refresh_dns(self) -> None:
        self.post_message(DnsRefreshRequested())

    def action_prune_dns(self) -> None:
        names = prunable(self._state)
        if not names:
            self.notify("no old answers to prune (DNS still gives every pinned address, "
                        "or a name did not answer)", severity="warning")
            return
        self.post_message(DnsPruneRequested(names))
