"""coi-tui's own settings (not COI's): ~/.config/coi-tui/config.toml.

    [guard]
    freeze_after_seconds = 10   # freeze guard: 0 or absent = off

    [keys]                      # the TUI's keys, by action id (README: Keys)
    "containers.set_mode" = "M"
    "app.quit" = "q,ctrl+q"

Read with tomllib: coi-tui never edits this file.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from coi_tui.errors import BadInput


def settings_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "coi-tui" / "config.toml"


@dataclass(frozen=True)
class OwnSettings:
    freeze_after: float | None = None  # seconds without isolation before the guard freezes
    keys: tuple[tuple[str, str], ...] = ()  # action id -> Textual key names (the UI checks ids)


def freeze_after_value(value: object, where: str) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise BadInput(f"{where}: freeze_after_seconds must be a number >= 0, got {value!r}")
    return float(value) if value > 0 else None


def load_own_settings(path: Path | None = None) -> OwnSettings:
    path = path or settings_path()
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return OwnSettings()
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise BadInput(f"{path}: {error}") from None
    unknown_tables = set(document) - {"guard", "keys"}
    if unknown_tables:
        raise BadInput(f"{path}: unknown table [{sorted(unknown_tables)[0]}]")
    guard = document.get("guard", {})
    if not isinstance(guard, dict):
        raise BadInput(f"{path}: [guard] must be a table")
    unknown = set(guard) - {"freeze_after_seconds"}
    if unknown:
        raise BadInput(f"{path}: unknown key guard.{sorted(unknown)[0]}")
    value = guard.get("freeze_after_seconds", 0)
    return OwnSettings(freeze_after=freeze_after_value(value, str(path)),
                       keys=key_table(document.get("keys", {}), path))


def key_table(keys: object, path: Path) -> tuple[tuple[str, str], ...]:
    if not isinstance(keys, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in keys.items()):
        raise BadInput(f"{path}: [keys] maps action ids to key names, e.g. \"app.quit\" = \"q\"")
    return tuple(sorted(keys.items()))
