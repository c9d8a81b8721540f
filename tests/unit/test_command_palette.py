"""The command palette knows the selected container: a mode change by name reaches the review."""

from __future__ import annotations

from pathlib import Path

from coi_tui.ui.screens.plan_review import PlanReview
from tests.unit.test_config_view import app_with_config
from tests.waiting import wait_until


async def test_set_mode_from_the_palette_opens_the_plan_review(tmp_path: Path) -> None:
    app, _config = app_with_config(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: app.containers_view.selected() is not None)
        await pilot.press("ctrl+p")
        await pilot.press(*"set coi-a to open")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=5)
        assert isinstance(app.screen, PlanReview)
        assert app.screen.plan.title == "open for coi-a"
