"""COI's layered config: where each file is, how layers merge, where each value came from.

Order, lowest first (coi-network-spec.md §1.1): built-in defaults, /etc/coi/config.toml,
~/.config/coi/config.toml, ~/.coi/config.toml, ./.coi/config.toml, $COI_CONFIG. A present
boolean wins; a non-empty string or list replaces; an integer replaces unless it is 0 (COI's
quirk: `refresh_interval_minutes = 0` keeps the lower value). Missing files are skipped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coi_tui.models import Mode, NetworkSettings
from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.schema import KEYS
from coi_tui.services.config.validate import check, parse_toml

DEFAULTS = "built-in defaults"


@dataclass(frozen=True)
class Locations:
    home: Path
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    etc: Path = Path("/etc/coi/config.toml")

    def files(self) -> list[Path]:
        paths = [
            self.etc,
            self.home / ".config" / "coi" / "config.toml",
            self.home / ".coi" / "config.toml",
            self.cwd / ".coi" / "config.toml",
        ]
        if self.env.get("COI_CONFIG"):
            paths.append(Path(self.env["COI_CONFIG"]).expanduser())
        return paths

    def user_files(self) -> list[Path]:
        """The files a user edits, highest precedence last (no /etc)."""
        return self.files()[1:]

    def default_edit_target(self) -> Path:
        """The highest-precedence user file that exists, else ~/.coi/config.toml."""
        existing = [p for p in self.user_files() if p.exists()]
        return existing[-1] if existing else self.home / ".coi" / "config.toml"


@dataclass(frozen=True)
class Effective:
    values: Mapping[str, Any]  # dotted key -> value
    sources: Mapping[str, str]  # dotted key -> file path or DEFAULTS
    files: tuple[Path, ...]  # the files that were read

    def settings(self) -> NetworkSettings:
        v = self.values
        return NetworkSettings(
            mode=Mode(v["network.mode"]),
            block_private_networks=v["network.block_private_networks"],
            block_metadata_endpoint=v["network.block_metadata_endpoint"],
            allow_local_network_access=v["network.allow_local_network_access"],
            allowed_domains=tuple(v["network.allowed_domains"]),
            refresh_interval_minutes=v["network.refresh_interval_minutes"],
        )


def _lookup(document: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _wins(kind: type, value: Any) -> bool:
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and value != 0
    return bool(value)  # non-empty string or list


def load_effective(locations: Locations) -> Effective:
    values = {name: key.default for name, key in KEYS.items()}
    sources = dict.fromkeys(KEYS, DEFAULTS)
    read = []
    for path in locations.files():
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            continue
        except OSError as error:
            raise ConfigError(f"failed to load config from {path}: {error.strerror}") from None
        document = parse_toml(text, str(path)).unwrap()
        check(document, str(path))
        read.append(path)
        for name, key in KEYS.items():
            present, value = _lookup(document, name)
            if present and _wins(key.kind, value):
                values[name] = list(value) if key.kind is list else value
                sources[name] = str(path)
    return Effective(values, sources, tuple(read))
