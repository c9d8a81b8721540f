"""Per-rule counters and tracked flows against the real lab (firewalld era), on coi-lab-2:
the kernel counts exactly the rule that rejected, a held connection shows as ESTABLISHED,
flow accounting only when asked, the non-root user gets one line, and the TUI shows both."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from coi_tui.backends.conntrack import ACCOUNTING
from coi_tui.models import NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.flows import FlowsScreen
from coi_tui.wiring import Scope
from tests import lab_support as lab
from tests.integration.test_engine_traffic import bare
from tests.integration.test_tui_fits import assert_lists_fit, assert_whole
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

NAME = lab.CONTAINERS[1]  # coi-lab-2


def coi_tui(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "coi_tui", *args]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


def rule_packets(name: str, user: str | None = None) -> dict[str, int | None]:
    """`rules NAME --json`: packets per rule, by its args."""
    result = coi_tui("rules", name, "--json", user=user)
    assert result.returncode == 0, result.stderr
    return {" ".join(r["args"]): r["packets"] for r in json.loads(result.stdout)["rules"]}


def flows_json(name: str, *extra: str) -> dict[str, Any]:
    result = coi_tui("flows", name, "--json", *extra)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.fixture
def restricted() -> Iterator[str]:
    with bare(NAME) as (name, ip):
        result = coi_tui("apply", name, "--mode", "restricted")
        assert result.returncode == 0, result.stderr
        yield ip


@contextmanager
def held_connection(request: bytes = b"") -> Iterator[None]:
    """A TCP connection from coi-lab-2 to the internet host's port 80, open while the block
    runs (nc with its stdin held open; `request` is sent, unfinished, so the server waits)."""
    process = subprocess.Popen(["incus", "exec", NAME, "--", "nc", lab.INTERNET_HOST, "80"],
                               stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    assert process.stdin is not None
    try:
        if request:
            process.stdin.write(request)
            process.stdin.flush()
        yield
    finally:
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def established_to_internet(report: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in report["flows"] if f["destination"] == lab.INTERNET_HOST
            and f["dport"] == 80 and f["state"] == "ESTABLISHED" and f["protocol"] == "tcp"]


def test_three_connections_to_the_lan_count_on_the_private_range_reject_only(
    restricted: str,
) -> None:
    ip = restricted
    reject = f"-s {ip} -d 192.168.0.0/16 -j REJECT"
    before = rule_packets(NAME)
    assert before[reject] is not None and all(v is not None for v in before.values())
    for _ in range(3):
        rc, out = lab.exec_in(NAME, ["hget", "-T", "1", f"http://{lab.LAN_HOST}/"])
        assert rc != 0, out  # rejected
    after = rule_packets(NAME)
    assert after[reject] - before[reject] >= 3  # type: ignore[operator]
    others = {args: (before[args], count) for args, count in after.items() if args != reject}
    assert others and all(old == new for old, new in others.values()), others
    # the non-root user with COI's lines (firewall-cmd, nft) reads the same counters
    assert rule_packets(NAME, user=lab.LAB_USER)[reject] == after[reject]


def test_a_held_connection_shows_as_established_with_its_port() -> None:
    lab.require_lab()
    with held_connection():
        deadline = time.monotonic() + 10
        report = flows_json(NAME)
        while not established_to_internet(report) and time.monotonic() < deadline:
            time.sleep(0.3)
            report = flows_json(NAME)
        assert established_to_internet(report), report
        assert report["ipv4"] == lab.container_ip(NAME) and report["total"] >= 1
        capped = flows_json(NAME, "--limit", "1")
        assert len(capped["flows"]) == 1 and capped["more"] == capped["total"] - 1


@pytest.fixture
def accounting_restored() -> Iterator[None]:
    before = ACCOUNTING.read_text()
    try:
        yield
    finally:
        ACCOUNTING.write_text(before)  # the host-wide switch as the test found it


def test_accounting_is_switched_on_only_when_asked_and_said_to_be_host_wide(
    accounting_restored: None,
) -> None:
    lab.require_lab()
    ACCOUNTING.write_text("0\n")
    with held_connection():
        report = wait_for_established()
        assert report["accounting"] is False
        assert all(f["sent_bytes"] is None for f in report["flows"])
    assert ACCOUNTING.read_text().strip() == "0"  # reading flows switched nothing on
    result = coi_tui("flows", NAME, "--accounting", "--json")
    assert result.returncode == 0, result.stderr
    assert "HOST-WIDE" in result.stderr and ACCOUNTING.read_text().strip() == "1"
    with held_connection(b"GET / HTTP/1.1\r\n"):  # started after: counted
        report = wait_for_established(lambda f: (f["sent_bytes"] or 0) > 0)
        assert report["accounting"] is True


def wait_for_established(extra: Any = None) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        report = flows_json(NAME)
        found = [f for f in established_to_internet(report) if extra is None or extra(f)]
        if found or time.monotonic() > deadline:
            assert found, report
            return report
        time.sleep(0.3)


def test_without_the_rights_flows_say_so_in_one_line() -> None:
    lab.require_lab()
    result = coi_tui("flows", NAME, user=lab.LAB_USER)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("coi-tui: cannot list tracked flows:")
    assert f"{lab.LAB_USER} ALL=(ALL) NOPASSWD:" in lines[0] and "conntrack" in lines[0]
    missing = coi_tui("flows", "coi-lab-nosuch")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "coi-tui: no container coi-lab-nosuch (coi-tui status " \
        "lists them)"


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
async def test_the_tui_shows_hits_and_the_flows_of_the_container(
    restricted: str, size: tuple[int, int], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    for _ in range(3):
        lab.exec_in(NAME, ["hget", "-T", "1", f"http://{lab.LAN_HOST}/"])
    app = CoiApp(real_wiring(Scope(), NetworkSettings()), poll_interval=1.0)
    async with app.run_test(size=size) as pilot:
        view = app.containers_view
        await wait_until(lambda: view.rows_list.counts[1] >= 3, timeout=15)
        await pilot.press("2")
        rules = app.rules_view.rows_list
        key = f"False|ipv4 filter FORWARD 10 -s {restricted} -d 192.168.0.0/16 -j REJECT"
        await wait_until(lambda: rules.cell(key, "hits") not in ("", "-"), timeout=10)
        assert int(rules.cell(key, "hits")) >= 3
        assert ("hits" in rules.shown_columns()) == (size[0] > 80)
        assert_lists_fit(app, "rules with hits")
        await pilot.press("1")
        await wait_until(lambda: view.selected() is not None)
        view.rows_list.move_to(f"default/{NAME}")
        with held_connection():
            await pilot.press("F")
            await wait_until(lambda: isinstance(app.screen, FlowsScreen))
            screen = app.screen
            assert isinstance(screen, FlowsScreen) and screen.container.name == NAME
            await wait_until(lambda: any(
                screen.rows_list.cell(k, "dest") == lab.INTERNET_HOST
                and screen.rows_list.cell(k, "state") == "ESTABLISHED"
                for k in screen.rows_list.shown_keys()), timeout=10)
            assert_whole(app, screen, "flows")
            assert_lists_fit(app, "flows")
            await pilot.press("escape")
            await wait_until(lambda: not isinstance(app.screen, FlowsScreen))
