"""The seam between COI's two eras: what a container's rules are, should be, and how to get
from one to the other. Everything above (inventory, changes, recovery, the refresher, views)
calls a `CoiEra` and never asks which one it is. The eras live whole in `eras/firewalld/`
and `eras/nft/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanStep

# An allowlist's answers: domain (or literal entry) -> IPv4 addresses, already filtered.
Allowed = Mapping[str, Sequence[str]]


class CoiEra(Protocol):
    name: str  # "firewalld" or "nft"
    # COI >= 0.11 (nft era) blocks DNS in allowlist mode and writes the container's
    # /etc/hosts blocks; its firewalld era did neither
    writes_container_hosts: bool
    # resolved addresses stay pinned after DNS stops giving them (nft: permanent set
    # elements); the firewalld era's refresh replaces them
    keeps_old_answers: bool

    def infer_mode(self, container: Container, mine: Sequence[CoiRule]) -> Mode | None: ...

    def desired(self, container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> tuple[CoiRule, ...]: ...

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        """From the container's live rules (found in `live`, every COI rule) to `mode`."""
        ...

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan: ...

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        """Several containers' plans as one change."""
        ...

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """The resolved addresses an allowlist container has in force now."""
        ...

    def resolved_pins(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """The addresses pinned from DNS answers (not literal entries, not hosts): what
        `prune` may take out. Empty where the era keeps no old answers."""
        ...

    def hosts_steps(self, container: Container, settings: NetworkSettings, allowed: Allowed,
                    *, setup: bool = False) -> tuple[PlanStep, ...]:
        """Steps that write the container's /etc/hosts for these answers, as COI does in
        this era (none where COI writes none)."""
        ...

    def prune(self, container: Container, live: Sequence[CoiRule], addresses: Iterable[str],
              settings: NetworkSettings, allowed: Allowed) -> Plan:
        """Old answers (`addresses`) out of force; `allowed`: the current answers. BadInput
        where the era has nothing to prune."""
        ...

    def settle(self, expected: Sequence[CoiRule], live: Sequence[CoiRule]
               ) -> tuple[CoiRule, ...]:
        """The expected rules, with what the era lawfully holds beyond them taken from
        `live` (nft: resolved set elements that DNS no longer gives stay,
        docs/coi-nft-era.md §4.3)."""
        ...


def owned(container: Container, live: Iterable[CoiRule]) -> list[CoiRule]:
    """Exact ownership in both eras: the rule's address is the container's IPv4 (`-s`, or the
    comment `coi-<ip>`), or, for name-keyed rules, its name."""
    return [r for r in live
            if (container.ipv4 and r.source_ip() == container.ipv4)
            or r.owner_name() == container.name]


def entry_name(entry: str) -> str:
    """An allowed_domains entry as the name its answers are kept under: without `:ports`,
    lower case, no trailing dot (as COI's parser reads it)."""
    return entry.split(":", 1)[0].lower().rstrip(".")


def flat(allowed: Allowed) -> tuple[str, ...]:
    return tuple(sorted({ip for ips in allowed.values() for ip in ips}))
