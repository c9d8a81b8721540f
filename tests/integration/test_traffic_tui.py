"""The Traffic view on the lab (firewalld era), real feed and real firewall: a restricted
container's LAN attempts show as REJECTED rows with the rule, blocked/s counts them, and `a` on
one lets that host through after the reviewed plan, until it is revoked."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path

import pytest

from coi_tui.ui.app import CoiApp
from coi_tui.ui.screens.grant_picker import GrantPicker
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.ui.screens.traffic_view import TrafficView
from tests import lab_support as lab
from tests.integration.test_isolation_kept import coi_tui
from tests.integration.test_traffic_feed import restricted  # noqa: F401  (the fixture)
from tests.integration.test_tui_containers import lab_app
from tests.traffic import build_prober, probing
from tests.waiting import wait_until

pytestmark = pytest.mark.lab


async def test_rejected_attempts_show_and_a_lets_one_through_after_review(
        restricted: tuple[str, str]) -> None:  # noqa: F811
    name, _ip = restricted
    app = lab_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        view = app.query_one(TrafficView)
        await wait_until(lambda: view.started and name in view.watching, timeout=20)
        for _ in range(3):
            assert not lab.http_get(name, lab.LAN_HOST, timeout=1)
        await wait_until(lambda: sum(1 for a in view.attempts if a.container == name
                                     and a.why == "private range") >= 3, timeout=5)
        # blocked/s from the kernel's counts, read every 2 s
        await wait_until(lambda: f"blocked/s: {name} " in view.summary, timeout=6)
        rows = view.rows_list.shown_keys()
        assert view.rows_list.cell(rows[0], "verdict") == "REJECTED"
        assert view.rows_list.cell(rows[0], "target") == f"{lab.LAN_HOST}:80"
        view.rows_list.data.focus()
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, GrantPicker), timeout=5)
        assert app.screen.focused is not None and app.screen.focused.id == "grant-cancel"
        await pilot.press("u")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=15)
        review = app.screen
        assert isinstance(review, PlanReview)
        assert any(lab.LAN_HOST in line.text and line.action in ("add", "insert")
                   for line in review.plan.lines())
        assert not lab.http_get(name, lab.LAN_HOST, timeout=1)  # nothing before the review
        await pilot.press("y")
        await wait_until(lambda: lab.http_get(name, lab.LAN_HOST, timeout=1), timeout=15)
        assert not lab.http_get(name, lab.METADATA_HOST, timeout=1)  # the rest still holds
    revoked = coi_tui("allow", "--revoke", name, f"{lab.LAN_HOST}:80", "--yes")
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert not lab.http_get(name, lab.LAN_HOST, timeout=1)


def shown_view(app: CoiApp, pane: str) -> bool:
    return app.views.active == pane


async def test_a_flood_leaves_the_tui_responsive_and_says_what_the_limit_left_out(
        restricted: tuple[str, str], tmp_path: Path) -> None:  # noqa: F811
    name, _ip = restricted
    prober = build_prober(tmp_path)
    app = lab_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        view = app.query_one(TrafficView)
        await wait_until(lambda: view.started and name in view.watching, timeout=20)
        switches = []
        with probing(name, prober, lab.LAN_HOST, seconds=4.0, period_us=250):
            for key, pane in (("1", "containers"), ("6", "traffic")) * 4:
                await pilot.press(key)
                switches.append(await wait_until(partial(shown_view, app, pane), 2.0))
                await asyncio.sleep(0.3)
        await wait_until(lambda: "limited 0 " not in view.summary
                         and "limited" in view.summary, timeout=6)
    assert max(switches) < 1.0, switches  # a key takes effect at once, flood or not
    shown = [a for a in view.attempts if a.container == name]
    assert 20 <= len(shown) <= 40 + 25 * 5  # the sample, not the ~16,000 attempts
