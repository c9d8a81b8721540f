"""The Containers view, live from the real Incus (Pilot)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from coi_tui.models import NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.containers import COLUMNS, ContainersView
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

THROWAWAY = "coi-lab-tui"


def lab_app(poll_interval: float = 2.0) -> CoiApp:
    return CoiApp(real_wiring(Scope(), NetworkSettings()), poll_interval=poll_interval)


def cells(view: ContainersView, key: str) -> dict[str, str]:
    """A row by column key, full text (the view chooses the order and which columns fit)."""
    return {c.key: view.rows_list.cell(key, c.key) for c in COLUMNS}


@pytest.fixture
def throwaway() -> Iterator[str]:
    lab.require_lab()
    lab.incus("launch", lab.IMAGE, THROWAWAY, "-q")
    try:
        yield THROWAWAY
    finally:
        lab.incus("delete", "--force", THROWAWAY)


async def test_the_view_shows_the_lab_containers_with_their_ips() -> None:
    lab.require_lab()
    expected = {name: lab.container_ip(name) for name in lab.CONTAINERS}
    app = lab_app()
    async with app.run_test(size=(140, 40)):
        view = app.query_one(ContainersView)
        keys = [f"default/{name}" for name in expected]
        await wait_until(lambda: all(k in view.table.rows for k in keys), timeout=10)
        for name, ip in expected.items():
            row = cells(view, f"default/{name}")
            assert row["name"] == name
            assert row["ipv4"] == ip


async def test_incus_stop_shows_up_within_3_seconds_without_a_key_press(throwaway: str) -> None:
    app = lab_app(poll_interval=30.0)  # slow polling: the Incus event must do the work
    async with app.run_test(size=(140, 40)):
        view = app.query_one(ContainersView)
        key = f"default/{throwaway}"
        await wait_until(
            lambda: key in view.table.rows and cells(view, key)["status"] == "Running", 15)
        await asyncio.to_thread(lab.incus, "stop", "--force", throwaway)
        stopped_at = time.monotonic()
        await wait_until(lambda: cells(view, key)["status"] == "Stopped", timeout=3.0)
        print(f"Stopped shown {time.monotonic() - stopped_at:.2f}s after incus stop returned")
        assert time.monotonic() - stopped_at <= 3.0
        assert cells(view, key)["ipv4"] == "-"
