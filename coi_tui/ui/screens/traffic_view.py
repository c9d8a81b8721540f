"""The Traffic view: what the containers tried to reach, newest first, by name, with the
verdict and the rule that decided; blocked/s per container as a sparkline of the last minutes;
`a` on a rejected attempt offers to let that destination through (reviewed, then applied).

The summary line says whether the feed is readable (and the fix when it is not), how many
attempts the rate limit kept out, and blocked/s now. The row under the table has the
highlighted attempt's rule in full. The view does no I/O: the host feeds it `FeedUpdate`s
(`show_update`) with the watched containers' names, and handles `GrantRequested`."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, Sparkline, Static

from coi_tui.services.traffic.attempts import Attempt, Counts, Verdict
from coi_tui.services.traffic.feed import COUNTS_EVERY, FeedUpdate
from coi_tui.ui.actions import bindings
from coi_tui.ui.widgets.list_table import Column, ListTable

KEEP = 500  # attempts in the list; watch's history keeps more
SPARK = 150  # samples of blocked/s: 5 minutes at one per COUNTS_EVERY
COLUMNS = (
    Column("time", "Time", priority=0, max_width=8),
    Column("container", "Container", priority=0, max_width=16),
    Column("verdict", "Verdict", priority=0, max_width=8),
    Column("target", "Target", priority=0, fill=True, max_width=60, min_width=14),
    Column("why", "Why", priority=0, max_width=26),
    Column("address", "Address", priority=2, address=True, max_width=40),
    Column("rule", "Rule", priority=3, fill=True, max_width=200, min_width=20),
)
VERDICT_TEXT = {Verdict.REACHED: "reached", Verdict.REJECTED: "REJECTED",
                Verdict.DROPPED: "DROPPED"}
VERDICT_COLOURS = {"REJECTED": "error", "DROPPED": "warning", "reached": "success"}

LEGEND = (
    ("reached", "went through every table on the host"),
    ("REJECTED", "stopped by COI's rules (or coi-tui's backstop, which holds them)"),
    ("DROPPED", "passed COI, stopped by another table (named in Why)"),
    ("Target", "the name it was for (its own DNS answers, COI's pins), and the port"),
    ("Why", "the deciding rule in words; the line under the table has the rule itself"),
    ("blocked/s", "exact, from the kernel's counters; the list is a rate-limited sample"),
    ("limited", "attempts the rate limit left out of the list (counted in blocked/s)"),
    ("a", "on a REJECTED row: let that destination through (timed or until it stops)"),
)


def human_rate(per_second: float) -> str:
    for unit in ("B", "kB", "MB"):
        if per_second < 1000:
            return f"{per_second:.0f} {unit}/s" if unit == "B" else f"{per_second:.1f} {unit}/s"
        per_second /= 1000
    return f"{per_second:.1f} GB/s"


def colour_of(_key: str, column: str, value: str) -> str:
    return VERDICT_COLOURS.get(value, "") if column == "verdict" else ""


class GrantRequested(Message):
    """`a` on a rejected attempt: offer what lets it through, for the container's mode."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__()
        self.attempt = attempt


def row_of(attempt: Attempt) -> tuple[str, ...]:
    return (time.strftime("%H:%M:%S", time.localtime(attempt.at)), attempt.container,
            VERDICT_TEXT[attempt.verdict],
            attempt.target, attempt.why, attempt.destination, attempt.rule or "")


def rates(before: Counts | None, after: Counts, seconds: float,
          names: Mapping[str, str]) -> dict[str, float]:
    """blocked/s per container between two readings; a counter that went back (the table was
    made again) counts from zero, never negative."""
    out: dict[str, float] = {}
    for source, name in names.items():
        now = after.blocked(source)
        then = before.blocked(source) if before is not None else now
        out[name] = max(0, now - then if now >= then else now) / max(seconds, 1e-3)
    return out


class TrafficView(Vertical):
    BINDINGS = bindings("traffic")

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._attempts: deque[Attempt] = deque(maxlen=KEEP)
        self._serial = 0
        self._keys: dict[str, Attempt] = {}
        self._counts: Counts | None = None
        self._counted_at = 0.0
        self._blocked: deque[float] = deque([0.0] * SPARK, maxlen=SPARK)
        self._blocked_of: dict[str, deque[float]] = {}  # per container, for its sparkline
        self._rates: dict[str, float] = {}
        self._io: dict[str, tuple[float, float]] = {}  # container -> (rx, tx) bytes/s
        self.problem: str | None = None
        self.note: str | None = None  # attempts without names: why
        self.started = False  # the feed reads: no attempt is missed from here on
        self.watching: tuple[str, ...] = ()  # the containers it watches
        self.summary = "feed: starting"

    def compose(self) -> ComposeResult:
        yield Static("feed: starting", id="traffic-summary", markup=False)
        with Horizontal(id="traffic-spark-row"):
            yield Static("blocked/s", id="traffic-spark-label", markup=False)
            yield Sparkline(list(self._blocked), id="traffic-spark")
        yield Static("", id="traffic-rates", markup=False)
        yield ListTable(COLUMNS, table_id="traffic-table", sortable=False,
                        name_column="container", style_for=colour_of, id="traffic-list")
        yield Static("", id="traffic-detail", markup=False)

    @property
    def rows_list(self) -> ListTable:
        return self.query_one("#traffic-list", ListTable)

    @property
    def attempts(self) -> list[Attempt]:
        return list(self._attempts)

    def show_update(self, update: FeedUpdate, names: Mapping[str, str]) -> None:
        """`names`: watched source address -> container name."""
        if self.is_mounted and not self.query("#traffic-list"):
            return  # shutting down: the children are already gone
        if update.problem:
            self.problem = update.problem
        if update.note:
            self.note = update.note
        if update.started:
            self.started = True
        self.watching = tuple(sorted(names.values()))
        if update.counts is not None:
            now = time.monotonic()
            elapsed = now - self._counted_at if self._counted_at else COUNTS_EVERY
            self._rates = rates(self._counts, update.counts, elapsed, names)
            self._counts, self._counted_at = update.counts, now
            self._blocked.append(sum(self._rates.values()))
            for name, rate in self._rates.items():
                self._blocked_of.setdefault(
                    name, deque([0.0] * SPARK, maxlen=SPARK)).append(rate)
            self._focus_rates()
        for attempt in update.attempts:
            self._attempts.appendleft(attempt)
        if update.attempts and self.is_mounted:
            self._render_rows()
        self._summary()

    def show_rates(self, io: Mapping[str, tuple[float, float]]) -> None:
        """Each running container's (rx, tx) bytes/s, from its own side."""
        self._io = dict(io)
        self._focus_rates()

    def _focused_container(self) -> str | None:
        attempt = self.selected()
        return attempt.container if attempt is not None else None

    def _focus_rates(self) -> None:
        """The rates line and the sparkline: the highlighted row's container, else all."""
        if not self.is_mounted or not self.query("#traffic-rates"):
            return
        name = self._focused_container()
        if name is None:
            rx = sum(r for r, _t in self._io.values())
            tx = sum(t for _r, t in self._io.values())
            blocked, series, who = sum(self._rates.values()), self._blocked, "all"
        else:
            rx, tx = self._io.get(name, (0.0, 0.0))
            blocked = self._rates.get(name, 0.0)
            series, who = self._blocked_of.get(name, self._blocked), name
        self.query_one("#traffic-rates", Static).update(
            f"{who}: rx {human_rate(rx)}  tx {human_rate(tx)}  blocked {blocked:.1f}/s")
        self.query_one("#traffic-spark", Sparkline).data = list(series)

    def _render_rows(self) -> None:
        rows: dict[str, tuple[str, ...]] = {}
        self._keys = {}
        # newest first by when it was decided (a pass is known a moment after a reject)
        ordered = sorted(self._attempts, key=lambda a: a.at, reverse=True)
        for index, attempt in enumerate(ordered):
            key = f"{attempt.at:.6f}/{index}"
            self._keys[key] = attempt
            rows[key] = row_of(attempt)
        self.rows_list.show_rows(rows)
        self._detail()

    def _summary(self) -> None:
        if self.problem:
            text = self.problem
        else:
            shown = len(self._attempts)
            rejected = sum(1 for a in self._attempts if a.verdict is not Verdict.REACHED)
            limited = self._counts.limited if self._counts else 0
            busiest = sorted(((r, n) for n, r in self._rates.items() if r > 0), reverse=True)
            now = ", ".join(f"{n} {r:.1f}" for r, n in busiest[:3]) or "0"
            text = (f"{shown} attempts, {rejected} stopped | limited {limited} | "
                    f"blocked/s: {now}" + (f" | names {self.note}" if self.note else ""))
        self.summary = text
        if self.is_mounted:
            self.query_one("#traffic-summary", Static).update(text)

    def selected(self) -> Attempt | None:
        key = self.rows_list.cursor_key()
        return self._keys.get(key) if key else None

    def _detail(self) -> None:
        attempt = self.selected()
        text = ""
        if attempt is not None:
            rule = f"{attempt.where}: {attempt.rule}" if attempt.rule else attempt.why
            text = f"{attempt.source} -> {attempt.destination}:{attempt.port or '-'} " \
                   f"{attempt.protocol}  {rule}"
        self.query_one("#traffic-detail", Static).update(text)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._detail()
        self._focus_rates()

    def action_grant(self) -> None:
        attempt = self.selected()
        if attempt is None or attempt.verdict is not Verdict.REJECTED:
            self.app.notify("a: pick a REJECTED attempt", severity="warning")
            return
        self.post_message(GrantRequested(attempt))

    def action_clear(self) -> None:
        self._attempts.clear()
        self._render_rows()
        self._summary()
