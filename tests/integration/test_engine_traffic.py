"""The firewall engine against the real lab: the rules COI would apply, proven with traffic."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from coi_tui.backends.incus import IncusBackend
from coi_tui.changes import ChangePlanner, fresh_job
from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.firewalld.policy import BASE_RULE, desired_rules, owned_by
from coi_tui.models import MODE_CONFIG_KEY, Mode, NetworkSettings
from coi_tui.runtime.audit import AuditLog
from coi_tui.runtime.engine import EngineEvent, FirewallEngine, JobFinished
from tests import lab_support as lab
from tests.traffic import PROBE_DIR, build_prober, counting, probing

pytestmark = pytest.mark.lab

ALLOW_ONE = NetworkSettings(allowed_domains=(lab.INTERNET_HOST,))

FIREWALLD = FirewalldEra()


def coi_tui(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120)


rules_of = lab.rules_of


def remove_all_rules_of(*ips: str) -> None:
    firewall = DBusFirewall()
    for rule in firewall.list_rules():
        if any(owned_by(rule, ip) for ip in ips):
            firewall.remove_rule(rule)
    firewall.close()


class Engine:
    """The engine as the app runs it, with a record of its events."""

    def __init__(self, tmp: Path) -> None:
        self.events: list[EngineEvent] = []
        self.audit = AuditLog(tmp / "audit.jsonl")
        self.engine = FirewallEngine(DBusFirewall, self.events.append, self.audit).start()
        self.containers = IncusBackend()

    def planner(self, settings: NetworkSettings = ALLOW_ONE) -> ChangePlanner:
        return ChangePlanner(IncusBackend(), settings, era=FIREWALLD)

    def apply(self, name: str, mode: Mode, settings: NetworkSettings = ALLOW_ONE) -> JobFinished:
        planner = self.planner(settings)
        self.engine.submit(fresh_job(f"{mode} for {name}", planner.containers,
                                     lambda fw: planner.apply([name], mode, fw.list_rules())))
        assert self.engine.wait_idle(60)
        finished = [e for e in self.events if isinstance(e, JobFinished)]
        return finished[-1]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    lab.require_lab()
    runner = Engine(tmp_path)
    try:
        yield runner
    finally:
        runner.engine.stop()


@contextmanager
def bare(name: str) -> Iterator[tuple[str, str]]:
    """A lab container with no rules and no recorded mode, before and after."""
    lab.require_lab()
    ip = lab.container_ip(name)
    remove_all_rules_of(ip)
    try:
        yield name, ip
    finally:
        remove_all_rules_of(ip)
        lab.run("incus", "config", "unset", name, MODE_CONFIG_KEY, check=False)


@pytest.fixture
def first() -> Iterator[tuple[str, str]]:
    with bare(lab.CONTAINERS[0]) as container:
        yield container


def reachable(name: str) -> dict[str, bool]:
    hosts = (lab.INTERNET_HOST, lab.INTERNET_HOST_2, lab.LAN_HOST, lab.METADATA_HOST)
    return {host: lab.http_get(name, host) for host in hosts}


def test_apply_restricted_puts_exactly_coi_rules_in_place_and_blocks_lan_and_metadata(
    first: tuple[str, str],
) -> None:
    name, ip = first
    result = coi_tui("apply", name, "--mode", "restricted")
    assert result.returncode == 0, result.stderr
    want = set(desired_rules(ip, Mode.RESTRICTED, NetworkSettings(), lab.GATEWAY))
    assert rules_of(ip) == want
    assert f"ipv4 filter FORWARD 50 -s {ip} -d 0.0.0.0/0 -j ACCEPT" in lab.direct_rules()
    assert str(BASE_RULE) in lab.direct_rules()
    assert reachable(name) == {
        lab.INTERNET_HOST: True, lab.INTERNET_HOST_2: True,
        lab.LAN_HOST: False, lab.METADATA_HOST: False,
    }
    other = lab.CONTAINERS[1]
    assert lab.http_get(other, lab.LAN_HOST) and lab.http_get(other, lab.METADATA_HOST)
    assert lab.incus("config", "get", name, MODE_CONFIG_KEY).strip() == "restricted"


def test_allowlist_lets_only_the_allowed_host_through_and_open_lets_everything(
    first: tuple[str, str],
) -> None:
    name, _ip = first
    result = coi_tui("apply", name, "--mode", "allowlist", "--allow", lab.INTERNET_HOST)
    assert result.returncode == 0, result.stderr
    assert reachable(name) == {
        lab.INTERNET_HOST: True, lab.INTERNET_HOST_2: False,
        lab.LAN_HOST: False, lab.METADATA_HOST: False,
    }
    result = coi_tui("apply", name, "--mode", "open")
    assert result.returncode == 0, result.stderr
    assert all(reachable(name).values())


def test_dry_run_prints_the_exact_plan_and_changes_nothing(first: tuple[str, str]) -> None:
    name, ip = first
    before = lab.direct_rules()
    result = coi_tui("apply", name, "--mode", "restricted", "--dry-run", "--json")
    assert result.returncode == 0, result.stderr
    steps = json.loads(result.stdout)["steps"]
    planned = {line["text"] for s in steps for line in s["lines"] if line["action"] == "add"}
    assert {str(r) for r in desired_rules(ip, Mode.RESTRICTED, NetworkSettings(),
                                          lab.GATEWAY)} <= planned
    assert lab.direct_rules() == before


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["apply", "coi-lab-nope", "--mode", "open"], 2, "no such container"),
        (["apply", "coi-lab-1", "--mode", "strict"], 2, "unknown mode 'strict'"),
        (["apply", "coi-lab-1", "--mode", "allowlist", "--allow", "nx.lab.test"], 2,
         "failed to resolve any allowed domains"),
        (["remove", "coi-lab-nope"], 2, "no such container"),
    ],
)
def test_bad_input_gets_a_one_line_reason_and_leaves_firewalld_alone(
    args: list[str], code: int, words: str
) -> None:
    lab.require_lab()
    before = lab.direct_rules()
    result = coi_tui(*args)
    assert result.returncode == code
    assert len(result.stderr.splitlines()) == 1 and words in result.stderr
    assert lab.direct_rules() == before


def test_a_stopped_container_without_ip_is_refused() -> None:
    lab.require_lab()
    with lab.launched("coi-lab-stopped") as name:
        lab.incus("stop", "--force", name)
        before = lab.direct_rules()
        result = coi_tui("apply", name, "--mode", "restricted")
        assert result.returncode == 2
        assert "has no IPv4 address" in result.stderr and len(result.stderr.splitlines()) == 1
        assert lab.direct_rules() == before


def test_without_permission_on_firewalld_nothing_changes() -> None:
    lab.require_lab()
    user = "coi-nofw"  # in incus-admin, but no sudoers line for firewall-cmd
    lab.run("useradd", "-M", "-G", "incus-admin", user, check=False)
    try:
        before = lab.direct_rules()
        result = lab.run(
            "runuser", "-u", user, "--", sys.executable, "-m", "coi_tui", "apply",
            lab.CONTAINERS[0], "--mode", "restricted", check=False,
        )
        assert result.returncode in (1, 2)
        assert len(result.stderr.splitlines()) == 1, result.stderr
        assert "firewall-cmd" in result.stderr and "Traceback" not in result.stderr
        assert lab.direct_rules() == before
    finally:
        lab.run("userdel", user, check=False)


def test_removing_10_147_0_5_leaves_10_147_0_50_intact(tmp_path: Path) -> None:
    lab.require_lab()
    runner = Engine(tmp_path)
    try:
        with lab.pinned_containers() as (five, fifty):
            assert runner.apply(five, Mode.RESTRICTED).ok
            assert runner.apply(fifty, Mode.RESTRICTED).ok
            kept = rules_of("10.147.0.50")
            result = coi_tui("remove", five)
            assert result.returncode == 0, result.stderr
            assert rules_of("10.147.0.5") == set()
            assert rules_of("10.147.0.50") == kept and len(kept) == 6
            remove_all_rules_of("10.147.0.50")
    finally:
        runner.engine.stop()


def test_every_step_is_audited(engine: Engine, first: tuple[str, str]) -> None:
    name, _ip = first
    finished = engine.apply(name, Mode.RESTRICTED)
    assert finished.ok
    lines = engine.audit.read()
    assert len(lines) >= 6
    assert {line["container"] for line in lines} == {name}
    assert all(line["ok"] for line in lines)


def test_fail_closed_switching_never_lets_a_probe_through_and_coi_order_does(
    engine: Engine, first: tuple[str, str], tmp_path: Path
) -> None:
    name, ip = first
    prober = build_prober(tmp_path)
    planner = engine.planner()
    assert engine.apply(name, Mode.RESTRICTED).ok
    modes = [Mode.ALLOWLIST, Mode.RESTRICTED] * 25

    with probing(name, prober, lab.LAN_HOST, seconds=60):
        with counting(lab.NETNS["lan"]) as ours:
            for mode in modes:
                engine.engine.submit(fresh_job(
                    f"{mode}", planner.containers,
                    lambda fw, m=mode: planner.apply([name], m, fw.list_rules())))  # type: ignore[misc]
                assert engine.engine.wait_idle(30)
        assert all(e.ok for e in engine.events if isinstance(e, JobFinished))

        firewall = DBusFirewall()
        with counting(lab.NETNS["lan"]) as coi:
            for mode in modes:  # COI's way: remove everything of the IP, then add the new set
                for rule in firewall.list_rules():
                    if owned_by(rule, ip):
                        firewall.remove_rule(rule)
                for rule in desired_rules(ip, mode, ALLOW_ONE, lab.GATEWAY,
                                          ALLOW_ONE.allowed_domains):
                    firewall.add_rule(rule)
        firewall.close()
        engine.engine.stop()  # the prober runs on; nothing more to measure
        remove_all_rules_of(ip)

    print(f"probes that reached the LAN host: fail-closed {ours[0]}, COI's order {coi[0]}")
    assert ours == [0], f"{ours[0]} probes reached the LAN host during fail-closed switches"
    assert coi[0] > 0, "COI's order let no probe through: the probe would not see a leak"


def test_tightening_cuts_a_flow_that_was_open_before(
    engine: Engine, first: tuple[str, str]
) -> None:
    """The shared RELATED,ESTABLISHED ACCEPT would keep an old flow to the LAN alive; the engine
    deletes the container's tracked flows after a change, so the new REJECTs bite at once."""
    name, _ip = first
    assert engine.apply(name, Mode.OPEN).ok
    server = subprocess.Popen(
        ["ip", "netns", "exec", lab.NETNS["lan"], sys.executable,
         str(PROBE_DIR / "tcp_counter.py"), "7000"],
        stdout=subprocess.PIPE, text=True,
    )
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    received = [0]
    reader = threading.Thread(
        target=lambda: [received.__setitem__(0, int(line)) for line in server.stdout or ()],
        daemon=True,
    )
    reader.start()
    talker = subprocess.Popen(
        ["incus", "exec", name, "--", "sh", "-c",
         f"while true; do echo tick; sleep 0.05; done | nc {lab.LAN_HOST} 7000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while received[0] < 50:
            assert time.monotonic() < deadline, "the flow never got going"
            time.sleep(0.1)
        assert engine.apply(name, Mode.RESTRICTED).ok
        time.sleep(0.5)  # what was in flight lands
        after_switch = received[0]
        time.sleep(2)
        assert received[0] == after_switch, "the old flow still delivers after tightening"
    finally:
        talker.kill()
        server.kill()
        talker.wait()
        server.wait()
