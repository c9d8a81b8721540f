"""The DNS view, the Orphans view, the progress panel and the banner in the real app at 80x24
and 160x48 (fakes): each note and error is one row, the tables get the rows, the words a person
reads are whole."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widget import Widget
from textual.widgets import DataTable

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.rules import DirectRule, Step, StepAction
from coi_tui.keep.keeper import KeeperParts
from coi_tui.keep.refresher import ContainerPins, DnsRefresher, DnsState, RefreshResult
from coi_tui.models import Inventory, Link, NetworkSettings
from coi_tui.plans import Plan
from coi_tui.runtime.engine import JobFinished, JobStarted, StepDone
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.inventory import InventorySource
from coi_tui.services.orphan_clean import OrphanSources
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.messages import EngineUpdate
from coi_tui.ui.screens import dns_view, orphans
from coi_tui.ui.widgets import progress
from coi_tui.ui.widgets.banner import MAX_ROWS, BackendBanner, banner_rows
from coi_tui.ui.widgets.list_table import fill_shares
from tests.unit.fakes import FakeContainers, FakeFirewall, lab_like_container
from tests.waiting import wait_until

FIREWALLD = FirewalldEra()
# the bridge, and a link COI would take for a veth of its own, which is none (not orphans)
LINKS = {"incusbr0": Link("incusbr0", "bridge", None),
         "tap-other": Link("tap-other", "veth", None, 40, 41)}
SIZES = [(80, 24), (160, 48)]
NXDOMAIN = "NXDOMAIN: The DNS query name does not exist: {}."


class Instances(FakeContainers):
    def leases(self, network: str) -> dict[str, str]:
        return {}


class IdleRefresher(DnsRefresher):
    """The DNS view's tab without a resolver: the test shows its own states."""

    def run(self, poll: float = 1.0) -> None:
        return


def dead_rule(ip: str, port: int) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", 10, (
        "-s", ip, "-d", "10.0.0.0/8", "-p", "tcp", "--dport", str(port), "-j", "REJECT",
        "--reject-with", "icmp-port-unreachable"))


def build_app(home: Path) -> CoiApp:
    live = [lab_like_container(f"coi-lab-{i}", f"10.147.0.{100 + i}") for i in (1, 2, 3)]
    containers = Instances(live)
    firewall = FakeFirewall([dead_rule("10.147.0.99", 20 + n) for n in range(4)])
    cache = home / ".coi" / "network-cache"
    cache.mkdir(parents=True)
    for name in ("gone-1", "gone-2", "coi-lab-1"):
        (cache / f"{name}.json").write_text("{}\n")

    def refresher(settings: NetworkSettings, submit: object, sink: object,
                  writes: bool) -> DnsRefresher:
        return IdleRefresher(settings, containers, firewall.list_rules, lambda job: None,
                             home=home, era=FIREWALLD)

    parts = KeeperParts(lambda: InventorySource(lambda: containers, lambda: firewall, dict,
                                                era=FIREWALLD), make_refresher=refresher)
    sources = OrphanSources(lambda: containers, None, home, lambda: LINKS,
                            firewalld=lambda: firewall)
    return CoiApp(Wiring(parts, orphan_sources=sources), poll_interval=0.05)


def dns_state(now: float, domains: int = 12) -> DnsState:
    names = [f"svc-{n}.lab.test" for n in range(domains - 4)]
    records = (
        *(DomainRecord(d, (f"203.0.113.{n}",), 300, now + 300 - n) for n, d in enumerate(names)),
        DomainRecord("cdn.lab.test", ("203.0.113.20",), 60, None, DomainStatus.STALE,
                     error="Timeout: The DNS operation timed out after 2.000 seconds"),
        DomainRecord("nope.lab.test", (), 0, None, DomainStatus.FAILED,
                     error=NXDOMAIN.format("nope.lab.test")),
        DomainRecord("rebind.lab.test", (), 60, now + 60, DomainStatus.BLOCKED,
                     (("192.168.77.2", "private network (RFC 1918)"),)),
        DomainRecord("198.51.100.7", ("198.51.100.7",), 0, None, DomainStatus.LITERAL),
    )
    pins = tuple(ContainerPins(f"coi-lab-{i}", f"10.147.0.{100 + i}", f"/c{i}.json",
                               tuple(f"203.0.113.{n}" for n in range(domains)), None)
                 for i in (2, 3))
    return DnsState(records, 252, now + 252, RefreshResult(
        now - 48, False, f"{domains} domains: {domains - 4} fresh, 1 stale, 1 failed, "
                         "1 blocked, 1 literal; no change",
        errors=(f"nope.lab.test: {NXDOMAIN.format('nope.lab.test')}",
                "cdn.lab.test: Timeout: The DNS operation timed out after 2.000 seconds")),
        pins)


def job_events() -> tuple[JobStarted, list[StepDone], JobFinished]:
    steps = [Step(StepAction.ADD, dead_rule("10.147.0.102", 20 + n), "coi-lab-2")
             for n in range(7)]
    plan = Plan(tuple(steps), "set coi-lab-2 to restricted")
    return (JobStarted(3, plan.title, len(steps), plan),
            [StepDone(3, n + 1, len(steps), s, True, "added") for n, s in enumerate(steps)],
            JobFinished(3, plan.title, True))


def screen_text(app: App[Any]) -> str:
    """What a person reads: the screen's rows as text."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def words(app: App[Any]) -> str:
    """The screen's words, wrapped lines joined."""
    return " ".join(screen_text(app).split())


def assert_fits_the_help(legend: tuple[tuple[str, str], ...]) -> None:
    """`?` shows each as one line: a 12-cell word and its meaning inside 76 cells (80x24)."""
    assert all(len(word) <= 12 and len(meaning) <= 76 - 13 for word, meaning in legend)


def rows_of(widget: Widget) -> int:
    return widget.region.height if widget.display else 0


def line_with(app: App[Any], fragment: str) -> str:
    return next((line for line in screen_text(app).splitlines() if fragment in line), "")


@pytest.mark.parametrize("size", SIZES)
async def test_the_dns_view_gives_its_rows_to_the_table(tmp_path: Path,
                                                        size: tuple[int, int]) -> None:
    app = build_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        view = app.dns_view
        state = dns_state(view._clock())
        view.show_state(state)
        await pilot.press("4")
        await pilot.pause()
        schedule = view.query_one("#dns-schedule")
        assert rows_of(schedule) == 1
        assert re.search(r"next refresh in 4m1\ds \(every 4m12s\) · last \d\d:\d\d:\d\d "
                         r"WARNING: 2 of 12 failed", line_with(app, "next refresh"))
        for record in state.records:  # every row on screen, its status word whole
            word = dns_view.STATUS_TEXT[record.status]
            assert re.search(rf" {word} ", line_with(app, f" {record.domain} ")), record.domain
        assert rows_of(view.query_one("#dns-pins")) == 2  # one per allowlist container
        assert rows_of(view.query_one("#dns-detail")) == 1
        # the prose left the screen for the help, and the table has the rows
        assert "COI's code" not in screen_text(app)
        assert any("COI's code does so since #204" in meaning for _, meaning in dns_view.LEGEND)
        assert_fits_the_help(dns_view.LEGEND)
        prose = sum(rows_of(view.query_one(s)) for s in
                    ("#dns-schedule", "#dns-detail", "#dns-pins"))
        assert prose == 4 and rows_of(view.query_one("#dns-table")) == view.region.height - 4

        table = view.query_one("#dns-table", DataTable)
        table.focus()
        table.move_cursor(row=table.get_row_index("nope.lab.test"))
        await pilot.pause()
        detail = view.query_one("#dns-detail")
        assert line_with(app, "nope.lab.test: FAILED: NXDOMAIN: The DNS query name does not")
        await pilot.press("enter")  # the row in full, and the refresh's other errors
        await pilot.pause()
        if size == (80, 24):
            assert rows_of(detail) > 1
        assert "does not exist: nope.lab.test." in words(app)
        await pilot.press("down")  # moving on: one row again
        await pilot.pause()
        assert rows_of(detail) == 1
        assert line_with(app, "rebind.lab.test: BLOCKED · blocked 192.168.77.2: private")


def test_pins_are_one_line_each_and_many_containers_are_summed_up() -> None:
    state = dns_state(0.0)
    many = tuple(ContainerPins(f"coi-lab-{i}", None, "/c.json", ("203.0.113.1",), None)
                 for i in range(1, 7))
    lines = dns_view.pins_text(DnsState(containers=many)).splitlines()
    assert len(lines) == dns_view.MAX_PIN_LINES
    assert lines[-1] == ("+4 more allowlist containers: coi-lab-3, coi-lab-4, coi-lab-5, "
                         "coi-lab-6")
    assert dns_view.pins_text(state).count("\n") == 1


@pytest.mark.parametrize("size", SIZES)
async def test_the_orphans_view_shows_item_and_why_side_by_side(
    tmp_path: Path, size: tuple[int, int],
) -> None:
    app = build_app(tmp_path)
    async with app.run_test(size=size) as pilot:
        view = app.orphans_view
        await wait_until(lambda: view.count == 6)
        await pilot.press("5")
        await pilot.pause()
        assert rows_of(view.query_one("#orphans-summary")) == 1
        assert line_with(app, "6 orphan(s), 0 marked · 1 not orphans (listed last)")
        rule = line_with(app, "-p tcp --dport 20" if size[0] > 100 else "[ ]  ipv4 filter")
        assert "-s 10.147.0.99 belongs to no" in rule  # the Why is readable beside the Item
        assert "IP cache of gone-1, which" in line_with(app, "network-cache/gone-1.json")
        # the not-orphans are the last group of the table, with their why
        assert "not named veth*" in line_with(app, "tap-other")
        assert rows_of(view.query_one("#orphans-detail")) == 1
        view.table.focus()
        await pilot.press("down")
        assert line_with(app, "ipv4 filter FORWARD 10 -s 10.147.0.99 -d 10.0.0.0/8 -p tcp")
        await pilot.press("enter")
        await pilot.pause()
        assert "why: -s 10.147.0.99 belongs to no instance (3 instance(s)" in words(app)
        await pilot.press("down")
        await pilot.pause()
        assert rows_of(view.query_one("#orphans-detail")) == 1
        assert_fits_the_help(orphans.LEGEND)


def test_item_and_why_share_the_width() -> None:
    assert fill_shares([20, 30], 80) == [20, 30]  # both fit
    assert fill_shares([20, 90], 70) == [20, 50]  # the short one whole, the long one the rest
    assert fill_shares([90, 20], 70) == [50, 20]
    assert fill_shares([90, 90], 70) == [35, 35]


async def test_the_progress_panel_is_one_row_unless_a_job_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress, "COLLAPSE_AFTER", 0.3)
    app = build_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        panel = app.progress
        await wait_until(lambda: app.orphans_view.count == 6)
        await pilot.press("5")
        assert rows_of(panel) == 0  # no job yet: no row
        started, steps, done = job_events()
        app.post_message(EngineUpdate(started))
        for step in steps[:2]:
            app.post_message(EngineUpdate(step))
        await pilot.pause()
        assert panel.running == "job 3: set coi-lab-2 to restricted"
        line = line_with(app, "job 3:")
        assert line.startswith(" job 3: set coi-lab-2 to restricted [2/7] ok   + ipv4 filter")
        assert line_with(app, "c cancels between steps")
        assert line_with(app, "[1/7] ok   + ipv4 filter FORWARD 10 -s 10.147.0.102")
        assert rows_of(app.orphans_view.table) >= 6  # the view still shows its orphans
        for step in steps[2:]:
            app.post_message(EngineUpdate(step))
        app.post_message(EngineUpdate(done))
        await wait_until(lambda: rows_of(panel) == 1, timeout=3, what="collapsed again")
        assert panel.running is None
        assert line_with(app, "firewall worker: idle · last: job 3 set coi-lab-2 to "
                              "restricted: done")  # ", verified" elided at 80
        panel.toggle_log()  # the last job's steps again
        await pilot.pause()
        assert line_with(app, "[7/7] ok") and not line_with(app, "[1/7] ok   + ipv4")
        assert "c cancels" not in screen_text(app)
        panel.toggle_log()
        await pilot.pause()
        assert rows_of(panel) == 1

        app.post_message(EngineUpdate(JobStarted(4, "set coi-lab-3 to open", 1, started.plan)))
        app.post_message(EngineUpdate(JobFinished(4, "set coi-lab-3 to open", False,
                                                  error="firewalld: INVALID_RULE")))
        await pilot.pause(0.6)
        assert rows_of(panel) > 1  # a failure stays open until the user closes it
        assert line_with(app, "job 4: set coi-lab-3 to open: FAILED: firewalld: INVALID_RULE")
        panel.toggle_log()
        await pilot.pause()
        assert rows_of(panel) == 1
        assert line_with(app, "idle · last: job 4 set coi-lab-3 to open: FAILED: firewalld")


def test_the_banner_keeps_to_its_rows() -> None:
    lines = [f"problem {n}: {'detail ' * 20}" for n in range(5)]
    assert banner_rows(lines[:MAX_ROWS]) == lines[:MAX_ROWS]
    rows = banner_rows(lines)
    assert len(rows) == MAX_ROWS
    assert rows[:-1] == lines[:MAX_ROWS - 1]
    assert rows[-1] == "+3 more: problem 2 · problem 3 · problem 4"


class BannerHost(App[None]):
    def compose(self) -> ComposeResult:
        yield BackendBanner()


@pytest.mark.parametrize("size", SIZES)
async def test_the_banner_is_one_elided_row_per_item(size: tuple[int, int]) -> None:
    app = BannerHost()
    async with app.run_test(size=size) as pilot:
        banner = app.query_one(BackendBanner)
        notes = [f"note {n}: " + "x" * 200 for n in range(5)]
        banner.show_inventory(Inventory(), notes)
        await pilot.pause()
        assert rows_of(banner) == MAX_ROWS
        shown = screen_text(app).splitlines()[:MAX_ROWS]
        assert shown[0].startswith("note 0: xxx") and shown[0].rstrip().endswith("…")
        assert shown[2].startswith("+3 more: note 2 · note 3 · note 4")
        assert banner.lines == notes
