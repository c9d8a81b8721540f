"""COI's config.toml: layered loading with provenance, in-place editing, validation, atomic save."""

from coi_tui.services.config.editor import ConfigEditor
from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.layers import (
    DEFAULTS,
    Effective,
    Locations,
    effective_settings,
    load_effective,
)
from coi_tui.services.config.validate import problems

__all__ = [
    "DEFAULTS",
    "ConfigEditor",
    "ConfigError",
    "Effective",
    "Locations",
    "effective_settings",
    "load_effective",
    "problems",
]
