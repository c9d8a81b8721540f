"""The effective [network] settings for a command, from COI's layered config."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from coi_tui.models import NetworkSettings
from coi_tui.services.config import ConfigError, Locations, load_effective
from coi_tui.services.config.layers import builtin_defaults


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
