"""Builds the real backends and services, and the effective settings, from the command-line
options and the environment.

The one place that knows which concrete backend serves which interface; the CLI and the UI both
start here, tests substitute their own pieces.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path

from coi_tui.backends.base import ContainerBackend, EventSink, FirewallBackend
from coi_tui.backends.incus import POLL_TIMEOUT, TIMEOUT, IncusBackend, IncusEvents
from coi_tui.backends.links import list_links
from coi_tui.changes import ChangePlanner, Pinned, grants_reader
from coi_tui.eras.detect import EraChoice, Probe, choose_era
from coi_tui.eras.firewalld.access import FirewallSignals, open_firewall
from coi_tui.eras.firewalld.backstop import Backstop, chain_name, direct, live_chains
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.nft.era import NftEra
from coi_tui.eras.nft.firewall import NftFirewall
from coi_tui.eras.nft.model import COI_TABLE
from coi_tui.eras.nft.objects import NftCoiChain
from coi_tui.eras.seam import CoiEra
from coi_tui.errors import CoiTuiError, PermissionDenied
from coi_tui.keep.backstop import marked
from coi_tui.keep.keeper import KeeperParts, Watcher
from coi_tui.keep.refresher import DnsRefresher, DnsState
from coi_tui.models import CoiRule, Container, Inventory, Mode, NetworkSettings
from coi_tui.runtime.engine import Job
from coi_tui.services.checks import Check, run_checks, run_nft_checks
from coi_tui.services.config import ConfigError, Locations, load_effective
from coi_tui.services.config.layers import builtin_defaults
from coi_tui.services.dns.cache import cached_allowlist
from coi_tui.services.grants import openings_for
from coi_tui.services.inventory import ExpectedRules, InventorySource


@dataclass(frozen=True)
class Scope:
    project: str | None = "default"
    all_projects: bool = False
    era: str | None = None  # an explicit COI era (--era, COI_TUI_ERA); None: detected

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Scope:
        era = getattr(args, "era", None) or os.environ.get("COI_TUI_ERA") or None
        if getattr(args, "all_projects", False):
            return cls(project=None, all_projects=True, era=era)
        return cls(project=getattr(args, "project", None) or "default", era=era)


def open_containers(scope: Scope, timeout: tuple[float, float] = TIMEOUT) -> ContainerBackend:
    return IncusBackend(project=scope.project, all_projects=scope.all_projects, timeout=timeout)


# ----------------------------------------------------------------------------- the COI era
def probe_host() -> Probe:
    """One look at both eras: firewalld's direct rules and nft's `ip coi` table."""
    running, fw_rules = False, None
    try:
        firewalld = open_firewall("auto")
        try:
            running = True  # it answered, even if it refuses us the rules below
            fw_rules = sum(1 for r in firewalld.list_rules() if r.source_ip())
        finally:
            firewalld.close()
    except PermissionDenied:
        running = True
    except CoiTuiError:
        pass
    coi_table, nft_rules = None, None
    try:
        objects = NftFirewall().list_rules()
        coi_table = any(isinstance(o, NftCoiChain) and o.table == COI_TABLE for o in objects)
        nft_rules = sum(1 for o in objects if o.source_ip() or o.owner_name())
    except CoiTuiError:
        pass
    installed = bool(shutil.which("firewalld") or shutil.which("firewall-cmd"))
    return Probe(running, installed, fw_rules, coi_table, nft_rules)


@cache
def host_era(override: str | None = None) -> EraChoice:
    """The era of this host, detected once per process (or as chosen)."""
    return choose_era(probe_host() if not override else Probe(False, False, None, None, None),
                      override)


def open_coi_firewall(scope: Scope) -> FirewallBackend:
    """The firewall that holds COI's rules on this host, in its era."""
    if host_era(scope.era).era == "nft":
        return NftFirewall()
    return open_firewall("auto")


def host_checks(scope: Scope) -> list[Check]:
    """`coi-tui check`: the era and why, then what the era's isolation needs."""
    choice = host_era(scope.era)
    era = Check("era", "warn" if choice.both else "ok", f"{choice.era}: {choice.reason}")
    containers = partial(open_containers, scope)
    if choice.era == "nft":
        return [era, *run_nft_checks(open_coi_firewall(scope), containers)]
    return [era, *run_checks(open_firewall, containers)]


def event_watchers(scope: Scope, sink: EventSink) -> list[IncusEvents | FirewallSignals]:
    """What wakes the poller at once: Incus lifecycle events and, in the firewalld era,
    firewalld's signals (nft has none: the poller sees every change)."""
    watchers: list[IncusEvents | FirewallSignals] = [
        IncusEvents(sink, project=scope.project, all_projects=scope.all_projects)]
    if coi_era(scope).name == "firewalld":
        watchers.append(FirewallSignals(sink))
    return watchers


def coi_era(scope: Scope, backstop: Backstop | None = None) -> CoiEra:
    """`backstop`: a keeper's (firewalld era): every plan moves it too."""
    if host_era(scope.era).era == "nft":
        return NftEra()
    return FirewalldEra(backstop)


def pinned_allowlist(settings: NetworkSettings, home: Path | None = None) -> Pinned:
    """An allowlist container's IPs as COI's IP cache pins them (what was last applied)."""

    def pinned(container: Container) -> tuple[str, ...] | None:
        return cached_allowlist(container.name, home or Path.home(),
                                settings.allow_local_network_access)

    return pinned


def expected_rules(settings: NetworkSettings, home: Path | None = None,
                   *, era: CoiEra) -> ExpectedRules:
    pinned = pinned_allowlist(settings, home)
    grants = grants_reader(home)

    def expected(
        container: Container, mode: Mode, gateway: str | None
    ) -> tuple[CoiRule, ...] | None:
        if container.ipv4 is None:
            return None
        ips = pinned(container) if mode is Mode.ALLOWLIST else ()
        if ips is None:
            return None  # nothing pinned yet: unknown, never an empty allowlist
        # its grants in force are desired too: the keeper must not take them away
        mine = replace(settings, openings=openings_for(grants(), container, mode, time.time()))
        try:
            return era.desired(container, mode, mine, gateway,
                               dict.fromkeys(settings.allowed_domains, ips))
        except CoiTuiError:
            return None  # a policy the era refuses (e.g. no veth yet): not judged

    return expected


def with_backstop(scope: Scope, inventory: Inventory) -> Inventory:
    """A snapshot as the live backstop table says (firewalld era): the EXPOSED containers it
    holds are BACKSTOP. Unreadable or absent: as it was."""
    if coi_era(scope).name != "firewalld":
        return inventory
    try:
        chains = live_chains()
    except CoiTuiError:
        return inventory
    if not chains:
        return inventory
    return marked(inventory, lambda ip, rules: chain_name(ip, direct(rules)) in chains)


def change_planner(scope: Scope, settings: NetworkSettings,
                   backstop: Backstop | None = None) -> ChangePlanner:
    return ChangePlanner(open_containers(scope), settings,
                         pinned=pinned_allowlist(settings), era=coi_era(scope, backstop))


def inventory_source(scope: Scope, settings: NetworkSettings | None = None) -> InventorySource:
    era = coi_era(scope)
    return InventorySource(
        containers=partial(open_containers, scope, POLL_TIMEOUT),  # a hung incusd: 5 s, not 15
        firewall=partial(open_coi_firewall, scope),
        links=list_links,
        expected=expected_rules(settings or NetworkSettings(), era=era),
        era=era,
    )


class FirewallReader:
    """list_rules for a thread of its own (the refresher): reconnects after a failure."""

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._firewall: FirewallBackend | None = None

    def __call__(self) -> Sequence[CoiRule]:
        try:
            if self._firewall is None:
                self._firewall = open_coi_firewall(self._scope)
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
    backstop: Backstop | None = None,
) -> DnsRefresher:
    """The one allowlist refresher, as the TUI and `coi-tui watch` run it."""
    return DnsRefresher(settings, open_containers(scope), FirewallReader(scope), submit,
                        home=Path.home(), on_state=on_state, apply_changes=apply_changes,
                        era=coi_era(scope, backstop))


def keeper_parts(scope: Scope, settings: NetworkSettings,
                 freeze_after: float | None = None, backstop_on: bool = True) -> KeeperParts:
    """The host keeper's real pieces, the same for the TUI and `coi-tui watch`. In the
    firewalld era one backstop, moved by every plan of this keeper and followed by it."""
    backstop = Backstop() if backstop_on and coi_era(scope).name == "firewalld" else None

    def watchers(sink: EventSink) -> Sequence[Watcher]:
        return event_watchers(scope, sink)

    def refresher(current: NetworkSettings, submit: Callable[[Job], object],
                  on_state: Callable[[DnsState], None], apply: bool) -> DnsRefresher:
        return dns_refresher(scope, current, submit, on_state, apply, backstop)

    return KeeperParts(
        make_source=lambda: inventory_source(scope, settings),
        watchers=watchers,
        make_planner=lambda current: change_planner(scope, current, backstop),
        backstop=backstop,
        make_firewall=lambda: open_coi_firewall(scope),
        make_containers=lambda: open_containers(scope),
        make_refresher=refresher,
        freeze_after=freeze_after,
    )


# ------------------------------------------------ the effective [network] settings
def locations_from_env() -> Locations:
    return Locations(home=Path.home(), cwd=Path.cwd(), env=dict(os.environ))


def edit_target(args: argparse.Namespace) -> Path:
    """--config PATH, else the highest-precedence user file that exists, else ~/.coi."""
    if getattr(args, "config", None):
        return Path(args.config).expanduser()
    return locations_from_env().default_edit_target()


def settings_from_args(args: argparse.Namespace) -> NetworkSettings:
    locations = locations_from_env()
    if getattr(args, "config", None):
        # the file being edited counts as the top layer, as $COI_CONFIG would
        locations = Locations(locations.home, locations.cwd,
                              {**locations.env, "COI_CONFIG": args.config}, locations.etc)
    return load_effective(locations).settings()


def settings_or_problem(args: argparse.Namespace) -> tuple[NetworkSettings, str | None]:
    """For the read-only views (status, rules, the TUI): the effective settings and None, or,
    when the config cannot be read, COI's built-in defaults and the problem in one line. A
    config problem must never stop a view; what changes rules keeps refusing it (exit 2)."""
    try:
        return settings_from_args(args), None
    except ConfigError as error:
        return builtin_defaults().settings(), str(error)


def config_problem_line(problem: str) -> str:
    """The one line a view shows (stderr, or the TUI's banner) for a config problem."""
    return f"config not used ({problem}); showing COI's built-in defaults"


def view_settings(args: argparse.Namespace) -> NetworkSettings:
    """settings_or_problem for a headless view: a problem is one warning line on stderr."""
    settings, problem = settings_or_problem(args)
    if problem is not None:
        print(f"coi-tui: warning: {config_problem_line(problem)}", file=sys.stderr)
    return settings
