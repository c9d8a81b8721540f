"""Starts the TUI against the real backends."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from coi_tui.eras.firewalld.counters import RuleCounterReader
from coi_tui.models import NetworkSettings
from coi_tui.services.config import Locations
from coi_tui.services.orphan_clean import default_sources
from coi_tui.services.own_settings import load_own_settings
from coi_tui.services.traffic.feed import TrafficFeed
from coi_tui.services.traffic.flows import FlowReader
from coi_tui.ui.actions import checked_keymap
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.wiring import (
    Scope,
    config_problem_line,
    edit_target,
    keeper_parts,
    locations_from_env,
    settings_or_problem,
)


def real_wiring(
    scope: Scope,
    settings: NetworkSettings,
    config: tuple[Path, Locations] | None = None,
    freeze_after: float | None = None,
) -> Wiring:
    return Wiring(
        keeper=keeper_parts(scope, settings, freeze_after),
        orphan_sources=default_sources(),
        settings=settings,
        config=config,
        rule_counters=RuleCounterReader(),
        flows=FlowReader(),
        traffic=TrafficFeed,
    )


def run_tui(args: argparse.Namespace) -> int:
    config = (edit_target(args), locations_from_env())
    settings, problem = settings_or_problem(args)  # a broken config never stops the views
    own = load_own_settings()
    wiring = replace(real_wiring(Scope.from_args(args), settings, config, own.freeze_after),
                     config_problem=config_problem_line(problem) if problem else None,
                     keymap=checked_keymap(dict(own.keys)))
    app = CoiApp(wiring, read_only=args.read_only, quit_on_signals=True)
    app.run(mouse=not args.no_mouse)
    return app.return_code or 0
