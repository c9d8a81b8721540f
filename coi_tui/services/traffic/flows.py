"""The tracked connections of one container (conntrack), as `coi-tui flows` and the flows
screen show them: protocol, destination (with its name, when the caller knows one), port,
state, and bytes when the host's flow accounting is on.

`flow_report` is pure; `FlowReader` reads conntrack and the accounting switch and never
raises: what went wrong is the report's `problem`, one line. A report holds at most `limit`
flows (the live ones first) and says how many more there are.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from coi_tui.backends import conntrack
from coi_tui.backends.conntrack import TrackedFlow
from coi_tui.errors import CoiTuiError
from coi_tui.models import Container

FLOW_LIMIT = 200
# addr -> the name the container asked for (the attempt feed's names); None: not known
Names = Callable[[str], str | None]
# TCP states of a flow that is ending: shown after the live ones
CLOSING = frozenset({"TIME_WAIT", "CLOSE", "CLOSE_WAIT", "FIN_WAIT", "LAST_ACK"})
ACCOUNTING_NOTE = ("bytes need flow accounting, host-wide and off: coi-tui flows NAME "
                   "--accounting switches it on (for flows that start after)")


@dataclass(frozen=True)
class Flow:
    protocol: str
    destination: str
    port: int | None
    state: str  # TCP's state; UNREPLIED, REPLIED or ASSURED for other protocols
    name: str | None = None
    sent_bytes: int | None = None  # from the container; None: accounting off
    received_bytes: int | None = None
    timeout: int | None = None
    sport: int | None = None  # the container's end: tells two flows to one place apart

    def record(self) -> dict[str, object]:
        return {"protocol": self.protocol, "destination": self.destination,
                "dport": self.port, "sport": self.sport, "state": self.state,
                "name": self.name,
                "sent_bytes": self.sent_bytes, "received_bytes": self.received_bytes,
                "timeout": self.timeout}


@dataclass(frozen=True)
class FlowReport:
    container: str
    ipv4: str | None
    flows: tuple[Flow, ...] = ()
    total: int = 0  # every tracked flow, shown or not
    accounting: bool | None = None  # None: not known
    problem: str | None = None  # one line: why there are no flows to show
    taken_at: float = 0.0

    @property
    def more(self) -> int:
        """Flows beyond the limit, not in `flows`."""
        return self.total - len(self.flows)

    def record(self) -> dict[str, object]:
        return {"container": self.container, "ipv4": self.ipv4, "total": self.total,
                "shown": len(self.flows), "more": self.more, "accounting": self.accounting,
                "problem": self.problem, "flows": [f.record() for f in self.flows]}


def short_count(count: int | None) -> str | None:
    """A count in four characters or so: 1234567 -> "1.2M"; None stays None (not counted)."""
    if count is None:
        return None
    size, unit = float(count), ""
    for unit in ("", "k", "M", "G", "T"):
        if size < 1000 or unit == "T":
            break
        size /= 1000
    return f"{count}" if not unit else f"{size:.1f}{unit}"


def short_duration(seconds: int | None) -> str | None:
    """117 -> "117s", 431998 -> "5d": conntrack keeps an established TCP flow for days."""
    if seconds is None:
        return None
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= 2 * size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def state_word(flow: TrackedFlow) -> str:
    if flow.state:
        return flow.state
    if flow.unreplied:
        return "UNREPLIED"
    return "ASSURED" if flow.assured else "REPLIED"


def _order(flow: Flow) -> tuple[int, int, int]:
    try:
        address = int(ipaddress.ip_address(flow.destination))
    except ValueError:
        address = 0
    return (1 if flow.state in CLOSING else 0, address, flow.port or 0)


def flow_report(container: Container, tracked: Sequence[TrackedFlow], *,
                names: Names | None = None, limit: int = FLOW_LIMIT,
                accounting: bool | None = None, taken_at: float = 0.0) -> FlowReport:
    flows = sorted((Flow(protocol=t.protocol, destination=t.destination, port=t.dport,
                         state=state_word(t),
                         name=names(t.destination) if names else None,
                         sent_bytes=t.sent_bytes, received_bytes=t.received_bytes,
                         timeout=t.timeout, sport=t.sport)
                    for t in tracked), key=_order)
    return FlowReport(container.name, container.ipv4, tuple(flows[:max(0, limit)]),
                      len(flows), accounting, taken_at=taken_at)


class FlowReader:
    """`reader(container)` -> its FlowReport, read now (blocking: call it off the UI
    thread). `list_flows` and `accounting` are conntrack's, replaceable for tests."""

    def __init__(self, names: Names | None = None, limit: int = FLOW_LIMIT,
                 list_flows: Callable[[str], Sequence[TrackedFlow]] = conntrack.list_flows,
                 accounting: Callable[[], bool | None] = conntrack.accounting) -> None:
        self.names = names
        self.limit = limit
        self._list = list_flows
        self._accounting = accounting

    def __call__(self, container: Container, names: Names | None = None) -> FlowReport:
        """`names`: what each destination was for, for this container (else `self.names`)."""
        now = time.time()
        if not container.ipv4:
            return FlowReport(container.name, None, problem=f"{container.name} has no IPv4: "
                              "no tracked flows", taken_at=now)
        try:
            tracked = self._list(container.ipv4)
        except CoiTuiError as error:
            return FlowReport(container.name, container.ipv4, problem=str(error),
                              taken_at=now)
        return flow_report(container, tracked, names=names or self.names, limit=self.limit,
                           accounting=self._accounting(), taken_at=now)
