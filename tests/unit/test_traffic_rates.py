"""Per-container rx/tx rates from a fake /sys/class/net: the container's view, restarts never
give a negative rate, and the history keeps the last minutes only."""

from __future__ import annotations

from pathlib import Path

from coi_tui.models import Container
from coi_tui.services.traffic.rates import RateMeter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def container(veth: str | None, name: str = "coi-a") -> Container:
    return Container(name, "default", "Running", "10.147.0.7", veth, "incusbr0", None)


def set_counters(root: Path, veth: str, host_rx: int, host_tx: int) -> None:
    stats = root / veth / "statistics"
    stats.mkdir(parents=True, exist_ok=True)
    (stats / "rx_bytes").write_text(f"{host_rx}\n")
    (stats / "tx_bytes").write_text(f"{host_tx}\n")


def test_rates_are_the_containers_view_of_the_host_veths_counters(tmp_path: Path) -> None:
    clock = Clock()
    meter = RateMeter(tmp_path, clock=clock)
    set_counters(tmp_path, "veth1", host_rx=1000, host_tx=50_000)
    first = meter.sample([container("veth1")])["default/coi-a"]
    assert first.current is None and first.history == ()  # one sample is no rate yet
    clock.now += 2
    set_counters(tmp_path, "veth1", host_rx=3000, host_tx=250_000)
    rates = meter.sample([container("veth1")])["default/coi-a"]
    assert rates.current is not None
    # the host side received 2000 B: what the container sent (tx), and the other way round
    assert rates.current.tx_per_s == 1000.0
    assert rates.current.rx_per_s == 100_000.0
    assert rates.rx_series() == [100_000.0] and rates.tx_series() == [1000.0]


def test_a_counter_reset_or_a_new_veth_is_a_restart_not_a_negative_rate(tmp_path: Path) -> None:
    clock = Clock()
    meter = RateMeter(tmp_path, clock=clock)
    set_counters(tmp_path, "veth1", 10_000, 10_000)
    meter.sample([container("veth1")])
    clock.now += 1
    set_counters(tmp_path, "veth1", 500, 700)  # the link was re-created: counters from 0
    after_reset = meter.sample([container("veth1")])["default/coi-a"]
    assert after_reset.current is None
    clock.now += 1
    set_counters(tmp_path, "veth1", 1500, 700)
    assert meter.sample([container("veth1")])["default/coi-a"].current is not None
    clock.now += 1
    set_counters(tmp_path, "veth9", 0, 0)  # restarted: another veth, its own counters
    moved = meter.sample([container("veth9")])["default/coi-a"]
    assert moved.current is None and moved.veth == "veth9"
    clock.now += 1
    set_counters(tmp_path, "veth9", 400, 0)
    again = meter.sample([container("veth9")])["default/coi-a"]
    assert again.current is not None and again.current.tx_per_s == 400.0
    assert all(r.rx_per_s >= 0 and r.tx_per_s >= 0 for r in again.history)


def test_a_stopped_container_has_no_rate_and_a_gone_one_is_forgotten(tmp_path: Path) -> None:
    clock = Clock()
    meter = RateMeter(tmp_path, clock=clock)
    set_counters(tmp_path, "veth1", 0, 0)
    meter.sample([container("veth1"), container(None, "coi-b")])
    clock.now += 1
    set_counters(tmp_path, "veth1", 100, 100)
    answer = meter.sample([container("veth1"), container(None, "coi-b")])
    assert answer["default/coi-b"].current is None
    assert answer["default/coi-a"].current is not None
    clock.now += 1
    assert set(meter.sample([container(None, "coi-b")])) == {"default/coi-b"}
    clock.now += 1
    set_counters(tmp_path, "veth1", 200, 200)
    back = meter.sample([container("veth1")])["default/coi-a"]
    assert back.current is None and back.history == ()  # forgotten: starts afresh


def test_the_history_keeps_only_the_window(tmp_path: Path) -> None:
    clock = Clock()
    meter = RateMeter(tmp_path, history_seconds=10, clock=clock)
    for second in range(30):
        set_counters(tmp_path, "veth1", second * 100, 0)
        rates = meter.sample([container("veth1")])["default/coi-a"]
        clock.now += 1
    assert [r.at for r in rates.history] == [clock.now - 1 - s for s in range(10, -1, -1)]
    assert set(rates.tx_series()) == {100.0}
