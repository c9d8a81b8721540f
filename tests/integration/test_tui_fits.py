"""Every view and dialog of the real app on the lab, at 80x24 and at 160x48: no key hint,
button or flag is cut off, the status line is one row, and the list columns fit the width."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Footer
from textual.widgets._footer import FooterKey

from coi_tui.models import NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.apply_offer import ApplyOffer
from coi_tui.ui.screens.help import HelpScreen
from coi_tui.ui.screens.mode_picker import ModePicker
from coi_tui.ui.screens.orphans import OrphanReview
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.ui.screens.quit_confirm import QuitConfirm
from coi_tui.ui.widgets.list_table import ListTable
from coi_tui.wiring import Scope, locations_from_env
from tests import lab_support as lab
from tests.integration.test_orphans import direct_rule
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

SIZES = ((80, 24), (160, 48))
DOMAINS = ("www.lab.test", "nosuch.lab.test")  # one answers, one fails
ORPHAN_IP = "10.147.0.93"  # no lab container has it: its rule is an orphan


@pytest.fixture
def lab_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    lab.require_lab()
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    config = home / ".coi" / "config.toml"
    config.write_text(f"[network]\nallowed_domains = {list(DOMAINS)!r}\n".replace("'", '"'))
    monkeypatch.setenv("HOME", str(home))
    with direct_rule(ORPHAN_IP):
        yield config


def app_for(config: Path) -> CoiApp:
    wiring = real_wiring(Scope(), NetworkSettings(allowed_domains=DOMAINS),
                         (config, locations_from_env()))
    return CoiApp(wiring, poll_interval=1.0)


def assert_whole(app: CoiApp, screen: Screen[Any], what: str) -> None:
    """Every button and key hint on screen lies inside it, not cut at an edge, and no key
    hint runs under the palette's (docked right)."""
    region = screen.region
    keys = list(app.screen_stack[0].query(FooterKey))
    widgets: list[Widget] = [*screen.query(Button), *keys]
    for widget in widgets:
        if widget.display and widget.region.area:
            assert region.contains_region(widget.region), (what, widget, widget.region)
    palette = [k for k in keys if k.has_class("-command-palette")]
    for key in keys:
        if palette and key not in palette and key.region.area:
            assert key.region.right <= palette[0].region.x, (what, key.description)


def assert_lists_fit(app: CoiApp, what: str) -> None:
    for table in app.query(ListTable):
        if not table.region.area:
            continue
        width = sum(c.get_render_width(table.data) for c in table.data.columns.values())
        assert width <= table.region.width, (what, table.id, width, table.region.width)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_view_fits(lab_home: Path, size: tuple[int, int]) -> None:
    app = app_for(lab_home)
    async with app.run_test(size=size) as pilot:
        view = app.containers_view
        await wait_until(lambda: view.rows_list.counts[1] >= 3, timeout=15)
        assert {"name", "mode", "flags"} <= set(view.rows_list.shown_columns())
        status = app.status_line
        assert status.region.height == 1
        for key in ("1", "2", "3", "4", "5"):
            await pilot.press(key)
            await pilot.pause(0.4)
            assert_whole(app, app.screen, f"view {key}")
            assert_lists_fit(app, f"view {key}")
        await wait_until(lambda: bool(app.dns_view.state.records), timeout=15)
        await pilot.press("4")
        await pilot.pause(0.3)
        table = app.dns_view.query_one("#dns-table")
        assert table.region.height >= (5 if size[1] == 24 else 25)  # the rows the prose gave
        footer = {k.description for k in app.query_one(Footer).query(FooterKey)}
        assert {"Resolve now", "Prune old", "Quit", "Help"} <= footer


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
async def test_every_dialog_keeps_its_buttons_and_text_on_screen(
    lab_home: Path, size: tuple[int, int],
) -> None:
    app = app_for(lab_home)
    async with app.run_test(size=size) as pilot:
        await wait_until(lambda: app.containers_view.rows_list.counts[1] >= 3, timeout=15)
        await pilot.press("g", "m")
        await wait_until(lambda: isinstance(app.screen, ModePicker))
        assert_whole(app, app.screen, "mode picker")
        await pilot.press("a")  # an allowlist: the longest plan
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=15)
        review = app.screen
        assert {b.id for b in review.query(Button)} == {"plan-cancel", "plan-apply"}
        assert_whole(app, review, "plan review")
        await pilot.press("n")
        await wait_until(lambda: not isinstance(app.screen, PlanReview))

        await pilot.press("question_mark")
        await wait_until(lambda: isinstance(app.screen, HelpScreen))
        assert_whole(app, app.screen, "help")
        dialog = app.screen.query_one("#help-dialog")
        assert app.screen.region.contains_region(dialog.region)
        await pilot.press("escape")

        await wait_until(lambda: app.orphan_count is not None and app.orphan_count >= 1,
                         timeout=30)
        await pilot.press("5")
        await wait_until(lambda: app.orphans_view.table.row_count >= 2, timeout=10)
        await pilot.press("a", "d")
        await wait_until(lambda: isinstance(app.screen, OrphanReview))
        assert_whole(app, app.screen, "orphan review")
        await pilot.press("n")

        for dialog_screen in (ApplyOffer(3, "allowed_domains: +www2.lab.test"),
                              QuitConfirm("job 4: allowlist for coi-lab-3 [3/24]")):
            await app.push_screen(dialog_screen)
            await pilot.pause(0.2)
            assert_whole(app, dialog_screen, type(dialog_screen).__name__)
            for button in dialog_screen.query(Button):
                assert button.region.area, (type(dialog_screen).__name__, button.id)
            dialog_screen.dismiss(False)
            await pilot.pause(0.1)
