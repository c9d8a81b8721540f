"""Per-container rx/tx rates, as `coi top` shows them, from the host veth's byte counters in
/sys/class/net/<veth>/statistics: one file read per counter per sample, no daemon call, no
root needed.

Use: one `RateMeter`, one thread calling `sample(containers)` every poll (it keeps the last
sample and a history; it is not thread-safe). Each answer maps a container key to its
`ContainerRates`: `current` (None until two samples of the same veth exist) and `history`,
the rates of the last `history_seconds` for a sparkline (`rx_series()` / `tx_series()`).

rx and tx are the container's view, as `coi top` and Incus name them: what the container
received and sent. The host side of a veth counts the other way round (its tx is what the
container receives), so rx comes from the host veth's tx_bytes and tx from its rx_bytes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from coi_tui.backends.links import SYS_CLASS_NET
from coi_tui.models import Container

HISTORY_SECONDS = 300.0  # the sparkline's window: the last five minutes


@dataclass(frozen=True)
class Sample:
    """Byte counters of one veth at one moment, from the container's view."""

    at: float  # monotonic seconds
    veth: str
    rx_bytes: int  # the container received: the host veth's tx_bytes
    tx_bytes: int  # the container sent: the host veth's rx_bytes


@dataclass(frozen=True)
class Rate:
    at: float  # the end of the interval (monotonic seconds)
    rx_per_s: float
    tx_per_s: float


@dataclass(frozen=True)
class ContainerRates:
    key: str  # Container.key
    veth: str | None
    current: Rate | None  # None: no two samples of this veth yet (just started, restarted)
    history: tuple[Rate, ...] = field(default=())

    def rx_series(self) -> list[float]:
        return [r.rx_per_s for r in self.history]

    def tx_series(self) -> list[float]:
        return [r.tx_per_s for r in self.history]


def _counter(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def read_sample(veth: str, at: float, root: Path = SYS_CLASS_NET) -> Sample | None:
    """The veth's counters now; None when it is gone (the container stopped)."""
    stats = root / veth / "statistics"
    host_rx, host_tx = _counter(stats / "rx_bytes"), _counter(stats / "tx_bytes")
    if host_rx is None or host_tx is None:
        return None
    return Sample(at=at, veth=veth, rx_bytes=host_tx, tx_bytes=host_rx)


def rate_between(before: Sample, after: Sample) -> Rate | None:
    """The rate over the interval; None where it would be a lie: another veth (the container
    restarted), a counter that went down (the link was re-created), no time passed."""
    seconds = after.at - before.at
    rx, tx = after.rx_bytes - before.rx_bytes, after.tx_bytes - before.tx_bytes
    if after.veth != before.veth or seconds <= 0 or rx < 0 or tx < 0:
        return None
    return Rate(at=after.at, rx_per_s=rx / seconds, tx_per_s=tx / seconds)


class RateMeter:
    def __init__(self, root: Path = SYS_CLASS_NET, history_seconds: float = HISTORY_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._root = root
        self._history_seconds = history_seconds
        self._clock = clock
        self._last: dict[str, Sample] = {}
        self._history: dict[str, deque[Rate]] = {}

    def sample(self, containers: Iterable[Container]) -> dict[str, ContainerRates]:
        """One sample of every container given; containers not given are forgotten."""
        now = self._clock()
        answer: dict[str, ContainerRates] = {}
        for container in containers:
            key = container.key
            sample = read_sample(container.veth, now, self._root) if container.veth else None
            before = self._last.pop(key, None)
            rate = rate_between(before, sample) if before and sample else None
            if sample is not None:
                self._last[key] = sample
            history = self._history.setdefault(key, deque())
            if rate is not None:
                history.append(rate)
            while history and history[0].at < now - self._history_seconds:
                history.popleft()
            answer[key] = ContainerRates(key, container.veth, rate, tuple(history))
        for key in self._history.keys() - answer.keys():
            del self._history[key]
            self._last.pop(key, None)
        return answer
