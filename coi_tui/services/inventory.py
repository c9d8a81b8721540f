"""The inventory snapshot: containers joined with their direct rules, links and mode.

`join_inventory` is pure; `InventorySource` does the I/O (one call per backend) and never raises
for a backend that is down: it reports it in `Inventory.backends` so the UI can show a banner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.eras.seam import CoiEra
from coi_tui.errors import CoiTuiError, FirewallDown
from coi_tui.models import (
    BackendStatus,
    CoiRule,
    Container,
    ContainerState,
    Inventory,
    Isolation,
    Link,
    Mode,
    ModeSource,
)

# Computes the rules a container should have in a mode given its gateway, or None when that
# cannot be known (e.g. an allowlist whose domains were never resolved).
ExpectedRules = Callable[[Container, Mode, str | None], tuple[CoiRule, ...] | None]


def mode_of(
    container: Container, rules: Iterable[CoiRule], era: CoiEra
) -> tuple[Mode | None, ModeSource]:
    if container.mode_key:
        try:
            return Mode(container.mode_key), ModeSource.SET
        except ValueError:
            pass  # a foreign value: fall back to what the rules say
    inferred = era.infer_mode(container, tuple(rules))
    if inferred is not None:
        return inferred, ModeSource.INFERRED
    return None, ModeSource.NONE


ENFORCING = (Mode.RESTRICTED, Mode.ALLOWLIST)  # modes that reject something


def ipv6_dropped(container: Container, mine: Iterable[CoiRule]) -> bool:
    """COI's nft era drops a container's forwarded IPv6 in `ip6 coi` (`iifname <veth> drop`):
    only a drop on the veth it has now holds it (a restart gives it a new one)."""
    return container.veth is not None and any(
        r.ipv == "ip6" and r.verdict == "DROP" and container.veth in r.args for r in mine)


def isolation_of(
    container: Container,
    mode: Mode | None,
    source: ModeSource,
    mine: tuple[CoiRule, ...],
    expected: tuple[CoiRule, ...] | None,
    firewall: BackendStatus | None,
) -> tuple[Isolation | None, str]:
    """Is the container's mode in force? EXPOSED only where traffic the mode rejects can flow."""
    if container.ipv4 is None:
        return None, ""
    isolation, reason = _rules_isolation(mode, source, mine, expected, firewall)
    if isolation is Isolation.EXPOSED and container.status == "Frozen":
        return Isolation.HELD, f"frozen until its rules are back ({reason})"
    return isolation, reason


def _rules_isolation(
    mode: Mode | None,
    source: ModeSource,
    mine: tuple[CoiRule, ...],
    expected: tuple[CoiRule, ...] | None,
    firewall: BackendStatus | None,
) -> tuple[Isolation | None, str]:
    if firewall is not None and not firewall.ok:
        if not firewall.down:
            return Isolation.UNKNOWN, f"rules unreadable: {firewall.detail}"
        if mode in ENFORCING:
            return Isolation.EXPOSED, f"firewalld is not running: no {mode} rule is in force"
        return None, "firewalld is not running"
    if mode is None:
        return None, "no mode recorded and no COI rules"
    if source is ModeSource.SET and not mine:
        if mode in ENFORCING:
            return Isolation.EXPOSED, f"none of its {mode} rules is in force"
        return Isolation.DRIFT, f"none of its {mode} rules is in force"
    if expected is None:
        return Isolation.OK, "rules not checked (expected rules unknown)"
    missing = set(expected) - set(mine)
    extra = set(mine) - set(expected)
    rejects = [r for r in missing if r.verdict in ("REJECT", "DROP")]
    if rejects and mode in ENFORCING:
        return Isolation.EXPOSED, f"{len(rejects)} of its {mode} REJECT rules missing"
    if missing or extra:
        return Isolation.DRIFT, f"{len(missing)} rule(s) missing, {len(extra)} extra"
    return Isolation.OK, f"{mode} in force"


def join_inventory(
    containers: Iterable[Container],
    rules: Iterable[CoiRule],
    links: Mapping[str, Link],
    *,
    expected: ExpectedRules | None = None,
    gateways: Mapping[str, str | None] | None = None,
    backends: tuple[BackendStatus, ...] = (),
    taken_at: float = 0.0,
    era: CoiEra,
) -> Inventory:
    all_rules = tuple(rules)
    containers = tuple(containers)
    # Exact ownership: the rule's address is the container's IPv4 (`-s` bare or /32, or nft's
    # comment `coi-<ip>`), or, for name-keyed nft rules, its name. Never a substring.
    by_ip = {c.ipv4: c for c in containers if c.ipv4}
    by_name = {c.name: c for c in containers}
    owners: dict[CoiRule, str] = {}
    owned: dict[str, list[CoiRule]] = {c.key: [] for c in containers}
    for rule in all_rules:
        src, name = rule.source_ip(), rule.owner_name()
        owner = by_ip.get(src) if src else (by_name.get(name) if name else None)
        if owner is not None:
            owners[rule] = owner.key
            owned[owner.key].append(rule)
    firewall = next((b for b in backends if b.firewall), None)
    states = []
    for c in sorted(containers, key=lambda c: (c.project, c.name)):
        mine = tuple(owned[c.key])
        mode, source = mode_of(c, mine, era)
        gateway = (gateways or {}).get(c.network) if c.network else None
        want = expected(c, mode, gateway) if expected and mode and c.ipv4 else None
        if want is not None:  # what the era keeps beyond it (nft: old answers)
            want = era.settle(want, mine)
        isolation, reason = isolation_of(c, mode, source, mine, want, firewall)
        link = links.get(c.veth) if c.veth else None
        states.append(
            ContainerState(
                container=c,
                rules=mine,
                mode=mode,
                mode_source=source,
                expected_rules=want,
                veth_master=link.master if link else None,
                isolation=isolation,
                reason=reason,
                ipv6_dropped=ipv6_dropped(c, mine),
            )
        )
    return Inventory(
        containers=tuple(states),
        rules=all_rules,
        owners=owners,
        backends=backends,
        taken_at=taken_at,
    )


class InventorySource:
    """Reads every backend once per snapshot. Not thread-safe: use it from one worker thread."""

    def __init__(
        self,
        containers: Callable[[], ContainerBackend],
        firewall: Callable[[], FirewallBackend],
        links: Callable[[], Mapping[str, Link]],
        expected: ExpectedRules | None = None,
        clock: Callable[[], float] = time.time,
        *,
        era: CoiEra,
    ) -> None:
        self._era = era
        # Factories, so a backend that was down is reconnected on the next snapshot.
        self._make_containers = containers
        self._make_firewall = firewall
        self._links = links
        self._expected = expected
        self._clock = clock
        self._containers: ContainerBackend | None = None
        self._firewall: FirewallBackend | None = None
        self._gateways: dict[str, str | None] = {}
        # While Incus is away, the last containers it listed still own their rules.
        self._last_containers: list[Container] = []
        self._access = ""  # the last firewall's access path, kept while it is away
        # (backend, since) while a read is under way: a poll that blocks says on what
        self.reading: tuple[str, float] | None = None

    def snapshot(self) -> Inventory:
        statuses: list[BackendStatus] = []
        containers: list[Container] = []
        rules: Sequence[CoiRule] = []
        self.reading = ("incus", self._clock())
        try:
            if self._containers is None:
                self._containers = self._make_containers()
            containers = self._containers.list_containers()
            for network in {c.network for c in containers if c.network} - self._gateways.keys():
                net = self._containers.get_network(network)
                self._gateways[network] = net.gateway if net else None
            self._last_containers = containers
            statuses.append(BackendStatus("incus", True))
        except CoiTuiError as error:
            self._drop_containers()
            containers = self._last_containers
            statuses.append(BackendStatus("incus", False, str(error)))
        self.reading = (self._era.name, self._clock())
        try:
            if self._firewall is None:
                self._firewall = self._make_firewall()
                self._access = self._firewall.name
            rules = self._firewall.list_rules()
            statuses.append(BackendStatus(self._era.name, True, firewall=True,
                                          access=self._access))
        except CoiTuiError as error:
            self._drop_firewall()
            down = isinstance(error, FirewallDown)
            statuses.append(BackendStatus(self._era.name, False, str(error), down=down,
                                          firewall=True, access=self._access))
        finally:
            self.reading = None
        return join_inventory(
            containers,
            rules,
            self._links(),
            expected=self._expected,
            gateways=self._gateways,
            backends=tuple(statuses),
            taken_at=self._clock(),
            era=self._era,
        )

    def _drop_containers(self) -> None:
        self._gateways.clear()
        if self._containers is not None:
            self._containers.close()
        self._containers = None

    def _drop_firewall(self) -> None:
        if self._firewall is not None:
            self._firewall.close()
        self._firewall = None

    def close(self) -> None:
        self._drop_containers()
        self._drop_firewall()
