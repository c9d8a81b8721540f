"""Validation of a config document before anything is written: every problem, one line each."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError

from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.schema import KEYS, TABLES, Key, shown, unknown_key

TYPE_NAMES = {str: "a string", bool: "a boolean (true/false)", int: "an integer",
              list: "an array of strings"}
ITEM_NAMES = {str: "a string", int: "an integer", dict: "a table"}
ARRAY_NAMES = {str: "an array of strings", int: "an array of integers",
               dict: "an array of tables ([[...]])"}


def parse_toml(text: str, source: str = "config") -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except ParseError as error:
        raise ConfigError(
            f"{source}: TOML syntax error at line {error.line}, column {error.col}: "
            f"{str(error).split(' at line')[0]}"
        ) from None
    except TOMLKitError as error:  # e.g. KeyAlreadyPresent: a key both a value and a table
        raise ConfigError(f"{source}: TOML error: {error}") from None


def _type_ok(kind: type, value: Any) -> bool:
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _flatten(prefix: str, table: Mapping[str, Any]) -> dict[str, Any]:
    """The leaves of a table by dotted name; a known key stays a leaf, whatever its value."""
    flat: dict[str, Any] = {}
    for name, value in table.items():
        key = f"{prefix}.{name}"
        if isinstance(value, Mapping) and key not in KEYS:
            flat.update(_flatten(key, value))
        else:
            flat[key] = value
    return flat


def entry_problems(key: Key, entries: list[Any]) -> list[str]:
    """Every bad entry of a list key, one line each."""
    if key.item is dict:  # an array of tables: its entries are named by index, as COI does
        return [f"{key.name}[{i}]: {problem}" for i, entry in enumerate(entries)
                if (problem := key.entry(entry)) is not None]
    found = []
    seen: set[str] = set()
    for entry in entries:
        if not _type_ok(key.item, entry):
            found.append(f"{key.name}: {entry!r} is not {ITEM_NAMES[key.item]}")
            continue
        if (problem := key.entry(entry)) is not None:
            found.append(f"{key.name}: {entry!r} is {problem}")
        elif key.name == "network.allowed_domains" and entry.lower() in seen:
            found.append(f"{key.name}: {entry!r} is listed twice")
        if isinstance(entry, str):
            seen.add(entry.lower())
    return found


def problems(document: Mapping[str, Any]) -> list[str]:
    """Every problem of the [network] table (other sections belong to COI and are kept)."""
    network = document.get("network")
    if network is None:
        return []
    if not isinstance(network, Mapping):
        return [f"network: expected a table, got {network!r}"]
    found = []
    values = _flatten("network", network)
    for name, value in values.items():
        key = KEYS.get(name)
        if key is None:
            why = "expected a table" if name in TABLES else unknown_key(name)
            found.append(f"{shown(name)}: {why}, got {value!r}")
        elif not _type_ok(key.kind, value):
            kind = ARRAY_NAMES[key.item] if key.kind is list else TYPE_NAMES[key.kind]
            found.append(f"{name}: expected {kind}, got {value!r}")
        elif (problem := key.check(value)) is not None:
            found.append(f"{name}: {problem}")
        elif key.kind is list:
            found += entry_problems(key, value)
    domains = values.get("network.allowed_domains")
    allowlist = values.get("network.mode") == "allowlist"
    if allowlist and domains == []:
        found.append("network.allowed_domains: allowlist mode requires at least one allowed "
                     "domain (the list is empty)")
    if allowlist and values.get("network.dns_servers"):
        found.append("network.dns_servers: not compatible with allowlist mode (it blocks DNS; "
                     "COI refuses to start)")
    return found


def check(document: Mapping[str, Any], source: str = "config") -> None:
    """Raise ConfigError with the first problem (the CLI's one line); all are in problems()."""
    found = problems(document)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise ConfigError(f"{source}: {found[0]}{more}")
