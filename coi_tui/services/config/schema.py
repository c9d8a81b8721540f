"""COI's [network] keys (firewalld era): their types, defaults and how a value is checked."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coi_tui.models import Mode
from coi_tui.services.config.errors import ConfigError

MODES = tuple(m.value for m in Mode)
# COI's built-in allowlist (firewalld era, f94d6352)
DEFAULT_ALLOWED_DOMAINS = (
    "8.8.8.8", "1.1.1.1", "registry.npmjs.org", "npm.pkg.github.com", "api.anthropic.com",
    "platform.claude.com",
)
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$", re.IGNORECASE)


def hostname_or_ipv4_problem(value: str) -> str | None:
    """Why an allowed_domains entry is not a hostname or an IPv4 address, or None if it is."""
    if not value or value != value.strip():
        return "empty or padded with spaces"
    if "*" in value:
        return "wildcards are not supported (COI resolves exact names)"
    if "://" in value or "/" in value:
        return "a URL or path, not a hostname"
    if ":" in value:
        return "IPv6 or host:port is not supported (IPv4 addresses and hostnames only)"
    if re.fullmatch(r"[0-9.]+", value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return "not a valid IPv4 address"
        return None
    name = value.removesuffix(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        return "not a valid hostname"
    if "." not in name:
        return "not a fully qualified hostname (no dot)"
    return None


@dataclass(frozen=True)
class Key:
    name: str  # dotted, e.g. "network.mode"
    kind: type  # str, bool, int or list
    default: Any
    check: Callable[[Any], str | None] = lambda _value: None

    def parse(self, text: str) -> Any:
        """A command-line string as this key's type (for `config set`)."""
        if self.kind is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "yes", "on", "1"):
                return True
            if lowered in ("false", "no", "off", "0"):
                return False
            raise ValueError(f"expected true or false, got {text!r}")
        if self.kind is int:
            try:
                return int(text)
            except ValueError:
                raise ValueError(f"expected an integer, got {text!r}") from None
        return text


def _mode(value: Any) -> str | None:
    if value not in MODES:
        return f"unknown mode {value!r} (expected {', '.join(MODES)})"
    return None


KEYS = {
    key.name: key
    for key in (
        Key("network.mode", str, "restricted", _mode),
        Key("network.block_private_networks", bool, True),
        Key("network.block_metadata_endpoint", bool, True),
        Key("network.allow_local_network_access", bool, False),
        Key("network.allowed_domains", list, list(DEFAULT_ALLOWED_DOMAINS)),
        Key("network.refresh_interval_minutes", int, 30),
        Key("network.logging.enabled", bool, True),
        Key("network.logging.path", str, "~/.coi/logs/network.log"),
    )
}
LIST_KEYS = {name for name, key in KEYS.items() if key.kind is list}


def key_named(name: str) -> Key:
    key = KEYS.get(name) or KEYS.get(f"network.{name}")
    if key is None:
        known = ", ".join(sorted(KEYS))
        raise ConfigError(f"{name}: unknown key (known: {known})")
    return key
