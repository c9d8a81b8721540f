"""Config errors: one line, naming the key and the bad value (exit 2), or the file that could
not be written (exit 1)."""

from __future__ import annotations

from coi_tui.errors import BadInput, CoiTuiError


class ConfigError(BadInput):
    pass


class ConfigWriteError(CoiTuiError):
    """The file system refused the save; the old file is untouched."""
