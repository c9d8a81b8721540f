"""Changing a mode from the TUI: pick, review (Cancel focused), apply, watch the progress."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from coi_tui.eras.firewalld.policy import desired_rules, owned_by
from coi_tui.eras.firewalld.rules import rule_steps
from coi_tui.models import Mode, NetworkSettings
from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.ui.widgets.progress import ProgressPanel
from tests import lab_support as lab
from tests.integration.test_engine_traffic import bare, rules_of
from tests.integration.test_tui_containers import lab_app
from tests.waiting import wait_until

pytestmark = pytest.mark.lab


@pytest.fixture
def second() -> Iterator[tuple[str, str]]:
    with bare(lab.CONTAINERS[1]) as container:
        yield container


async def select(view: ContainersView, name: str) -> None:
    key = f"default/{name}"
    await wait_until(lambda: key in view.table.rows, timeout=10)
    view.table.move_cursor(row=view.table.get_row_index(key))


async def test_mode_switch_goes_through_review_and_the_worker(second: tuple[str, str]) -> None:
    name, ip = second
    app = lab_app()
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(ContainersView)
        await select(view, name)
        await pilot.press("m", "r")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=10)
        review = app.screen
        assert isinstance(review, PlanReview)
        assert sum(1 for s in rule_steps(review.plan) if owned_by(s.rule, ip)) == 6
        assert review.focused is not None
        assert review.focused.id == "plan-cancel"  # a stray Enter never applies
        assert rules_of(ip) == set()  # nothing runs before the review says so
        await pilot.press("y")
        panel = app.query_one(ProgressPanel)
        want = set(desired_rules(ip, Mode.RESTRICTED, NetworkSettings(), lab.GATEWAY))
        await wait_until(lambda: rules_of(ip) == want, timeout=10)
        await wait_until(lambda: "done, verified" in str(panel.query_one("#progress-title")
                                                         .render()), timeout=10)
        await wait_until(
            lambda: str(view.table.get_cell(f"default/{name}", "mode")) == "restricted", 10)


async def test_enter_on_the_review_cancels(second: tuple[str, str]) -> None:
    name, ip = second
    app = lab_app()
    async with app.run_test(size=(140, 40)) as pilot:
        view = app.query_one(ContainersView)
        await select(view, name)
        await pilot.press("m", "o")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=10)
        await pilot.press("enter")
        await wait_until(lambda: not isinstance(app.screen, PlanReview), timeout=5)
        await pilot.pause(0.5)
        assert rules_of(ip) == set()
