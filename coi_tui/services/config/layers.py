"""COI's layered config: where each file is, how layers merge, where each value came from.

Order, lowest first (docs/coi-firewalld-era.md §1.1): built-in defaults, /etc/coi/config.toml,
~/.config/coi/config.toml, ~/.coi/config.toml, ./.coi/config.toml, $COI_CONFIG. A present
boolean wins; a non-empty string or list replaces; an integer replaces unless it is 0 (COI's
quirk: `refresh_interval_minutes = 0` keeps the lower value). Missing files are skipped.

The nft era's lists (`dns_servers`, `allowed_ports`, `[[network.hosts]]`) merge as COI merges
them today (mergeSlice): a list the file has replaces the lower one, even an empty one; and COI
honours them only from trusted files, so the project's ./.coi/config.toml cannot set them
(sanitizeUntrustedNetwork, docs/coi-nft-era.md §6): such a value is ignored, with a note.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from coi_tui.models import HostEntry, Mode, NetworkSettings
from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.schema import KEYS, Key
from coi_tui.services.config.validate import check, parse_toml

DEFAULTS = "built-in defaults"


@dataclass(frozen=True)
class Locations:
    """Where COI looks; home, cwd and env are injected so tests never touch the real ~/.coi."""

    home: Path
    cwd: Path
    env: Mapping[str, str] = field(default_factory=dict)
    etc: Path = Path("/etc/coi/config.toml")

    def _expand(self, text: str) -> Path:
        if text == "~" or text.startswith("~/"):
            return self.home / text[2:]
        return self.cwd / text  # an absolute path stays itself

    def files(self) -> list[Path]:
        """Every layer's file, lowest precedence first (missing ones included)."""
        paths = [
            self.etc,
            self.home / ".config" / "coi" / "config.toml",
            self.home / ".coi" / "config.toml",
            self.cwd / ".coi" / "config.toml",
        ]
        if self.env.get("COI_CONFIG"):
            paths.append(self._expand(self.env["COI_CONFIG"]))
        return paths

    def with_top(self, path: Path | str | None) -> Locations:
        """`path` as the top layer, where $COI_CONFIG would be (what `--config PATH` means)."""
        return replace(self, env={**self.env, "COI_CONFIG": str(path)}) if path else self

    def including(self, path: Path) -> Locations:
        """These locations with `path` among the layers: on top if it is none of COI's files."""
        return self if _position(self.files(), path) is not None else self.with_top(path)

    def untrusted(self, path: Path) -> bool:
        """Is `path` the project's ./.coi/config.toml (and none of the trusted files)?"""
        trusted = [self.home / ".coi" / "config.toml", *self.files()[4:]]
        real = os.path.realpath(path)
        return (real == os.path.realpath(self.cwd / ".coi" / "config.toml")
                and _position(trusted, path) is None)

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
    # values a file sets that COI ignores there (trusted-only keys in the project file)
    ignored: tuple[str, ...] = ()

    def settings(self) -> NetworkSettings:
        v = self.values
        return NetworkSettings(
            mode=Mode(v["network.mode"]),
            block_private_networks=v["network.block_private_networks"],
            block_metadata_endpoint=v["network.block_metadata_endpoint"],
            allow_local_network_access=v["network.allow_local_network_access"],
            allowed_domains=tuple(v["network.allowed_domains"]),
            refresh_interval_minutes=v["network.refresh_interval_minutes"],
            use_sudo=v["network.use_sudo"],
            dns_servers=tuple(v["network.dns_servers"]),
            allowed_ports=tuple(v["network.allowed_ports"]),
            hosts=tuple(HostEntry(h["ip"], tuple(h["hostnames"]), tuple(h.get("ports", ())))
                        for h in v["network.hosts"]),
        )

    def changed_keys(self, newer: Effective) -> tuple[str, ...]:
        """The keys whose effective value differs in `newer`."""
        return tuple(k for k in KEYS if self.values[k] != newer.values[k])


def read_config_text(path: Path) -> str | None:
    """The file's text exactly (CRLF kept), None if it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise ConfigError(f"failed to load config from {path}: {error.strerror}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError(
            f"failed to load config from {path}: not UTF-8 text (byte {error.start})"
        ) from None


def _lookup(document: Mapping[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = document
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _wins(key: Key, value: Any) -> bool:
    if key.kind is bool:
        return isinstance(value, bool)
    if key.kind is int:
        return isinstance(value, int) and value != 0
    if key.empty_replaces:
        return isinstance(value, list)
    return bool(value)  # non-empty string or list


def _position(files: list[Path], path: Path) -> int | None:
    real = os.path.realpath(path)
    return next((i for i, f in enumerate(files) if os.path.realpath(f) == real), None)


def builtin_defaults() -> Effective:
    """COI's built-in defaults alone: what stands in for a config that cannot be read."""
    return Effective({name: key.default for name, key in KEYS.items()},
                     dict.fromkeys(KEYS, DEFAULTS), ())


def load_effective(locations: Locations, below: Path | None = None) -> Effective:
    """Merge every layer; with `below`, only the layers under that file (what it overrides)."""
    files = locations.files()
    if below is not None and (top := _position(files, below)) is not None:
        files = files[:top]
    values, sources = dict(builtin_defaults().values), dict(builtin_defaults().sources)
    read = []
    ignored = []
    for path in files:
        text = read_config_text(path)
        if text is None:
            continue
        document = parse_toml(text, str(path)).unwrap()
        check(document, str(path))
        read.append(path)
        untrusted = locations.untrusted(path)
        for name, key in KEYS.items():
            present, value = _lookup(document, name)
            if present and key.trusted_only and untrusted:
                ignored.append(f"{path}: {name} ignored: COI takes it only from trusted files "
                               "(~/.coi/config.toml, $COI_CONFIG)")
            elif present and _wins(key, value):
                values[name] = list(value) if key.kind is list else value
                sources[name] = str(path)
    return Effective(values, sources, tuple(read), tuple(ignored))


def effective_settings(locations: Locations) -> NetworkSettings:
    """The [network] settings COI would use (for the engine and the planner)."""
    return load_effective(locations).settings()
