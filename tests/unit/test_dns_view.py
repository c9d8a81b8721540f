"""The DNS view (Pilot, fake clock): countdowns go down from absolute expiries on the view's
one timer, only changed cells are touched, blocked IPs show their reason, `R` posts a refresh
request, and a new state replaces the rows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable, Static

from coi_tui.keep.refresher import ContainerPins, DnsState, RefreshResult
from coi_tui.services.dns.pins import OldAnswer
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.ui.screens.dns_view import DnsPruneRequested, DnsRefreshRequested, DnsView
from tests.waiting import wait_until

T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class ViewHost(App[None]):
    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.view = DnsView(clock=clock, tick=0.05, id="dns-view")
        self.requests: list[DnsRefreshRequested] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_dns_refresh_requested(self, message: DnsRefreshRequested) -> None:
        self.requests.append(message)


STATE = DnsState(
    records=(
        DomainRecord("api.lab.test", ("203.0.113.10",), 300, T0 + 300, DomainStatus.FRESH),
        DomainRecord("cdn.lab.test", ("203.0.113.20",), 60, None, DomainStatus.STALE,
                     error="NXDOMAIN"),
        DomainRecord("rebind.lab.test", (), 60, T0 + 60, DomainStatus.BLOCKED,
                     (("192.168.77.2", "private network (RFC 1918)"),)),
        DomainRecord("198.51.100.7", ("198.51.100.7",), 0, None, DomainStatus.LITERAL),
    ),
    interval=60,
    next_refresh_at=T0 + 60,
    last_refresh=RefreshResult(T0, False, "4 domains: 1 fresh, 1 stale, 1 blocked, 1 literal; "
                                          "no change"),
)


def cell(app: ViewHost, row: str, column: str) -> str:
    return str(app.query_one("#dns-table", DataTable).get_cell(row, column))


def text(app: ViewHost, selector: str) -> str:
    return str(app.query_one(selector, Static).render())


async def test_countdowns_tick_from_absolute_expiry_touching_only_changed_cells() -> None:
    clock = Clock()
    app = ViewHost(clock)
    async with app.run_test(size=(160, 30)) as pilot:
        app.view.show_state(STATE)
        await pilot.pause()
        assert cell(app, "api.lab.test", "expires") == "5m00s"
        assert cell(app, "rebind.lab.test", "expires") == "1m00s"
        assert cell(app, "198.51.100.7", "expires") == "never"
        assert cell(app, "cdn.lab.test", "status") == "STALE"  # what it means: the help
        assert cell(app, "rebind.lab.test", "blocked") == "192.168.77.2"  # why: the detail
        assert text(app, "#dns-schedule").startswith("next refresh in 1m00s (every 1m)")
        assert "WARNING: 1 of 4 failed · 4 domains: 1 fresh, 1 stale" in text(
            app, "#dns-schedule")

        table: DataTable[str] = app.query_one("#dns-table", DataTable)
        touched: list[tuple[Any, Any]] = []
        update = table.update_cell

        def spy(row: Any, column: Any, value: Any, **kwargs: Any) -> None:
            touched.append((row, column))
            update(row, column, value, **kwargs)

        table.update_cell = spy  # type: ignore[method-assign, assignment]
        clock.now = T0 + 1.5  # the app's own timer must notice: no call from the test
        await wait_until(lambda: cell(app, "api.lab.test", "expires") == "4m59s")
        await wait_until(lambda: text(app, "#dns-schedule").startswith("next refresh in 59s"))
        assert cell(app, "rebind.lab.test", "expires") == "59s"
        await pilot.pause(0.2)  # several more ticks at the same time: nothing more to touch
        assert sorted(touched) == [("api.lab.test", "expires"), ("rebind.lab.test", "expires")]

        clock.now = T0 + 400
        await wait_until(lambda: cell(app, "api.lab.test", "expires") == "0s")
        assert text(app, "#dns-schedule").startswith("next refresh in 0s")


async def test_r_posts_a_refresh_request_and_a_new_state_replaces_rows() -> None:
    app = ViewHost(Clock())
    async with app.run_test(size=(160, 30)) as pilot:
        app.view.show_state(STATE)
        app.query_one("#dns-table", DataTable).focus()
        await pilot.press("R")
        await wait_until(lambda: len(app.requests) == 1)
        fresh = replace(STATE, records=STATE.records[:1], last_refresh=RefreshResult(
            T0 + 60, True, "1 domains: 1 fresh; re-apply coi-lab-3", ("coi-lab-3",)))
        app.view.show_state(fresh)
        await pilot.pause()
        assert app.query_one("#dns-table", DataTable).row_count == 1
        assert "ok: 1 domains: 1 fresh; re-apply coi-lab-3" in text(app, "#dns-schedule")


async def test_disabled_refresh_and_an_unreadable_cache_are_said() -> None:
    state = replace(STATE, enabled=False, interval=None, next_refresh_at=None,
                    containers=(ContainerPins("coi-lab-3", "10.147.0.9", "/x.json", (), None,
                                              cache_error="/x.json: not JSON"),))
    app = ViewHost(Clock())
    async with app.run_test(size=(160, 30)) as pilot:
        app.view.show_state(state)
        await pilot.pause()
        assert text(app, "#dns-schedule").startswith("refresh disabled")
        assert "cache UNREADABLE (kept as is): /x.json: not JSON" in text(app, "#dns-pins")


class PruneHost(ViewHost):
    def __init__(self, clock: Clock) -> None:
        super().__init__(clock)
        self.prunes: list[tuple[str, ...]] = []

    def on_dns_prune_requested(self, message: DnsPruneRequested) -> None:
        self.prunes.append(message.names)


async def test_old_answers_show_with_their_age_and_p_asks_to_prune_them() -> None:
    clock = Clock()
    app = PruneHost(clock)
    since = datetime.fromtimestamp(T0 - 720, UTC)
    pins = ContainerPins("coi-lab-3", "10.147.0.130", "/c.json", ("203.0.113.20",),
                         ("203.0.113.10", "203.0.113.20"),
                         old_answers=(OldAnswer("203.0.113.10", since, True),),
                         hosts_file="in step")
    async with app.run_test(size=(160, 30)) as pilot:
        app.view.show_state(replace(STATE, containers=(pins,)))
        await pilot.pause()
        shown = text(app, "#dns-pins")
        assert "coi-lab-3: pinned 203.0.113.20" in shown
        assert "old answers (P prunes): 203.0.113.10 (unanswered 12m)" in shown
        app.query_one("#dns-table", DataTable).focus()
        await pilot.press("P")
        await wait_until(lambda: app.prunes == [("coi-lab-3",)])
        app.view.show_state(replace(STATE, containers=(replace(pins, old_answers=()),)))
        await pilot.press("P")  # nothing to prune: a note, no request
        await pilot.pause(0.1)
        assert app.prunes == [("coi-lab-3",)]
