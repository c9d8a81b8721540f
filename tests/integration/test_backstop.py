"""The backstop on the lab, with the 1 kHz prober: firewalld stopping with `watch` running lets
no probe through what the modes block, and what they allow still flows; every fail-closed mode
switch moves it without a probe through and without blocking what the new mode allows; a
reused address is not blocked; `watch` exiting takes it away, a killed one leaves it to the
next start and to the orphan review."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.changes import ChangePlanner, fresh_job
from coi_tui.eras.firewalld.backstop import Backstop, chain_ip, chain_name
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.models import Mode, NetworkSettings
from coi_tui.runtime.engine import JobFinished
from tests import lab_support as lab
from tests.integration.test_engine_traffic import ALLOW_ONE, Engine, bare, remove_all_rules_of
from tests.integration.test_isolation_kept import Watch, clean, coi_tui, wait_for
from tests.traffic import build_prober, counting, probing

pytestmark = pytest.mark.lab

REUSED = "10.147.0.77"


def chains() -> frozenset[str] | None:
    done = subprocess.run(["nft", "-j", "list", "table", "ip", "coi_tui_backstop"],
                          capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        return None
    return frozenset(i["chain"]["name"] for i in json.loads(done.stdout)["nftables"]
                     if "chain" in i and chain_ip(i["chain"]["name"]))


DEFAULTS = NetworkSettings()


def holds(ip: str, mode: Mode, settings: NetworkSettings = DEFAULTS,
          allowed: tuple[str, ...] = ()) -> bool:
    want = chain_name(ip, desired_rules(ip, mode, settings, lab.GATEWAY, allowed))
    return want in (chains() or ())


@pytest.fixture
def two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, str, str, str]]:
    """coi-lab-1 restricted and coi-lab-2 allowlist (the internet host only), by coi-tui; the
    same allowlist in COI's config, so the watch's refresher keeps it."""
    lab.require_lab()
    config = tmp_path / "config.toml"
    config.write_text(f'[network]\nallowed_domains = ["{lab.INTERNET_HOST}"]\n')
    monkeypatch.setenv("COI_CONFIG", str(config))
    one, two = lab.CONTAINERS[0], lab.CONTAINERS[1]
    for name in (one, two):
        clean(name)
    assert coi_tui("apply", one, "--mode", "restricted").returncode == 0
    assert coi_tui("apply", two, "--mode", "allowlist", "--allow",
                   lab.INTERNET_HOST).returncode == 0
    try:
        yield one, lab.container_ip(one), two, lab.container_ip(two)
    finally:
        if not lab.firewalld_answers():
            lab.start_firewalld()
        for name in (one, two):
            clean(name)


def test_firewalld_stopped_with_watch_running_lets_no_probe_through_and_allowed_traffic_flows(
    two: tuple[str, str, str, str], tmp_path: Path,
) -> None:
    one, ip1, other, ip2 = two
    watch = Watch(tmp_path)  # no freeze guard
    try:
        wait_for(lambda: holds(ip1, Mode.RESTRICTED) and holds(
            ip2, Mode.ALLOWLIST, allowed=(lab.INTERNET_HOST,)), 10, "the backstop holds both")
        prober = build_prober(tmp_path)
        with counting(lab.NETNS["lan"]) as lan, counting(lab.NETNS["meta"]) as meta, \
                probing(one, prober, lab.LAN_HOST, 40), probing(other, prober, lab.LAN_HOST, 40), \
                probing(one, prober, lab.METADATA_HOST, 40), \
                probing(other, prober, lab.METADATA_HOST, 40):
            lab.stop_firewalld()
            wait_for(lambda: f"{one}: BACKSTOP" in watch.text(), 5, "watch says BACKSTOP")
            assert f"{other}: BACKSTOP" in watch.text()
            assert "firewalld down, held by the backstop" in watch.text()
            for _ in range(5):  # about 10 s without firewalld: what the modes allow flows
                assert lab.http_get(one, lab.INTERNET_HOST)
                assert lab.http_get(one, lab.INTERNET_HOST_2)
                assert lab.http_get(other, lab.INTERNET_HOST)
                assert not lab.http_get(other, lab.INTERNET_HOST_2)
                time.sleep(1.5)
            lab.start_firewalld()
            wait_for(lambda: lab.rules_of(ip1) == set(desired_rules(
                ip1, Mode.RESTRICTED, NetworkSettings(), lab.GATEWAY)), 10, "rules restored")
            resting = frozenset({
                chain_name(ip1, desired_rules(ip1, Mode.RESTRICTED, DEFAULTS, lab.GATEWAY)),
                chain_name(ip2, desired_rules(ip2, Mode.ALLOWLIST, DEFAULTS, lab.GATEWAY,
                                              (lab.INTERNET_HOST,)))})
            wait_for(lambda: chains() == resting, 10, "the backstop at rest: one chain each")
        print(f"probes through while firewalld was stopped: LAN {lan[0]}, metadata {meta[0]}")
        assert lan == [0] and meta == [0]
    finally:
        assert watch.stop() == 0, watch.text()
    assert chains() is None, "a clean exit leaves no backstop"


def test_mode_switches_move_the_backstop_with_no_probe_through_and_no_over_blocking(
    tmp_path: Path,
) -> None:
    backstop = Backstop()
    backstop.active = True
    era = FirewalldEra(backstop)
    engine = Engine(tmp_path)

    def planner() -> ChangePlanner:
        return ChangePlanner(IncusBackend(), ALLOW_ONE, era=era)

    def switch(name: str, mode: Mode) -> None:
        p = planner()
        engine.engine.submit(fresh_job(f"{mode}", p.containers,
                                       lambda fw: p.apply([name], mode, fw.list_rules())))
        assert engine.engine.wait_idle(30)

    try:
        with bare(lab.CONTAINERS[0]) as (name, ip):
            prober = build_prober(tmp_path)
            switch(name, Mode.RESTRICTED)
            assert holds(ip, Mode.RESTRICTED)
            with probing(name, prober, lab.LAN_HOST, 30), counting(lab.NETNS["lan"]) as lan:
                for mode in [Mode.ALLOWLIST, Mode.RESTRICTED] * 10:
                    switch(name, mode)
                    assert chains() == frozenset({chain_name(ip, desired_rules(
                        ip, mode, ALLOW_ONE, lab.GATEWAY, ALLOW_ONE.allowed_domains))})
            assert all(e.ok for e in engine.events if isinstance(e, JobFinished))
            assert lan == [0], f"{lan[0]} probes reached the LAN host"
            assert lab.http_get(name, lab.INTERNET_HOST_2)  # restricted: the internet flows
            switch(name, Mode.ALLOWLIST)
            assert lab.http_get(name, lab.INTERNET_HOST)  # the allowed address flows
            switch(name, Mode.OPEN)
            assert lab.http_get(name, lab.LAN_HOST)  # open: the backstop blocks nothing
    finally:
        engine.engine.stop()
        backstop.remove()


def test_an_address_reused_by_a_container_without_a_mode_is_not_blocked(tmp_path: Path) -> None:
    lab.require_lab()
    watch = Watch(tmp_path)
    try:
        with lab.launched("coi-lab-bs1", REUSED) as old:
            assert coi_tui("apply", old, "--mode", "restricted").returncode == 0
            wait_for(lambda: holds(REUSED, Mode.RESTRICTED), 10, "the backstop holds it")
        # COI leaves a deleted container's direct rules behind (the Orphans view's to clean);
        # the backstop lets its chain go with the container
        wait_for(lambda: not any(chain_ip(c) == REUSED for c in chains() or ()), 10,
                 "nothing of the old container's is held at its address")
        remove_all_rules_of(REUSED)
        with lab.launched("coi-lab-bs2", REUSED) as new:  # no recorded mode
            time.sleep(2 * 1.0)  # two of the watch's snapshots
            assert not any(chain_ip(c) == REUSED for c in chains() or ())
            assert lab.http_get(new, lab.LAN_HOST) and lab.http_get(new, lab.METADATA_HOST)
    finally:
        assert watch.stop() == 0, watch.text()


def test_watch_exit_removes_it_and_a_killed_watch_leaves_it_to_the_next_and_the_orphan_review(
    two: tuple[str, str, str, str], tmp_path: Path,
) -> None:
    _one, ip1, _other, _ip2 = two
    for log_dir in ("a", "b"):
        (tmp_path / log_dir).mkdir()
    first = Watch(tmp_path / "a")
    wait_for(lambda: holds(ip1, Mode.RESTRICTED), 10, "the backstop holds coi-lab-1")
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(10)
    assert holds(ip1, Mode.RESTRICTED), "a killed keeper leaves the backstop in force"
    listing = json.loads(coi_tui("orphans", "--json").stdout)
    assert any(o["id"] == "ip coi_tui_backstop" for o in listing["orphans"]), listing
    second = Watch(tmp_path / "b")
    try:
        wait_for(lambda: "backstop" not in json.dumps(
            json.loads(coi_tui("orphans", "--json").stdout)["orphans"]), 10,
            "taken over: no orphan any more")
        assert holds(ip1, Mode.RESTRICTED)
    finally:
        assert second.stop() == 0, second.text()
    assert chains() is None


def test_without_the_backstop_the_same_stop_lets_probes_through(
    two: tuple[str, str, str, str], tmp_path: Path,
) -> None:
    """The control: the prober sees what the backstop prevents."""
    one, _ip1, _other, _ip2 = two
    watch = Watch(tmp_path, "--no-backstop")
    try:
        assert chains() is None
        prober = build_prober(tmp_path)
        with counting(lab.NETNS["lan"]) as lan, probing(one, prober, lab.LAN_HOST, 12):
            lab.stop_firewalld()
            time.sleep(3)
            lab.start_firewalld()
        print(f"probes through without the backstop: LAN {lan[0]}")
        assert lan[0] > 0
    finally:
        assert watch.stop() == 0, watch.text()
