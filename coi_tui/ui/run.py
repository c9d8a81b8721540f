"""Starts the TUI against the real backends."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from coi_tui.models import NetworkSettings
from coi_tui.services.config import Locations
from coi_tui.services.orphan_clean import default_sources
from coi_tui.services.own_settings import load_own_settings
from coi_tui.ui.app import BackendEventSink, CoiApp, Watcher, WatcherFactory, Wiring
from coi_tui.wiring import (
    Scope,
    change_planner,
    config_problem_line,
    dns_refresher,
    edit_target,
    event_watchers,
    inventory_source,
    locations_from_env,
    open_coi_firewall,
    open_containers,
    settings_or_problem,
)


def real_watchers(scope: Scope) -> WatcherFactory:
    def make(sink: BackendEventSink) -> Sequence[Watcher]:
        return event_watchers(scope, sink)

    return make


def real_wiring(
    scope: Scope,
    settings: NetworkSettings,
    config: tuple[Path, Locations] | None = None,
    freeze_after: float | None = None,
) -> Wiring:
    return Wiring(
        make_source=lambda: inventory_source(scope, settings),
        watchers=real_watchers(scope),
        make_planner=lambda current: change_planner(scope, current),
        make_firewall=lambda: open_coi_firewall(scope),
        make_containers=lambda: open_containers(scope),
        orphan_sources=default_sources(),
        make_refresher=lambda current, submit, on_state, apply: dns_refresher(
            scope, current, submit, on_state, apply),
        freeze_after=freeze_after,
        settings=settings,
        config=config,
    )


def run_tui(args: argparse.Namespace) -> int:
    config = (edit_target(args), locations_from_env())
    settings, problem = settings_or_problem(args)  # a broken config never stops the views
    wiring = replace(real_wiring(Scope.from_args(args), settings, config,
                                 load_own_settings().freeze_after),
                     config_problem=config_problem_line(problem) if problem else None)
    app = CoiApp(wiring, read_only=args.read_only)
    app.run(mouse=not args.no_mouse)
    return app.return_code or 0
