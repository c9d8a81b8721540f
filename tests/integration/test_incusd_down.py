"""With incusd stopped: a one-line error from the CLI, a banner in the TUI, recovery after."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.widgets.banner import BackendBanner
from tests import lab_support as lab
from tests.integration.test_tui_containers import lab_app
from tests.waiting import wait_until

pytestmark = pytest.mark.lab


def stop_incusd() -> None:
    """SIGTERM to the incusd the lab started (by its recorded PID); containers keep running."""
    pid = int((lab.LAB_STATE / "incusd.pid").read_text())
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    while lab.incus_socket().exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not lab.incus_socket().exists(), "incusd did not stop"


def start_incusd() -> None:
    lab.run(str(lab.LAB), "up", timeout=120)


@pytest.fixture
def incusd_stoppable() -> Iterator[None]:
    lab.require_lab()
    try:
        yield
    finally:
        if not lab.incus_socket().exists():
            start_incusd()


def test_status_exits_1_with_a_one_line_reason_when_incusd_is_stopped(
    incusd_stoppable: None,
) -> None:
    stop_incusd()
    result = subprocess.run(
        [sys.executable, "-m", "coi_tui", "status"], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "incusd" in lines[0] and "Traceback" not in result.stderr


async def test_the_tui_shows_a_banner_and_recovers_when_incusd_comes_back(
    incusd_stoppable: None,
) -> None:
    app = lab_app(poll_interval=1.0)
    async with app.run_test(size=(140, 40)):
        view = app.query_one(ContainersView)
        banner = app.query_one(BackendBanner)
        await wait_until(lambda: view.table.row_count >= len(lab.CONTAINERS), timeout=10)
        assert not banner.display
        await asyncio.to_thread(stop_incusd)
        await wait_until(lambda: bool(banner.display), timeout=5, what="banner shown")
        assert "incus unavailable" in str(banner.render())
        assert app.is_running
        await asyncio.to_thread(start_incusd)
        await wait_until(lambda: not banner.display, timeout=10, what="banner hidden")
        await wait_until(lambda: view.table.row_count >= len(lab.CONTAINERS), timeout=10)
