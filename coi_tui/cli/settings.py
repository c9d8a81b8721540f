"""The effective [network] settings for a command, from COI's layered config."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from coi_tui.models import NetworkSettings
from coi_tui.services.config import Locations, load_effective


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
