"""Config errors: one line, naming the key and the bad value. Exit status 2."""

from __future__ import annotations

from coi_tui.errors import BadInput


class ConfigError(BadInput):
    pass
