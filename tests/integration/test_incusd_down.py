"""With incusd stopped: a one-line error from the CLI, a banner and the status line in the TUI,
recovery after. Stopped (SIGTERM: the socket goes, reads fail at once) and hung (SIGSTOP: the
socket stays, reads wait for the timeout)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import pytest

from coi_tui.backends.incus import POLL_TIMEOUT
from coi_tui.ui.app import CoiApp
from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.widgets.banner import BackendBanner
from coi_tui.ui.widgets.status import StatusLine
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


INTERVAL = 2.0  # the TUI's own poll interval
NOT_ANSWERING = "Incus not answering"


def incusd_pid() -> int:
    return int((lab.LAB_STATE / "incusd.pid").read_text())


@pytest.fixture
def incusd_hangable() -> Iterator[None]:
    """SIGSTOP leaves the socket accepting connections that nobody answers (a hung incusd:
    the issue's "screen looked exactly as before"); SIGCONT, whatever happens."""
    lab.require_lab()
    try:
        yield
    finally:
        os.kill(incusd_pid(), signal.SIGCONT)


@asynccontextmanager
async def status_line_of_the_lab() -> AsyncIterator[tuple[CoiApp, StatusLine]]:
    """The TUI at 80x24 on the lab, once its status line shows a first update."""
    app = lab_app(poll_interval=INTERVAL)
    async with app.run_test(size=(80, 24)):
        line = app.status_line
        await wait_until(lambda: line.shown.startswith("updated"), timeout=15,
                         what="a first update")
        assert NOT_ANSWERING not in line.shown
        yield app, line


async def test_the_status_line_says_incus_is_not_answering_within_two_poll_intervals(
    incusd_stoppable: None,
) -> None:
    async with status_line_of_the_lab() as (_app, line):
        stopping = asyncio.create_task(asyncio.to_thread(stop_incusd))  # SIGTERM at once
        took = await wait_until(lambda: NOT_ANSWERING in line.shown, timeout=2 * INTERVAL,
                                what=f"{NOT_ANSWERING!r} in the status line")
        print(f"incusd stopped: {NOT_ANSWERING!r} after {took:.2f} s (poll {INTERVAL} s)")
        await stopping
        assert line.region.height == 1 and line.has_class("-warning")
        await asyncio.to_thread(start_incusd)
        await wait_until(lambda: NOT_ANSWERING not in line.shown
                         and line.shown.startswith("updated"), timeout=10, what="recovered")


async def test_a_hung_incusd_is_not_answering_and_the_poll_comes_back_without_it(
    incusd_hangable: None,
) -> None:
    async with status_line_of_the_lab() as (app, line):
        os.kill(incusd_pid(), signal.SIGSTOP)
        try:
            took = await wait_until(lambda: NOT_ANSWERING in line.shown, timeout=2 * INTERVAL,
                                    what=f"{NOT_ANSWERING!r} while the poll still waits")
            print(f"incusd hung: {NOT_ANSWERING!r} after {took:.2f} s (poll {INTERVAL} s)")
            # the poll gives up on Incus after its read timeout (not pylxd's 15 s), so the
            # firewall is read again and the enforcer keeps seeing it
            back = await wait_until(lambda: not getattr(app.inventory.backend("incus"), "ok",
                                                        True),
                                    timeout=POLL_TIMEOUT[1] + INTERVAL + 1.0,
                                    what="an inventory without Incus")
            print(f"incusd hung: an inventory without Incus after {took + back:.2f} s")
            assert NOT_ANSWERING in line.shown
        finally:
            os.kill(incusd_pid(), signal.SIGCONT)
        await wait_until(lambda: NOT_ANSWERING not in line.shown
                         and line.shown.startswith("updated"), timeout=POLL_TIMEOUT[1] + 10,
                         what="recovered")
