"""The refresher in the nft era (fake clock, DNS, nft objects and container shell): a moved
answer is added (never a delete) and then written into the container's /etc/hosts block; an
answer already pinned with the block in step is no job; a block out of step is a job of its
own; old answers are shown with their age; a prune is one reviewed transaction plus the
block, and is refused while a name does not answer."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from coi_tui.changes import ChangePlanner
from coi_tui.eras.nft.era import NftEra, NftTransaction
from coi_tui.eras.nft.hosts_file import ALLOWLIST_BEGIN, ALLOWLIST_END, HostsBlockStep
from coi_tui.eras.nft.objects import NftCoiChain, NftCoiRule
from coi_tui.eras.nft.policy import BASE_RULE
from coi_tui.errors import BadInput
from coi_tui.keep.prune import prune_change
from coi_tui.keep.refresher import DnsRefresher
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan
from coi_tui.runtime.engine import Job
from coi_tui.services.dns.report import old_answers_text, state_record
from coi_tui.services.resolve import Resolution, resolve_allowlist
from tests.unit.dns_fakes import FakeQuerier
from tests.unit.fakes import FakeContainers, lab_like_container
from tests.unit.hosts_fakes import FakeShell

NAME = "www.lab.test"
OLD, NEW = "203.0.113.10", "203.0.113.20"
GW = "10.147.0.1"
SETTINGS = NetworkSettings(mode=Mode.ALLOWLIST, allowed_domains=(NAME,))
BOX = lab_like_container("coi-lab-3", "10.147.0.130")
BLOCK_OLD = f"{ALLOWLIST_BEGIN}\n{OLD}\t{NAME}\n{ALLOWLIST_END}"
BLOCK_NEW = f"{ALLOWLIST_BEGIN}\n{NEW}\t{NAME}\n{ALLOWLIST_END}"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Rig:
    def __init__(self, tmp: Path, pinned: Sequence[str], hosts: str) -> None:
        self.clock = Clock()
        self.zone = FakeQuerier({NAME: ([OLD], 300)})
        self.shell = FakeShell(hosts)
        self.era = NftEra(shell=lambda: self.shell)
        self.containers = FakeContainers([BOX])
        self.live = self.objects(pinned)
        self.jobs: list[Job] = []
        self.home = tmp
        self.refresher = DnsRefresher(SETTINGS, self.containers, lambda: self.live,
                                      self.jobs.append, home=tmp, resolve=self.resolve,
                                      clock=self.clock, era=self.era)

    def objects(self, pinned: Sequence[str]) -> tuple[CoiRule, ...]:
        table = (NftCoiChain("ip", "coi", "forward", "forward"),
                 NftCoiChain("ip", "coi", "input", "input"),
                 NftCoiChain("ip6", "coi", "forward", "forward"),
                 NftCoiRule(BASE_RULE.family, "coi", BASE_RULE.chain, BASE_RULE.canonical,
                            BASE_RULE.comment, 1, 0))
        return table + tuple(self.era.desired(BOX, Mode.ALLOWLIST, SETTINGS, GW,
                                              {NAME: tuple(pinned)}))

    def resolve(self, entries: Sequence[str], allow_local: bool) -> Resolution:
        return resolve_allowlist(entries, allow_local=allow_local, resolver=self.zone,
                                 clock=self.clock)

    def build(self, job: Job) -> Plan:
        plan, _done = job.build(self)  # type: ignore[arg-type]
        return plan

    def list_rules(self) -> Sequence[CoiRule]:  # the job's view of the firewall
        return self.live


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HOME", str(tmp_path))  # the planner reads COI's cache under HOME
    return tmp_path


def test_a_moved_answer_is_added_never_deleted_then_named_in_the_hosts_file(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, [OLD], "127.0.0.1\tlocalhost\n" + BLOCK_OLD + "\n")
    state = rig.refresher.refresh_now()
    assert rig.jobs == [] and state.containers[0].hosts_file == "in step"
    assert state.containers[0].old_answers == ()
    rig.zone.zone[NAME] = ([NEW], 300)
    rig.clock.now += 300
    rig.refresher.refresh_now()
    (job,) = rig.jobs
    plan = rig.build(job)
    transaction, write = plan.steps
    assert isinstance(transaction, NftTransaction) and isinstance(write, HostsBlockStep)
    assert transaction.script.lines == (
        f"add element ip coi coi_d_10_147_0_130 {{ {NEW} }}",
        f"add element ip coi coi_dp_10_147_0_130 {{ {NEW} . 1-65535 }}",
    )
    assert write.block.text == BLOCK_NEW  # the new answer only, as COI's refresh writes it
    rig.live = rig.objects([OLD, NEW])  # the transaction ran
    write.run(None)  # type: ignore[arg-type]
    assert rig.shell.text == "127.0.0.1\tlocalhost\n" + BLOCK_NEW + "\n"
    rig.jobs.clear()
    rig.clock.now += 300
    state = rig.refresher.refresh_now()
    assert rig.jobs == []  # the set holds the answer, the file says it: nothing to do
    (pins,) = state.containers
    assert pins.rule_ips == (OLD, NEW) and pins.hosts_file == "in step"
    assert pins.old_answers is not None
    (old,) = pins.old_answers
    assert (old.ip, old.answered, old.age(rig.clock.now)) == (OLD, True, 600)
    assert old_answers_text(pins, rig.clock.now) == f"{OLD} (unanswered 10m)"
    record = state_record(state, rig.clock.now)["containers"]
    assert record[0]["old_answers"] == [  # type: ignore[index]
        {"ip": OLD, "since": "2027-01-15T08:00:00Z", "answered": True, "age_seconds": 600}]


def test_a_hosts_block_out_of_step_is_a_job_of_its_own(tmp_path: Path) -> None:
    rig = Rig(tmp_path, [OLD], "127.0.0.1\tlocalhost\n")  # an older coi-tui wrote no block
    state = rig.refresher.refresh_now()
    (job,) = rig.jobs
    assert state.containers[0].hosts_file == "not in step (this refresh rewrites it)"
    (write,) = rig.build(job).steps  # the set already holds the answer: the file only
    assert isinstance(write, HostsBlockStep) and write.block.text == BLOCK_OLD


def test_a_failed_name_keeps_every_pin_and_dates_nothing_as_old(tmp_path: Path) -> None:
    rig = Rig(tmp_path, [OLD], BLOCK_OLD + "\n")
    rig.zone.zone.clear()  # NXDOMAIN, nothing cached
    state = rig.refresher.refresh_now()
    assert rig.jobs == []
    assert state.containers[0].old_answers is None  # unknown: never offered for pruning


def test_prune_is_one_transaction_then_the_block_and_needs_every_name_answered(
        tmp_path: Path) -> None:
    rig = Rig(tmp_path, [OLD, NEW], BLOCK_NEW + "\n")
    rig.zone.zone[NAME] = ([NEW], 300)
    planner = ChangePlanner(rig.containers, SETTINGS, era=rig.era)
    change = prune_change(planner, SETTINGS, [BOX.name], rig.live, rig.resolve)
    transaction, write = change.plan.steps
    assert isinstance(transaction, NftTransaction) and isinstance(write, HostsBlockStep)
    assert transaction.script.lines == (
        f"delete element ip coi coi_d_10_147_0_130 {{ {OLD} }}",
        f"delete element ip coi coi_dp_10_147_0_130 {{ {OLD} . 1-65535 }}",
    )
    assert write.block.text == BLOCK_NEW
    assert change.targets == ()  # nothing to record, no flow cut
    rig.zone.zone.clear()
    with pytest.raises(BadInput, match="did not answer now"):
        prune_change(planner, SETTINGS, [BOX.name], rig.live, rig.resolve)
    other = Container("coi-lab-9", "default", "Running", "10.147.0.9", "veth9", "incusbr0",
                      None)
    planner = ChangePlanner(FakeContainers([BOX, other]), SETTINGS, era=rig.era)
    with pytest.raises(BadInput, match="coi-lab-9 is not in allowlist mode"):
        prune_change(planner, SETTINGS, ["coi-lab-9"], rig.live, rig.resolve)
