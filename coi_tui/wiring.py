"""Builds the real backends and services from the command-line options.

The one place that knows which concrete backend serves which interface; the CLI and the UI both
start here, tests substitute their own pieces.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from functools import partial

from coi_tui.backends.base import ContainerBackend
from coi_tui.backends.firewalld import open_firewall
from coi_tui.backends.incus import IncusBackend
from coi_tui.backends.links import list_links
from coi_tui.models import Container, DirectRule, Mode, NetworkSettings
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


def expected_rules(settings: NetworkSettings) -> ExpectedRules:
    def expected(
        container: Container, mode: Mode, gateway: str | None
    ) -> tuple[DirectRule, ...] | None:
        if container.ipv4 is None or mode is Mode.ALLOWLIST:
            return None  # allowlist needs resolved domains: the DNS service supplies those
        return desired_rules(container.ipv4, mode, settings, gateway)

    return expected


def inventory_source(scope: Scope, settings: NetworkSettings | None = None) -> InventorySource:
    return InventorySource(
        containers=partial(open_containers, scope),
        firewall=partial(open_firewall, "auto"),
        links=list_links,
        expected=expected_rules(settings or NetworkSettings()),
    )
