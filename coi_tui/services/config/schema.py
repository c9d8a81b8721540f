"""COI's [network] keys, firewalld era and nftables era: their types, defaults and how a value
is checked.

The nft era (COI 0.9+, docs/coi-nft-era.md §6) added `use_sudo`, `dns_servers`, `allowed_ports`,
`[[network.hosts]]` and the `dest[:ports]` / IPv4 CIDR grammar of `allowed_domains` (§4.1); no
key was renamed or dropped, so one schema serves both eras.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError

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


_PORTS = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", re.ASCII)


def port_spec_problem(spec: str) -> str | None:
    """What the `ports` of an `allowed_domains` entry `dest:ports` is instead of a comma list of
    `N` / `LO-HI` (1-65535, LO <= HI), or None (COI's parsePortSpec, docs/coi-nft-era.md §4.1)."""
    for part in spec.split(","):
        found = _PORTS.fullmatch(part.strip())
        low, high = (int(found[1]), int(found[2] or found[1])) if found else (0, 0)
        if not 1 <= low <= high <= 65535:
            return (f"a bad port list {spec!r} (N or LO-HI, 1-65535, comma-separated)"
                    if spec.strip() else "an empty port list after ':'")
    return None


def allowed_entry_problem(value: str) -> str | None:
    """What an `allowed_domains` entry is instead of `dest[:ports]` with dest a hostname, an
    IPv4 address or an IPv4 CIDR (to follow "'x' is"), or None."""
    if not value or value != value.strip():
        return "empty or padded with spaces"
    if "://" in value:
        return "a URL, not a hostname"
    if value.count(":") > 1 or "[" in value:
        return "an IPv6 address (COI allowlists IPv4 only)"
    dest, colon, spec = value.partition(":")
    if colon and not dest:
        return "missing its destination before ':'"
    if colon and (problem := port_spec_problem(spec)) is not None:
        return problem
    if "/" in dest and "*" not in dest:
        try:
            ipaddress.IPv4Network(dest, strict=False)
        except ValueError:
            return "not a valid IPv4 CIDR"
        return None
    return hostname_or_ipv4_problem(dest)


def ipv4_problem(value: Any) -> str | None:
    """An IPv4 address (trimmed)."""
    try:
        ipaddress.IPv4Address(value.strip())
    except ValueError:
        return "not a valid IPv4 address"
    return None


def dns_server_problem(value: Any) -> str | None:
    """A `dns_servers` entry as COI's validateDNSServers takes it: `net.ParseIP(trimmed)
    .To4()` holds, so an IPv4-mapped IPv6 address (`::ffff:1.1.1.1`) is 1.1.1.1; a hostname
    or a real IPv6 address is not."""
    if ipv4_problem(value) is None:
        return None
    text = value.strip()
    try:
        mapped = None if "%" in text else ipaddress.IPv6Address(text).ipv4_mapped
    except ValueError:
        mapped = None
    return None if mapped is not None else "not a valid IPv4 address"


def port_problem(value: Any) -> str | None:
    """An `allowed_ports` entry (or a host's port): 1-65535."""
    return None if 1 <= value <= 65535 else "out of range (1-65535)"


# COI's config.hostnameRe (ValidateNetworkHosts): RFC 1123 labels, a single label allowed
_HOSTNAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
                       r"(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*", re.ASCII)
HOST_FIELDS = ("ip", "hostnames", "ports")


def _ints(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)


def host_problem(entry: Any) -> str | None:
    """What one `[[network.hosts]]` table is instead of {ip, hostnames, ports} as COI's
    ValidateNetworkHosts accepts it, or None."""
    if not isinstance(entry, Mapping):
        return f"expected a table with {', '.join(HOST_FIELDS)}, got {entry!r}"
    if unknown := [k for k in entry if k not in HOST_FIELDS]:
        return f"unknown key {shown(str(unknown[0]))} (expected {', '.join(HOST_FIELDS)})"
    ip, names, ports = entry.get("ip"), entry.get("hostnames"), entry.get("ports", [])
    if not isinstance(ip, str) or ipv4_problem(ip) is not None or ip != ip.strip():
        return f"ip {ip!r} is not a valid IPv4 address"
    if not isinstance(names, list) or not names:
        return f"({ip}) at least one hostname is required, got hostnames = {names!r}"
    for name in names:
        if not isinstance(name, str) or not _HOSTNAME.fullmatch(name):
            return f"({ip}) {name!r} is not a valid hostname"
    if not _ints(ports):
        return f"({ip}) ports: expected an array of integers, got {ports!r}"
    bad = [p for p in ports if port_problem(p) is not None]
    return f"({ip}) port {bad[0]} is out of range (1-65535)" if bad else None


def parse_host(text: str) -> dict[str, Any]:
    """A `[[network.hosts]]` entry from the command line: a TOML inline table
    `{ ip = "192.168.1.50", hostnames = ["nas"], ports = [443] }`, or an /etc/hosts line
    `192.168.1.50 nas nas.lan`."""
    if text.strip().startswith("{"):
        try:
            value = tomlkit.parse(f"entry = {text.strip()}\n").unwrap().get("entry")
        except TOMLKitError:
            value = None
        if not isinstance(value, dict):
            raise ValueError(f"expected an inline table {{ ip = ..., hostnames = [...] }}, "
                             f"got {text!r}")
        return value
    if not text.split():
        raise ValueError("expected 'IP NAME...' or an inline table { ip = ..., hostnames = [...] }")
    ip, *names = text.split()
    return {"ip": ip, "hostnames": names} if names else {"ip": ip}


@dataclass(frozen=True)
class Key:
    name: str  # dotted, e.g. "network.mode"
    kind: type  # str, bool, int or list
    default: Any
    check: Callable[[Any], str | None] = lambda _value: None
    item: type = str  # a list's entries: str, int or dict (an array of tables)
    entry: Callable[[Any], str | None] = lambda _value: None  # one entry, to follow "'x' is"
    era: str = "firewalld"  # "nft": added by COI's nftables era (docs/coi-nft-era.md §6)
    # COI's current merge (mergeSlice): a list the file has replaces the lower one, even [].
    # The firewalld era's allowed_domains replaces only when non-empty (kept as it was).
    empty_replaces: bool = False
    # honoured only from trusted files: COI strips it from ./.coi/config.toml
    trusted_only: bool = False

    def parse_entry(self, text: str) -> Any:
        """A command-line string as one entry of this list (for `config add|remove`)."""
        if self.item is int:
            return _integer(text)
        if self.item is dict:
            return parse_host(text)
        return text

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
            return _integer(text)
        return text


def _integer(text: str) -> int:
    if not re.fullmatch(r"[+-]?[0-9]+", text.strip(), re.ASCII):
        raise ValueError(f"expected an integer, got {text!r}")
    return int(text)


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
        Key("network.allowed_domains", list, list(DEFAULT_ALLOWED_DOMAINS),
            entry=allowed_entry_problem),
        Key("network.refresh_interval_minutes", int, 30, _int64),
        Key("network.logging.enabled", bool, True),
        Key("network.logging.path", str, "~/.coi/logs/network.log"),
        # the nftables era (COI 0.10-0.12)
        Key("network.use_sudo", bool, True, era="nft"),
        Key("network.dns_servers", list, [], item=str, entry=dns_server_problem, era="nft",
            empty_replaces=True, trusted_only=True),
        Key("network.allowed_ports", list, [], item=int, entry=port_problem, era="nft",
            empty_replaces=True, trusted_only=True),
        Key("network.hosts", list, [], item=dict, entry=host_problem, era="nft",
            empty_replaces=True, trusted_only=True),
    )
}
# the keys that shape a container's rules (the refresh interval, logging and sudo do not);
# the last three only in the nft era
POLICY_KEYS = (
    "network.mode", "network.block_private_networks", "network.block_metadata_endpoint",
    "network.allow_local_network_access", "network.allowed_domains",
    "network.dns_servers", "network.allowed_ports", "network.hosts",
)
TABLES = {name.rsplit(".", 1)[0] for name in KEYS} - {"network"}


def as_toml(value: Any) -> str:
    """A value as TOML writes it (for strings, numbers, booleans and arrays JSON's spelling is
    TOML's; a table is written inline)."""
    if isinstance(value, Mapping):
        return "{ " + ", ".join(
            f"{k if re.fullmatch(r'[A-Za-z0-9_-]+', str(k)) else as_toml(str(k))} = {as_toml(v)}"
            for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(as_toml(v) for v in value) + "]"
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
