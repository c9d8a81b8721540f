"""The effective [network] settings for a command, from COI's layered config."""

from __future__ import annotations

import argparse

from coi_tui.models import NetworkSettings


def settings_from_args(args: argparse.Namespace) -> NetworkSettings:
    return NetworkSettings()
