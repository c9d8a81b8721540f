"""Builds the real backends and services from the command-line options.

The one place that knows which concrete backend serves which interface; the CLI and the UI both
start here, tests substitute their own pieces.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.backends.firewalld import open_firewall
from coi_tui.backends.incus import IncusBackend
from coi_tui.backends.links import list_links
from coi_tui.changes import ChangePlanner, Pinned
from coi_tui.engine import Job
from coi_tui.errors import CoiTuiError
from coi_tui.models import Container, DirectRule, Mode, NetworkSettings
from coi_tui.services.dns.cache import cached_allowlist
from coi_tui.services.dns.refresher import DnsRefresher, DnsState
from coi_tui.services.inventory import ExpectedRules, InventorySource
from coi_tui.services.policy import desired_rules


@dataclass(frozen=True)
class Scope:
    project: str | None = "default"
    all_projects: bool = False

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Scope:
        if getattr(args, "all_projects", False):
            return cls(project=None, all_projects=True)
        return cls(project=getattr(args, "project", None) or "default")


def open_containers(scope: Scope) -> ContainerBackend:
    return IncusBackend(project=scope.project, all_projects=scope.all_projects)


def pinned_allowlist(settings: NetworkSettings, home: Path | None = None) -> Pinned:
    """An allowlist container's IPs as COI's IP cache pins them (what was last applied)."""

    def pinned(container: Container) -> tuple[str, ...] | None:
        return cached_allowlist(container.name, home or Path.home(),
                                settings.allow_local_network_access)

    return pinned


def expected_rules(settings: NetworkSettings, home: Path | None = None) -> ExpectedRules:
    pinned = pinned_allowlist(settings, home)

    def expected(
        container: Container, mode: Mode, gateway: str | None
    ) -> tuple[DirectRule, ...] | None:
        if container.ipv4 is None:
            return None
        allowed = pinned(container) if mode is Mode.ALLOWLIST else ()
        if allowed is None:
            return None  # nothing pinned yet: unknown, never an empty allowlist
        return desired_rules(container.ipv4, mode, settings, gateway, allowed)

    return expected


def change_planner(scope: Scope, settings: NetworkSettings) -> ChangePlanner:
    return ChangePlanner(open_containers(scope), settings,
                         pinned=pinned_allowlist(settings))


def inventory_source(scope: Scope, settings: NetworkSettings | None = None) -> InventorySource:
    return InventorySource(
        containers=partial(open_containers, scope),
        firewall=partial(open_firewall, "auto"),
        links=list_links,
        expected=expected_rules(settings or NetworkSettings()),
    )


class FirewallReader:
    """list_rules for a thread of its own (the refresher): reconnects after a failure."""

    def __init__(self) -> None:
        self._firewall: FirewallBackend | None = None

    def __call__(self) -> list[DirectRule]:
        try:
            if self._firewall is None:
                self._firewall = open_firewall("auto")
            return self._firewall.list_rules()
        except CoiTuiError:
            self.close()
            raise

    def close(self) -> None:
        if self._firewall is not None:
            self._firewall.close()
        self._firewall = None


def dns_refresher(
    scope: Scope,
    settings: NetworkSettings,
    submit: Callable[[Job], object],
    on_state: Callable[[DnsState], None],
    apply_changes: bool = True,
) -> DnsRefresher:
    """The one allowlist refresher, as the TUI and `coi-tui watch` run it."""
    return DnsRefresher(settings, open_containers(scope), FirewallReader(), submit,
                        home=Path.home(), on_state=on_state, apply_changes=apply_changes)
