"""The Orphans view inside the app (key 5) on the lab: the header counts orphans wherever the
user is; `d` in the view reviews and the app's firewall worker cleans."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from coi_tui.models import NetworkSettings
from coi_tui.services.orphan_clean import default_sources
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.orphans import OrphanReview
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.integration.test_orphans import direct_rule, rule_for
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

IP = "10.147.0.96"


async def test_the_header_counts_orphans_and_the_view_cleans_through_the_app(
    tmp_path: Path,
) -> None:
    lab.require_lab()
    line = " ".join(rule_for(IP))
    with direct_rule(IP):
        wiring = replace(real_wiring(Scope(), NetworkSettings()),
                         orphan_sources=default_sources(tmp_path))
        app = CoiApp(wiring, poll_interval=1.0)
        async with app.run_test(size=(160, 40)) as pilot:
            await wait_until(lambda: bool(app.orphan_count), timeout=15)
            # seen from the Containers view, in plain words
            await wait_until(lambda: f"{app.orphan_count} orphan" in app.sub_title)
            await pilot.press("5")
            view = app.orphans_view
            key = next(o.key for o in view.report.orphans if o.owner == IP)
            keys = [str(k.value) for k in view.table.rows]
            view.table.move_cursor(row=next(i for i, k in enumerate(keys) if k.endswith(key)))
            await pilot.press("space", "d")
            await wait_until(lambda: isinstance(app.screen, OrphanReview))
            await pilot.press("y")
            await wait_until(lambda: line not in lab.direct_rules(), timeout=20)
            await wait_until(lambda: all(o.owner != IP for o in view.report.orphans),
                             timeout=15)


async def test_a_container_that_inherited_rules_is_flagged_in_the_containers_view(
    tmp_path: Path,
) -> None:
    lab.require_lab()
    with lab.launched("coi-orph-heir", "10.147.0.94") as name, direct_rule("10.147.0.94"):
        wiring = replace(real_wiring(Scope(), NetworkSettings()),
                         orphan_sources=default_sources(tmp_path))
        app = CoiApp(wiring, poll_interval=1.0)
        async with app.run_test(size=(160, 40)):
            key = f"default/{name}"
            table = app.containers_view.table
            await wait_until(lambda: key in table.rows
                             and str(table.get_cell(key, "flags")) == "INHERITED", timeout=15)
            assert app.orphan_count == 0  # inherited rules are shown, not counted as orphans
