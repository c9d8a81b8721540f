"""The Config view (Pilot): change the mode in the form, save, the file changes as expected,
the apply offer appears and leads to the plan review."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Select, TextArea

from coi_tui.changes import ChangePlanner
from coi_tui.models import Container, NetworkSettings
from coi_tui.services.config import Locations
from coi_tui.services.inventory import InventorySource
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.screens.apply_offer import ApplyOffer
from coi_tui.ui.screens.config_view import ConfigView
from coi_tui.ui.screens.plan_review import PlanReview
from tests.unit.fakes import FakeContainers, FakeFirewall
from tests.waiting import wait_until

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"


def app_with_config(tmp_path: Path) -> tuple[CoiApp, Path]:
    config = tmp_path / "home" / ".coi" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(SAMPLE.read_bytes())
    locations = Locations(home=tmp_path / "home", cwd=tmp_path, env={},
                          etc=tmp_path / "etc.toml")
    running = Container("coi-a", "default", "Running", "10.147.0.7", "veth1", "incusbr0",
                        "restricted")
    containers, firewall = FakeContainers([running]), FakeFirewall()
    wiring = Wiring(
        make_source=lambda: InventorySource(lambda: containers, lambda: firewall, dict),
        make_planner=lambda settings: ChangePlanner(containers, settings),
        make_firewall=lambda: firewall,
        settings=NetworkSettings(),
        config=(config, locations),
    )
    return CoiApp(wiring, poll_interval=0.2), config


async def test_mode_change_saved_from_the_form_then_offered_then_reviewed(
    tmp_path: Path,
) -> None:
    app, config = app_with_config(tmp_path)
    before = config.read_text()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("3")
        view = app.query_one(ConfigView)
        await wait_until(lambda: view.editor is not None)
        app.query_one("#cfg-mode", Select).value = "open"
        await wait_until(lambda: 'mode = "open"' in app.query_one("#cfg-raw", TextArea).text)
        await pilot.press("ctrl+s")
        await wait_until(lambda: config.read_text() != before)
        assert config.read_text() == before.replace('mode = "restricted"', 'mode = "open"')
        await wait_until(lambda: isinstance(app.screen, ApplyOffer), timeout=5)
        assert app.screen.focused is not None and app.screen.focused.id == "offer-later"
        await pilot.press("y")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=5)
        review = app.screen
        assert isinstance(review, PlanReview)
        assert review.plan.title == "open for coi-a"


async def test_an_invalid_raw_edit_is_flagged_and_never_saved(tmp_path: Path) -> None:
    app, config = app_with_config(tmp_path)
    before = config.read_bytes()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("3")
        view = app.query_one(ConfigView)
        await wait_until(lambda: view.editor is not None)
        raw = app.query_one("#cfg-raw", TextArea)
        raw.text = raw.text.replace('mode = "restricted"', 'mode = "strict"')
        await wait_until(lambda: "'strict'" in str(app.query_one("#cfg-status").render()))
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert config.read_bytes() == before
