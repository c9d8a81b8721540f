"""The status line and the header's counts: the pure text, then one app at 80x24 whose poll
stops delivering."""

from __future__ import annotations

import threading

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.keep.keeper import KeeperParts
from coi_tui.keep.refresher import DnsState
from coi_tui.models import (
    BackendStatus,
    Container,
    ContainerState,
    Inventory,
    Isolation,
    Mode,
    ModeSource,
)
from coi_tui.plans import Plan
from coi_tui.runtime.engine import JobFinished, JobStarted, Notice
from coi_tui.services.dns.records import DomainRecord, DomainStatus
from coi_tui.services.inventory import InventorySource
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.widgets.status import header_counts, status_text, worker_text
from tests.unit.fakes import FakeContainers, FakeFirewall, lab_like_container
from tests.waiting import wait_until

OK = (BackendStatus("incus", True), BackendStatus("firewalld", True, firewall=True,
                                                  access="D-Bus"))


def inventory(taken_at: float = 100.0, backends: tuple[BackendStatus, ...] = OK,
              states: tuple[ContainerState, ...] = ()) -> Inventory:
    return Inventory(containers=states, backends=backends, taken_at=taken_at)


def text(now: float = 101.0, inv: Inventory | None = None, **kwargs: object) -> str:
    return status_text(now, inv if inv is not None else inventory(), interval=2.0,
                       started_at=90.0, **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------ status_text
def test_fresh_data_says_how_old_the_worker_and_the_access() -> None:
    assert text() == "updated 1 s ago · worker idle · D-Bus"


def test_no_update_for_more_than_two_poll_intervals_is_late() -> None:
    assert text(now=104.0).startswith("updated 4 s ago")  # two intervals: not yet
    assert text(now=114.0).startswith("LATE: no update for 14 s · ")


def test_paused_is_never_late() -> None:
    assert text(now=130.0, paused=True) == "updated 30 s ago · PAUSED · worker idle · D-Bus"


def test_before_the_first_inventory_it_waits_then_is_late() -> None:
    def first(now: float) -> str:
        return status_text(now, None, interval=2.0, started_at=90.0, worker=None)

    assert first(91.0) == "waiting for the first update"
    assert first(95.0) == "LATE: no update for 5 s"


def test_a_backend_that_failed_does_not_answer() -> None:
    down = (BackendStatus("incus", False, "Incus at /x is not answering"),
            BackendStatus("firewalld", False, "firewalld is not running", down=True,
                          firewall=True, access="D-Bus"))
    assert text(inv=inventory(backends=down)) == (
        "updated 1 s ago · Incus not answering · firewalld not running · worker idle · D-Bus")
    nft = (BackendStatus("incus", True),
           BackendStatus("nft", False, "nft did not answer", firewall=True, access="sudo nft"))
    assert "nft not answering · worker idle · sudo nft" in text(inv=inventory(backends=nft))


def test_a_poll_that_waits_on_incus_says_so_before_it_returns() -> None:
    # the last inventory was fine; the poll under way has waited on Incus 1.5 s
    assert "Incus not answering" in text(now=101.5, waiting=("incus", 100.0))
    assert "not answering" not in text(now=100.5, waiting=("incus", 100.0))
    # both seen (the last one failed, the next waits): said once
    failed = inventory(backends=(BackendStatus("incus", False, "timed out"), OK[1]))
    assert text(now=102.0, inv=failed, waiting=("incus", 100.5)).count("Incus") == 1


def test_dns_that_answers_nothing_is_not_answering() -> None:
    def state(*errors: str) -> DnsState:
        return DnsState(records=tuple(
            DomainRecord(f"d{i}.test", status=DomainStatus.FAILED, error=e)
            for i, e in enumerate(errors)))

    silent = state("LifetimeTimeout: The resolution lifetime expired after 5.0 seconds",
                   "NoNameservers: All nameservers failed to answer the query")
    assert "DNS not answering" in text(dns=silent)
    nxdomain = state("NXDOMAIN: The DNS query name does not exist: d0.test.",
                     "LifetimeTimeout: The resolution lifetime expired")
    assert "DNS" not in text(dns=nxdomain)  # someone answered: one domain is the DNS view's
    assert "DNS" not in text(dns=DnsState())


def test_the_last_error_is_one_line_at_the_end() -> None:
    assert text(last_error="error 12:00:01: job 3:\nfirewalld refused [x]") == (
        "updated 1 s ago · worker idle · D-Bus · error 12:00:01: job 3: firewalld refused [x]")


def test_the_worker_follows_its_jobs() -> None:
    plan = Plan(title="restricted for coi-lab-1")
    state = worker_text("worker idle", JobStarted(3, plan.title, 5, plan))
    assert state == "worker: job 3 0/5"
    assert worker_text(state, Notice("firewalld restarted")) == state
    failed = JobFinished(3, plan.title, ok=False, error="firewalld refused")
    assert worker_text(state, failed) == "worker: FAILED restricted for coi-lab-1"
    assert worker_text(state, JobFinished(3, plan.title, ok=True)) == "worker idle"
    assert "worker" not in text(worker=None)  # read-only: no worker at all


# ------------------------------------------------------------------ header_counts
def state(name: str, isolation: Isolation | None, mode: Mode | None = Mode.RESTRICTED,
          ip: str | None = "10.147.0.5") -> ContainerState:
    container = Container(name=name, project="default", status="Running", ipv4=ip, veth=None,
                          network="incusbr0", mode_key=mode.value if mode else None)
    return ContainerState(container, mode=mode, mode_source=ModeSource.SET if mode else
                          ModeSource.NONE, isolation=isolation)


def test_the_header_counts_what_is_not_protected_in_plain_words() -> None:
    states = (state("a", None, None), state("b", None, None),
              state("c", Isolation.EXPOSED), state("d", Isolation.DRIFT),
              state("e", Isolation.OK), state("f", None, None, ip=None))
    assert header_counts(inventory(states=states), 3) == (
        "2 unprotected · 1 EXPOSED · 1 drifted · 3 orphans")
    assert header_counts(inventory(states=states[2:4]), 1) == "1 EXPOSED · 1 drifted · 1 orphan"


def test_all_protected_and_the_open_ones() -> None:
    five = tuple(state(f"c{i}", Isolation.OK) for i in range(5))
    assert header_counts(inventory(states=five), 0) == "all 5 protected"
    assert header_counts(inventory(states=five), None) == "all 5 protected"
    opened = (*five[:4], state("o", Isolation.OK, Mode.OPEN))
    assert header_counts(inventory(states=opened), 2) == "4 protected · 1 open · 2 orphans"
    assert header_counts(inventory(states=(state("s", None, None, ip=None),)), 0) == (
        "no running containers")


# ------------------------------------------------------------------ the app at 80x24
class GatedContainers(FakeContainers):
    """Incus that stops answering: list_containers blocks while the gate is closed."""

    def __init__(self, containers: list[Container]) -> None:
        super().__init__(containers)
        self.gate = threading.Event()
        self.gate.set()

    def list_containers(self) -> list[Container]:
        self.gate.wait(30)
        return super().list_containers()


async def test_the_status_line_is_one_row_and_says_late_when_inventories_stop() -> None:
    containers = GatedContainers([lab_like_container("coi-lab-1", "10.147.0.101")])
    firewall = FakeFirewall()
    wiring = Wiring(KeeperParts(lambda: InventorySource(
        lambda: containers, lambda: firewall, dict, era=FirewalldEra())))
    app = CoiApp(wiring, poll_interval=0.2)
    try:
        async with app.run_test(size=(80, 24)):
            line = app.status_line
            await wait_until(lambda: line.shown.startswith("updated"), what="a first update")
            assert line.region.height == 1 and line.region.width == 80
            assert line.region.y == 22  # just above the footer
            assert line.shown.endswith("fake")  # the firewall access, from the backend
            assert app.sub_title == "READ-ONLY · 1 unprotected"
            containers.gate.clear()  # the next poll blocks on Incus
            await wait_until(lambda: line.shown.startswith("LATE: no update for"), timeout=4,
                             what="LATE")
            assert "Incus not answering" in line.shown and line.has_class("-warning")
            line._set_error("a long error " * 20)  # elided, never wrapped
            line.repaint()
            assert line.region.height == 1
            containers.gate.set()
            await wait_until(lambda: line.shown.startswith("updated"), timeout=4,
                             what="fresh again")
            assert "not answering" not in line.shown and not line.has_class("-warning")
    finally:
        containers.gate.set()
