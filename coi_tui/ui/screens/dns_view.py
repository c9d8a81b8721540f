"""The DNS view: each allowlist domain with its IPs, a TTL countdown, its state and the IPs the
rebinding guard refused (with the reason); the next refresh as a countdown and the last
refresh's result; `R` asks for a refresh now. Per allowlist container: its pins and, in the
nft era, its old answers (pinned, no longer given by DNS: COI keeps them) with their age and
whether its /etc/hosts block is in step; `P` reviews a prune of the old answers (beyond COI).

It fits 80x24: the schedule is one line (the verdict counts the failures), the Status column
holds one word, the row under the table has the highlighted row's detail (enter opens it in
full, with the refresh's other errors), the pins take one line per container (at most
MAX_PIN_LINES); what the words and COI's refresh rule mean is in LEGEND, for `?`.

Countdowns are computed from absolute expiries by ONE timer for the whole view, and only the
cells whose text changed are touched (ListTable), so a ticking view stays cheap. The view
does no I/O: the host feeds it `DnsState`s (`show_state`) and handles `DnsRefreshRequested`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Static

from coi_tui.keep.refresher import ContainerPins, DnsState
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.dns.report import old_answers_text
from coi_tui.services.dns.schedule import seconds_until
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

COLUMNS = (
    Column("domain", "Domain", priority=0, max_width=36),
    Column("ips", "IPs", priority=1, address=True),
    Column("ttl", "TTL", priority=3),
    Column("expires", "Expires", priority=0),
    Column("status", "Status", priority=0),
    Column("blocked", "Blocked", priority=2, fill=True),
)
STATUS_COLOURS = {"STALE": "warning", "FAILED": "error", "BLOCKED": "error"}
# one short word per state, so the column never cuts one; what each means is in LEGEND
STATUS_TEXT = {
    DomainStatus.FRESH: "fresh",
    DomainStatus.STALE: "STALE",
    DomainStatus.FAILED: "FAILED",
    DomainStatus.BLOCKED: "BLOCKED",
    DomainStatus.LITERAL: "literal",
}
MAX_PIN_LINES = 3  # the table gets the rows; the rest of the containers are summed up


# what `?` explains, one line each (word, meaning); COI's refresh rule lives here, not on screen
LEGEND = (
    ("fresh", "answered by the last lookup; pinned until the next refresh"),
    ("STALE", "the last lookup failed: the cached IPs stay pinned"),
    ("FAILED", "no answer and nothing cached: nothing is pinned for it"),
    ("BLOCKED", "every answer refused by the rebinding guard (private, loopback)"),
    ("literal", "a raw IPv4 entry: no DNS, never expires"),
    ("IPs", "the first address and +N more; enter on a row shows them all"),
    ("enter", "the row in full: every IP, the error, each blocked address, why"),
    ("refresh", "at the shortest TTL (60 s floor), at most every"),
    ("", "refresh_interval_minutes: COI's code does so since #204"),
    ("", "(older COI and its docs describe a fixed interval)"),
    ("", "COI ignores refresh_interval_minutes = 0 (30 stays);"),
    ("", "only a negative value disables refresh"),
    ("pins", "per allowlist container; old answers stay allowed, as in COI"),
)


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


def duration(seconds: int | None) -> str:
    """An interval: `5m`, `4m12s`, `45s`."""
    if seconds is None or seconds % 60:
        return countdown(seconds)
    return f"{seconds // 60}m"


def _first_and_more(items: tuple[str, ...]) -> str:
    return f"{items[0]} +{len(items) - 1}" if len(items) > 1 else (items[0] if items else "-")


def record_cells(record: DomainRecord, now: float) -> tuple[str, ...]:
    expires = record.expires_in(now)
    return (
        record.domain,
        _first_and_more(record.ips),
        str(record.ttl) if record.ttl else "-",
        "never" if record.status is DomainStatus.LITERAL else countdown(expires),
        STATUS_TEXT[record.status],
        _first_and_more(record.blocked_ips),
    )


def detail_lines(record: DomainRecord) -> tuple[str, ...]:
    """The row in full, one fact a line: the detail row shows them joined, enter all of them."""
    lines = [f"{record.domain}: {STATUS_TEXT[record.status]}"
             + (f": {record.error}" if record.error else "")]
    if record.ips:
        lines.append(f"IPs: {' '.join(record.ips)}")
    lines += [f"blocked {ip}: {why}" for ip, why in record.blocked]
    return tuple(lines)


def _failed(record: DomainRecord) -> bool:
    return record.status in (DomainStatus.FAILED, DomainStatus.STALE)


def other_errors(state: DnsState) -> tuple[str, ...]:
    """The last refresh's problems that no row shows (jobs, caches, backends)."""
    last = state.last_refresh
    if last is None:
        return ()
    failed = {r.domain for r in state.records if _failed(r)}
    return (*last.failed_jobs, *(e for e in last.errors if e.split(": ", 1)[0] not in failed))


def schedule_text(state: DnsState, now: float) -> str:
    """One line: the countdown, then the last refresh's verdict (the errors are on the rows)."""
    if not state.enabled:
        head = "refresh disabled (refresh_interval_minutes <= 0)"
    elif state.next_refresh_at is None:
        head = "not resolved yet"
    else:
        head = (f"next refresh in {countdown(seconds_until(state.next_refresh_at, now))} "
                f"(every {duration(state.interval)})")
    last = state.last_refresh
    if last is None:
        return f"{head} · no refresh yet"
    at = time.strftime("%H:%M:%S", time.localtime(last.at))
    if last.ok:
        return f"{head} · last {at} ok: {last.summary}"
    failed = sum(1 for r in state.records if _failed(r))
    others = len(other_errors(state))
    problems = [f"{failed} of {len(state.records)} failed"] if failed else []
    problems += [f"{others} other error(s), enter shows them"] if others else []
    return f"{head} · last {at} WARNING: {', '.join(problems) or last.summary} · {last.summary}"


def pin_line(pins: ContainerPins, now: float | None = None) -> str:
    parts = [f"{pins.name}: pinned {' '.join(pins.cached_ips) or '-'}"]
    if pins.cache_error:
        parts.append(f"cache UNREADABLE (kept as is): {pins.cache_error}")
    if pins.old_answers and now is not None:
        parts.append(f"old answers (P prunes): {old_answers_text(pins, now)}")
    if pins.hosts_file and pins.hosts_file != "in step":
        parts.append(f"/etc/hosts: {pins.hosts_file}")
    return " · ".join(parts)


def pins_text(state: DnsState, now: float | None = None) -> str:
    """One line per allowlist container, at most MAX_PIN_LINES: the rest are counted."""
    lines = [pin_line(p, now) for p in state.containers]
    if len(lines) > MAX_PIN_LINES:
        rest = state.containers[MAX_PIN_LINES - 1:]
        lines[MAX_PIN_LINES - 1:] = [f"+{len(rest)} more allowlist containers: "
                                     + ", ".join(p.name for p in rest)]
    return "\n".join(lines) or "no allowlist containers"


def prunable(state: DnsState) -> tuple[str, ...]:
    return tuple(p.name for p in state.containers if p.old_answers)


def colour_of(_key: str, column: str, value: str) -> str:
    return STATUS_COLOURS.get(value, "") if column == "status" else ""


class DnsView(Vertical):
    BINDINGS = bindings("dns")

    # every text is one row per line, elided: the table gets the rest of the rows; the
    # highlighted row's detail opens (wraps) on enter only
    DEFAULT_CSS = """
    DnsView #dns-list { height: 1fr; }
    DnsView #dns-schedule, DnsView #dns-detail, DnsView #dns-pins {
        height: auto; padding: 0 1; text-wrap: nowrap; text-overflow: ellipsis;
    }
    DnsView #dns-detail { background: $panel; }
    DnsView #dns-detail.-open { text-wrap: wrap; max-height: 8; }
    DnsView #dns-pins { color: $text-muted; }
    """

    def __init__(self, clock: Callable[[], float] = time.time, tick: float = 1.0,
                 **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._clock = clock
        self._tick_seconds = tick
        self._state = DnsState()
        self._texts: dict[str, str] = {}
        self._open: str | None = None  # the row whose detail enter opened
        self.timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="dns-schedule", markup=False)
        yield ListTable(COLUMNS, table_id="dns-table", style_for=colour_of, zebra=True,
                        id="dns-list")
        yield Static("", id="dns-detail", markup=False)
        yield Static("", id="dns-pins", markup=False)

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
        self.query_one(ListTable).show_rows(
            {r.domain: record_cells(r, now) for r in state.records})
        self._set("#dns-schedule", schedule_text(state, now))
        self._show_detail()
        self._set("#dns-pins", pins_text(state, now))

    def _cursor_record(self) -> DomainRecord | None:
        key = self.query_one(ListTable).cursor_key()
        return next((r for r in self._state.records if r.domain == key), None)

    def _show_detail(self) -> None:
        record = self._cursor_record()
        lines = detail_lines(record) if record is not None else ()
        opened = record is not None and record.domain == self._open
        if opened:
            lines += tuple(f"also: {e}" for e in other_errors(self._state))
        detail = self.query_one("#dns-detail", Static)
        detail.display = bool(lines)
        if detail.has_class("-open") != opened:
            detail.set_class(opened, "-open")
            self._texts.pop("#dns-detail", None)  # its height changes: lay it out again
        self._set("#dns-detail", ("\n" if opened else " · ").join(lines))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value != self._open:
            self._open = None  # the cursor moved on: the detail is one row again
        self._show_detail()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """enter: the row in full (every IP, the error, each blocked address and why, the
        refresh's other errors); enter again closes it."""
        key = event.row_key.value
        self._open = None if self._open == key else key
        self._show_detail()

    def _set(self, selector: str, text: str) -> None:
        before = self._texts.get(selector)
        if before == text:  # no re-render when nothing changed
            return
        self._texts[selector] = text
        widget = self.query_one(selector, Static)
        # one row per line (elided): a ticking countdown keeps the height, so only repaint
        same_height = (before is not None and before.count("\n") == text.count("\n")
                       and not widget.has_class("-open"))
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
