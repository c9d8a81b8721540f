"""COI's [network] keys (firewalld era): their types, defaults and how a value is checked."""

from __future__ import annotations

import difflib
import ipaddress
import json
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
# ASCII only: with IGNORECASE alone, [a-z] also matches e.g. the Kelvin sign U+212A
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)", re.IGNORECASE | re.ASCII)
INT64 = range(-(2**63), 2**63)  # TOML integers (and COI's Go int)


def hostname_or_ipv4_problem(value: str) -> str | None:
    """What an allowed_domains entry is instead of a hostname or an IPv4 address (to follow
    "'x' is"), or None if it is one."""
    if not value or value != value.strip():
        return "empty or padded with spaces"
    if "*" in value:
        return "a wildcard (not supported: COI resolves exact names)"
    if "://" in value or "/" in value:
        return "a URL or a path, not a hostname"
    if ":" in value:
        return "an IPv6 address or a host:port (only hostnames and IPv4 addresses)"
    if re.fullmatch(r"[0-9.]+", value, re.ASCII):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            return "not a valid IPv4 address"
        return None
    name = value.removesuffix(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in name.split(".")):
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
            if not re.fullmatch(r"[+-]?[0-9]+", text.strip(), re.ASCII):
                raise ValueError(f"expected an integer, got {text!r}")
            return int(text)
        return text


def _mode(value: Any) -> str | None:
    if value not in MODES:
        return f"unknown mode {value!r} (expected {', '.join(MODES[:-1])} or {MODES[-1]})"
    return None


def _int64(value: Any) -> str | None:
    return None if value in INT64 else f"{value!r} is out of range for a 64-bit integer"


KEYS = {
    key.name: key
    for key in (
        Key("network.mode", str, "restricted", _mode),
        Key("network.block_private_networks", bool, True),
        Key("network.block_metadata_endpoint", bool, True),
        Key("network.allow_local_network_access", bool, False),
        Key("network.allowed_domains", list, list(DEFAULT_ALLOWED_DOMAINS)),
        Key("network.refresh_interval_minutes", int, 30, _int64),
        Key("network.logging.enabled", bool, True),
        Key("network.logging.path", str, "~/.coi/logs/network.log"),
    )
}
# the keys that shape a container's rules (the refresh interval and logging do not)
POLICY_KEYS = (
    "network.mode", "network.block_private_networks", "network.block_metadata_endpoint",
    "network.allow_local_network_access", "network.allowed_domains",
)
TABLES = {name.rsplit(".", 1)[0] for name in KEYS} - {"network"}


def as_toml(value: Any) -> str:
    """A value as TOML writes it (for these types JSON's spelling is TOML's)."""
    return json.dumps(value, ensure_ascii=False)


def shown(name: str) -> str:
    """A key name fit for a one-line message (TOML's quoted keys may hold anything)."""
    return name if re.fullmatch(r"[!-~]+", name) else repr(name)


def unknown_key(name: str) -> str:
    """Why `name` is refused, with the closest known key as a hint."""
    # compared without the shared "network." so that it does not make everything look close
    short = {k.removeprefix("network."): k for k in [*KEYS, *TABLES]}
    close = difflib.get_close_matches(name.removeprefix("network."), short, n=1)
    hint = f"did you mean {short[close[0]]}?" if close else f"known: {', '.join(KEYS)}"
    return f"unknown key ({hint})"


def key_named(name: str) -> Key:
    key = KEYS.get(name) or KEYS.get(f"network.{name}")
    if key is None:
        dotted = name if "." in name else f"network.{name}"
        raise ConfigError(f"{shown(name)}: {unknown_key(dotted)}")
    return key
