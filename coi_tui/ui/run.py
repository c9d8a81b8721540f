"""Starts the TUI against the real backends."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from coi_tui.backends.firewalld import FirewallSignals
from coi_tui.backends.incus import IncusEvents
from coi_tui.cli.settings import settings_from_args
from coi_tui.ui.app import CoiApp, Watcher
from coi_tui.wiring import Scope, inventory_source


def real_watchers(scope: Scope) -> Callable[[Callable[..., None]], Sequence[Watcher]]:
    def make(wake: Callable[..., None]) -> Sequence[Watcher]:
        return (
            IncusEvents(wake, project=scope.project, all_projects=scope.all_projects),
            FirewallSignals(wake),
        )

    return make


def run_tui(args: argparse.Namespace) -> int:
    scope = Scope.from_args(args)
    settings = settings_from_args(args)
    app = CoiApp(
        lambda: inventory_source(scope, settings),
        real_watchers(scope),
        read_only=args.read_only,
    )
    app.run(mouse=not args.no_mouse)
    return app.return_code or 0
