"""Isolation is never lost silently (docs/design.md §3.9, §3.10), against the real lab:
firewalld stopped and started again, a rule removed by hand, a container that moved to another
address, the freeze guard, one writer at a time, one `watch` per host, flows not cut."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.eras.firewalld.policy import desired_rules, owned_by
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.models import FROZEN_BY_GUARD_KEY, MODE_CONFIG_KEY, Mode, NetworkSettings
from coi_tui.ui.widgets.banner import BackendBanner
from tests import lab_support as lab
from tests.integration.test_tui_containers import lab_app
from tests.traffic import build_prober, counting, probing
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

ALLOW = ("--allow", lab.INTERNET_HOST)


def coi_tui(*args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "coi_tui", *args]
    if user:
        argv = ["runuser", "-u", user, "--", *argv]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120)


rules_of = lab.rules_of


def restricted(ip: str) -> set[DirectRule]:
    return set(desired_rules(ip, Mode.RESTRICTED, NetworkSettings(), lab.GATEWAY))


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < timeout, f"not within {timeout}s: {what}"
        time.sleep(0.02)
    return time.monotonic() - start


def clean(name: str) -> None:
    ip = lab.container_ip(name)
    firewall = DBusFirewall()
    for rule in firewall.list_rules():
        if owned_by(rule, ip):
            firewall.remove_rule(rule)
    firewall.close()
    lab.run("incus", "config", "unset", name, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def first() -> Iterator[tuple[str, str]]:
    """coi-lab-1 in restricted mode, applied by coi-tui; clean again afterwards."""
    lab.require_lab()
    name = lab.CONTAINERS[0]
    clean(name)
    result = coi_tui("apply", name, "--mode", "restricted")
    assert result.returncode == 0, result.stderr
    ip = lab.container_ip(name)
    assert rules_of(ip) == restricted(ip)
    try:
        yield name, ip
    finally:
        if not lab.firewalld_answers():
            lab.start_firewalld()
        lab.run("incus", "start", name, check=False)  # thaws, if the guard froze it
        lab.run("incus", "config", "unset", name, FROZEN_BY_GUARD_KEY, check=False)
        clean(name)


@contextmanager
def firewalld_restarted_in_background() -> Iterator[threading.Thread]:
    thread = threading.Thread(target=lab.start_firewalld)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(120)


class Watch:
    """`coi-tui watch` as a user runs it, its log in a file."""

    def __init__(self, tmp: Path, *args: str) -> None:
        self.log = tmp / "watch.log"
        self._out = self.log.open("w")
        self.process = subprocess.Popen([sys.executable, "-m", "coi_tui", "watch", *args],
                                        stdout=self._out, stderr=subprocess.STDOUT, text=True)
        wait_for(lambda: "keeps isolation" in self.text(), 20, "watch started")
        wait_for(lambda: "coi-lab-1:" in self.text(), 20, "watch's first snapshot")

    def text(self) -> str:
        return self.log.read_text()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(20)
        self._out.close()
        return code


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Watch]:
    lab.require_lab()
    running = Watch(tmp_path)
    try:
        yield running
    finally:
        assert running.stop() == 0, running.text()
        assert running.text().rstrip().endswith("stopped")


def test_firewalld_stopped_status_exits_1_and_lists_restricted_containers_as_exposed(
    first: tuple[str, str],
) -> None:
    name, _ip = first
    lab.stop_firewalld()
    try:
        result = coi_tui("status", "--json")
        assert result.returncode == 1
        report = json.loads(result.stdout)
        by_name = {c["name"]: c for c in report["containers"]}
        assert report["exposed"] is True
        assert by_name[name]["exposed"] is True and by_name[name]["isolation"] == "exposed"
        assert "firewalld is not running" in by_name[name]["reason"]
        text = coi_tui("status")
        assert text.returncode == 1 and f"EXPOSED: isolation not in force for {name}" in \
            text.stdout
        assert lab.http_get(name, lab.LAN_HOST), "firewalld down: the LAN is reachable"
    finally:
        lab.start_firewalld()


def test_without_a_watch_nothing_restores_and_status_says_exposed_not_drift(
    first: tuple[str, str],
) -> None:
    name, ip = first
    lab.stop_firewalld()
    lab.start_firewalld()
    assert rules_of(ip) == set()
    result = coi_tui("status", "--json")
    state = {c["name"]: c for c in json.loads(result.stdout)["containers"]}[name]
    assert result.returncode == 1 and state["isolation"] == "exposed" and not state["drift"]


def test_watch_restores_every_recorded_mode_within_2s_of_firewalld_answering_again(
    first: tuple[str, str], watch: Watch
) -> None:
    name, ip = first
    lab.stop_firewalld()
    # the watch's backstop holds what the mode blocks meanwhile (test_backstop.py)
    wait_for(lambda: "coi-lab-1: BACKSTOP" in watch.text(), 5, "watch saw firewalld go")
    with firewalld_restarted_in_background():
        wait_for(lab.firewalld_answers, 60, "firewalld answers")
        took = wait_for(lambda: rules_of(ip) == restricted(ip), 10, "rules back")
    print(f"watch: rules back {took:.2f}s after firewalld answered again")
    assert took <= 2.0
    assert not lab.http_get(name, lab.LAN_HOST), "the LAN host must be unreachable again"
    assert "restored after: firewalld started again" in watch.text() or \
        "restored after" in watch.text()


def test_a_rule_removed_by_hand_is_back_within_2s(
    first: tuple[str, str], watch: Watch
) -> None:
    _name, ip = first
    reject = next(r for r in restricted(ip) if r.destination == "192.168.0.0/16")
    lab.firewall_cmd("--direct", "--remove-rule", *reject.cli_args())
    removed = time.monotonic()
    wait_for(lambda: reject in rules_of(ip), 10, "the rule is back")
    took = time.monotonic() - removed
    print(f"watch: a rule removed by hand was back after {took:.2f}s")
    assert took <= 2.0 and rules_of(ip) == restricted(ip)
    assert "RuleRemoved" in watch.text()


def test_a_container_restarted_at_another_address_keeps_its_mode_and_leaves_no_rule_behind(
    watch: Watch,
) -> None:
    old_ip, new_ip = "10.147.0.61", "10.147.0.62"
    with lab.launched("coi-lab-mover", old_ip) as name:
        assert coi_tui("apply", name, "--mode", "restricted").returncode == 0
        assert rules_of(old_ip) == restricted(old_ip)
        lab.incus("config", "device", "set", name, "eth0", f"ipv4.address={new_ip}")
        lab.incus("restart", name, "--force")
        moved = time.monotonic()
        lab.wait_for_ipv4(name, new_ip)
        took = wait_for(lambda: rules_of(new_ip) == restricted(new_ip) and not rules_of(old_ip),
                        10, "rules follow the container")
        print(f"watch: rules followed the move {time.monotonic() - moved:.2f}s after the "
              f"restart ({took:.2f}s after the new address showed)")
        assert took <= 2.0
        assert not lab.http_get(name, lab.LAN_HOST)


def test_a_second_watch_refuses_and_names_the_first(watch: Watch) -> None:
    second = coi_tui("watch")
    assert second.returncode == 1
    assert f"PID {watch.process.pid}" in second.stderr and len(second.stderr.splitlines()) == 1


def test_freeze_guard_freezes_within_n_seconds_and_thaws_only_after_the_rules_are_back(
    first: tuple[str, str], tmp_path: Path
) -> None:
    name, ip = first
    prober = build_prober(tmp_path)
    guard = Watch(tmp_path, "--freeze-after", "1", "--no-backstop")  # the guard alone
    try:
        with probing(name, prober, lab.LAN_HOST, seconds=12):
            with counting(lab.NETNS["lan"]) as during:
                stopped = time.monotonic()
                lab.stop_firewalld()
                wait_for(lambda: lab.incus("list", name, "-c", "s", "-f", "csv").strip()
                         == "FROZEN", 10, "frozen")
                exposure = time.monotonic() - stopped
            with counting(lab.NETNS["lan"]) as after:
                time.sleep(2)
            print(f"freeze guard (N=1s): exposure {exposure:.2f}s, {during[-1] if during else 0}"
                  " probes arrived before the freeze")
            assert after == [0], "nothing may arrive once frozen"
            states: list[tuple[bool, str]] = []

            def thawed() -> bool:
                status = lab.incus("list", name, "-c", "s", "-f", "csv").strip()
                if lab.firewalld_answers():
                    states.append((rules_of(ip) == restricted(ip), status))
                return status == "RUNNING"

            with firewalld_restarted_in_background():
                wait_for(thawed, 30, "thawed")
            assert all(ok for ok, status in states if status == "RUNNING")
            assert rules_of(ip) == restricted(ip)
        log = guard.text()
        assert f"froze {name}" in log and f"thawed {name}" in log
        froze = log.index(f"froze {name}")
        assert log.index("restored after", froze) < log.index(f"thawed {name}", froze)
    finally:
        assert guard.stop() == 0


def test_with_the_backstop_the_freeze_guard_leaves_a_held_container_running_and_says_so(
    first: tuple[str, str], tmp_path: Path
) -> None:
    name, _ip = first
    guard = Watch(tmp_path, "--freeze-after", "1")
    try:
        lab.stop_firewalld()
        wait_for(lambda: f"freeze guard: not needed for {name}" in guard.text(), 10,
                 "the guard says the backstop holds it")
        time.sleep(1.5)
        assert lab.incus("list", name, "-c", "s", "-f", "csv").strip() == "RUNNING"
        assert not lab.http_get(name, lab.LAN_HOST)
        with firewalld_restarted_in_background():
            wait_for(lab.firewalld_answers, 60, "firewalld answers")
    finally:
        assert guard.stop() == 0


def test_opposite_applies_started_together_end_consistent_every_time() -> None:
    lab.require_lab()
    names = lab.CONTAINERS
    for name in names:
        clean(name)
    try:
        for _round in range(4):
            processes = [
                subprocess.Popen([sys.executable, "-m", "coi_tui", "apply", name, "--mode", mode,
                                  *ALLOW], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 text=True)
                for name in names for mode in ("restricted", "allowlist")
            ]
            for process in processes:
                _out, err = process.communicate(timeout=120)
                assert process.returncode == 0, err
            for name in names:
                ip = lab.container_ip(name)
                recorded = lab.incus("config", "get", name, MODE_CONFIG_KEY).strip()
                settings = NetworkSettings(allowed_domains=(lab.INTERNET_HOST,))
                want = set(desired_rules(ip, Mode(recorded), settings, lab.GATEWAY,
                                         [lab.INTERNET_HOST]))
                assert rules_of(ip) == want, f"{name}: rules are not {recorded}'s"
    finally:
        for name in names:
            clean(name)


def test_a_waiting_writer_says_who_holds_the_lock(tmp_path: Path) -> None:
    lab.require_lab()
    from coi_tui.runtime.hostlock import WRITER, HostLock

    held = HostLock(WRITER, what="test holder")
    assert held.try_acquire()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "coi_tui", "remove", lab.CONTAINERS[2]],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(3)
        assert process.poll() is None, "it must wait while the lock is held"
    finally:
        held.release()
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 0
    assert f"waiting for the writer lock, held by PID {os.getpid()} (test holder)" in err


def test_as_the_non_root_user_a_tightening_warns_that_flows_were_not_cut(
    first: tuple[str, str],
) -> None:
    name, _ip = first
    clean(name)
    result = coi_tui("apply", name, "--mode", "restricted", user=lab.LAB_USER)
    assert result.returncode == 0, result.stderr
    assert "existing flows were NOT cut" in result.stderr
    assert f"add to sudoers: {lab.LAB_USER} ALL=(ALL) NOPASSWD: /usr/sbin/conntrack" \
        in result.stderr


async def test_the_tui_says_exposed_and_restores_within_2s_of_firewalld_answering(
    first: tuple[str, str],
) -> None:
    name, ip = first
    app = lab_app(poll_interval=1.0)
    async with app.run_test(size=(140, 40)):
        banner = app.query_one(BackendBanner)
        await wait_until(lambda: f"default/{name}" in app.containers_view.table.rows, 10)
        await asyncio.to_thread(lab.stop_firewalld)
        # the TUI keeps the backstop: firewalld down, what the mode blocks stays blocked
        await wait_until(lambda: banner.display and "held by the backstop" in str(
            banner.render()) and name in str(banner.render()), timeout=5, what="the banner")
        assert app.containers_view.rows_list.cell(f"default/{name}", "flags") == "BACKSTOP"
        restart = threading.Thread(target=lab.start_firewalld)
        restart.start()
        await wait_until(lab.firewalld_answers, timeout=60)
        took = await wait_until(lambda: rules_of(ip) == restricted(ip), timeout=10)
        restart.join(120)
        print(f"TUI: rules back {took:.2f}s after firewalld answered again")
        assert took <= 2.0
        await wait_until(lambda: name not in str(banner.render()) or not banner.display,
                         timeout=5)
        await wait_until(lambda: app.progress.has_text("restored after"), timeout=5)
    assert not lab.http_get(name, lab.LAN_HOST)


async def test_while_a_watch_runs_the_tui_defers_to_it_and_says_so(
    first: tuple[str, str], watch: Watch
) -> None:
    _name, ip = first
    app = lab_app(poll_interval=1.0)
    async with app.run_test(size=(140, 40)):
        await wait_until(lambda: app.deferring_to is not None, timeout=10)
        assert app.deferring_to is not None and app.deferring_to.pid == watch.process.pid
        await wait_until(lambda: app.progress.has_text(
            f"PID {watch.process.pid} (coi-tui watch) keeps isolation"), timeout=5)
        reject = next(r for r in restricted(ip) if r.destination == "10.0.0.0/8")
        lab.firewall_cmd("--direct", "--remove-rule", *reject.cli_args())
        await wait_until(lambda: reject in rules_of(ip), timeout=5)
        await asyncio.sleep(1.5)
        assert not app.progress.has_text("restoring"), "only the watch restores"
    assert "restoring" in watch.text()


def test_watch_restores_after_the_system_dbus_restarts(
    first: tuple[str, str], watch: Watch
) -> None:
    """The system D-Bus dies (firewalld loses it and is restarted with it): once firewalld
    answers on the new bus, the watch has reconnected and the rules are back within 2 s."""
    name, ip = first
    pid = int((lab.LAB_STATE / "dbus.pid").read_text())  # the lab's own bus, by its PID
    os.kill(pid, signal.SIGTERM)
    wait_for(lambda: not Path(f"/proc/{pid}").exists(), 10, "dbus-daemon gone")
    wait_for(lambda: "the system D-Bus went away" in watch.text(), 10, "watch saw it")
    with firewalld_restarted_in_background():  # `up` brings the bus and firewalld back
        wait_for(lab.firewalld_answers, 60, "firewalld answers on the new bus")
        took = wait_for(lambda: rules_of(ip) == restricted(ip), 10, "rules back")
    print(f"watch: rules back {took:.2f}s after firewalld answered on a restarted D-Bus")
    assert took <= 2.0
    assert not lab.http_get(name, lab.LAN_HOST)
