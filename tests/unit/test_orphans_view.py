"""The Orphans view (Pilot): grouped with counts, space marks and moves down, `a` marks all,
enter shows why, `d` reviews exactly the marked items with Cancel focused (n keeps them all),
y runs them through the real engine with progress, and the view refreshes without them."""

from __future__ import annotations

from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Button, DataTable, Static

from coi_tui.eras.firewalld.access import Firewalld
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import Container, Link
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished, JobStarted, StepDone
from coi_tui.services.orphan_clean import OrphanSources, scan
from coi_tui.services.orphans import OrphanReport
from coi_tui.ui.screens.orphans import (
    CleanOrphansRequested,
    InheritedModeRequested,
    OrphanReview,
    OrphansScanned,
    OrphansView,
)
from coi_tui.ui.widgets.progress import ProgressPanel
from tests.unit.fakes import FakeContainers, FakeFirewall
from tests.waiting import wait_until

BRIDGE = {"incusbr0": Link("incusbr0", "bridge", None)}  # the fake firewall binds it
LIVE = Container("coi-a", "default", "Running", "10.147.0.7", "veth1", "incusbr0", "restricted")


def dead_rule(ip: str) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", 10, ("-s", ip, "-d", "10.0.0.0/8",
                                                       "-j", "REJECT"))


class Instances(FakeContainers):
    def leases(self, network: str) -> dict[str, str]:
        return {}


class Host(App[None]):
    """The app's side of the wiring: feed reports, run the job, rescan when it is done (the
    real app scans in a worker thread; a test may scan inline)."""

    def __init__(self, home: Path, firewall: Firewalld,
                 sources: OrphanSources | None = None) -> None:
        super().__init__()
        self.view = OrphansView(id="orphans-view")
        self.progress = ProgressPanel(id="progress")
        self.firewall = firewall
        self.sources = sources or OrphanSources(lambda: Instances([LIVE]), None, home,
                                                lambda: BRIDGE, firewalld=lambda: firewall)
        self.finished: list[JobFinished] = []
        self.engine = FirewallEngine(lambda: firewall, self._on_event, AuditLog(home / "a.jsonl"))
        self.modes: list[str] = []

    def compose(self) -> ComposeResult:
        yield self.view
        yield self.progress

    def on_mount(self) -> None:
        self.engine.start()
        self.rescan()

    def rescan(self) -> None:
        self.view.show_report(scan(self.sources)[1])

    def _on_event(self, event: EngineEvent) -> None:
        self.call_from_thread(self._show, event)

    def _show(self, event: EngineEvent) -> None:
        if isinstance(event, JobStarted):
            self.progress.started(event)
        elif isinstance(event, StepDone):
            self.progress.step(event)
        elif isinstance(event, JobFinished):
            self.progress.finished(event)
            self.finished.append(event)
            self.rescan()

    def on_clean_orphans_requested(self, message: CleanOrphansRequested) -> None:
        from coi_tui.services.orphan_clean import clean_job

        self.engine.submit(clean_job(message.items, self.sources))

    def on_inherited_mode_requested(self, message: InheritedModeRequested) -> None:
        self.modes.append(message.container)

    async def on_unmount(self) -> None:
        self.engine.stop()


def make_host(tmp_path: Path) -> Host:
    home = tmp_path / "home"
    cache = home / ".coi" / "network-cache"
    cache.mkdir(parents=True)
    for name in ("gone-1", "gone-2", "coi-a"):
        (cache / f"{name}.json").write_text("{}\n")
    firewall = FakeFirewall([dead_rule("10.147.0.99"), dead_rule("10.147.0.7"),
                             dead_rule("10.147.0.9")])
    return Host(home, firewall)


def fake(host: Host) -> FakeFirewall:
    assert isinstance(host.firewall, FakeFirewall)
    return host.firewall


def rows(host: Host) -> list[tuple[str, str]]:
    table = host.view.table
    return [(str(table.get_cell(k, "mark")), str(table.get_cell(k, "item"))) for k in table.rows]


def text(host: Host, selector: str) -> str:
    return str(host.view.query_one(selector, Static).render())


async def test_mark_two_review_confirm_both_gone_with_progress(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    async with host.run_test(size=(150, 40)) as pilot:
        await wait_until(lambda: host.view.count == 4)
        assert rows(host) == [
            ("", "Orphaned firewall rules (2)"),
            ("[ ]", str(dead_rule("10.147.0.99"))),
            ("[ ]", str(dead_rule("10.147.0.9"))),
            ("", "Orphaned IP-cache files (2)"),
            ("[ ]", "network-cache/gone-1.json"),
            ("[ ]", "network-cache/gone-2.json"),
        ]
        host.view.table.focus()
        await pilot.press("down", "space")  # the first rule; the cursor moves on
        assert host.view.table.cursor_row == 2
        await pilot.press("down", "down", "space")  # gone-1
        assert [m for m, _ in rows(host)] == ["", "[x]", "[ ]", "", "[x]", "[ ]"]
        assert text(host, "#orphans-summary").startswith("4 orphan(s), 2 marked")

        await pilot.press("up")
        await pilot.press("enter")
        assert "why: IP cache of gone-1, which is no instance in any project" in text(
            host, "#orphans-detail")

        await pilot.press("d")
        await wait_until(lambda: isinstance(host.screen, OrphanReview))
        assert host.screen.focused is not None and host.screen.focused.id == "orphans-cancel"
        lines = [str(s.render()) for s in host.screen.query(".plan-remove").results(Static)]
        assert lines == [f"- firewall rules: {dead_rule('10.147.0.99')}",
                         "- IP-cache files: network-cache/gone-1.json"]
        await pilot.press("n")  # nothing happens
        assert not isinstance(host.screen, OrphanReview)
        assert len(fake(host).rules) == 3 and host.view.count == 4

        await pilot.press("d")
        await wait_until(lambda: isinstance(host.screen, OrphanReview))
        await pilot.press("enter")  # Cancel is focused: Enter cancels too
        assert len(fake(host).rules) == 3

        await pilot.press("d")
        await wait_until(lambda: isinstance(host.screen, OrphanReview))
        await pilot.press("y")
        await wait_until(lambda: host.view.count == 2, timeout=10)
        assert dead_rule("10.147.0.99") not in fake(host).rules
        assert dead_rule("10.147.0.9") in fake(host).rules  # not marked: untouched
        home = tmp_path / "home" / ".coi" / "network-cache"
        assert sorted(p.name for p in home.iterdir()) == ["coi-a.json", "gone-2.json"]
        assert host.progress.has_text("[1/2] ok   - " + str(dead_rule("10.147.0.99")))
        assert host.progress.has_text("[2/2] ok   - delete ")
        assert host.progress.has_text("done, verified")
        assert [item for _, item in rows(host)] == [
            "Orphaned firewall rules (1)", str(dead_rule("10.147.0.9")),
            "Orphaned IP-cache files (1)", "network-cache/gone-2.json"]


async def test_a_marks_all_space_on_a_heading_marks_its_group(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    async with host.run_test(size=(150, 40)) as pilot:
        await wait_until(lambda: host.view.count == 4)
        host.view.table.focus()
        await pilot.press("a")
        assert len(host.view.marked) == 4
        await pilot.press("a")
        assert host.view.marked == set()
        await pilot.press("space")  # on the rules heading
        assert {o.id for o in host.view.marked_items()} == {
            str(dead_rule("10.147.0.99")), str(dead_rule("10.147.0.9"))}


async def test_inherited_rules_show_in_their_group_and_m_asks_for_a_mode(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    heir = Container("coi-b", "default", "Running", "10.147.0.9", "veth2", "incusbr0", None)
    host.sources = OrphanSources(lambda: Instances([LIVE, heir]), None, tmp_path / "home",
                                 lambda: BRIDGE, firewalld=lambda: host.firewall)
    async with host.run_test(size=(150, 40)) as pilot:
        await wait_until(lambda: bool(host.view.report.orphans))
        items = [item for _, item in rows(host)]
        assert "Inherited rules (live container) (1)" in items
        assert text(host, "#orphans-summary").startswith(
            "3 orphan(s), 0 marked, 1 container(s) with inherited rules")
        host.view.table.focus()
        host.view.table.move_cursor(row=items.index("Inherited rules (live container) (1)") + 1)
        await pilot.press("m")
        assert host.modes == ["coi-b"]
        await pilot.press("a")  # all orphans: never a live container's rules
        assert all(o.owner != "coi-b" for o in host.view.marked_items())


async def test_an_empty_report_and_a_backend_warning(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    async with host.run_test(size=(150, 40)) as pilot:
        host.view.show_report(OrphanReport(errors={"nft": "nft not found"}))
        await pilot.pause()
        assert rows(host) == []
        assert text(host, "#orphans-summary") == (
            "0 orphan(s), 0 marked · WARNING: nft not checked: nft not found")
        await pilot.press("d")
        assert not isinstance(host.screen, OrphanReview)
        assert not host.query(Button)
        assert isinstance(host.view.table, DataTable)


async def test_read_only_shows_but_never_offers_a_clean(tmp_path: Path) -> None:
    host = make_host(tmp_path)
    host.view.read_only = True
    async with host.run_test(size=(150, 40)) as pilot:
        await wait_until(lambda: host.view.count == 4)
        host.view.table.focus()
        await pilot.press("a", "d")
        await pilot.pause()
        assert not isinstance(host.screen, OrphanReview)
        assert len(fake(host).rules) == 3 and len(host.view.marked) == 4


def test_only_the_newest_scan_matters() -> None:
    old, new = OrphansScanned(OrphanReport()), OrphansScanned(OrphanReport())
    assert new.can_replace(old) and not new.can_replace(CleanOrphansRequested(()))
