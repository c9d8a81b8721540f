"""firewalld: one interface (`Firewalld`), two ways in.

D-Bus (jeepney) when we may use it (root, or a polkit rule), else `sudo -n firewall-cmd`,
COI's documented setup. Both behave the same; the shared integration suite proves it.
"""

from __future__ import annotations

from typing import Protocol

from coi_tui.backends.base import FirewallBackend
from coi_tui.eras.firewalld.cli import CliFirewall
from coi_tui.eras.firewalld.dbus import DBusFirewall
from coi_tui.eras.firewalld.rules import DirectRule, DirectRules
from coi_tui.eras.firewalld.signals import FirewallSignals
from coi_tui.errors import BadInput, PermissionDenied

__all__ = ["CliFirewall", "DBusFirewall", "FirewallSignals", "Firewalld", "open_firewall"]


class Firewalld(FirewallBackend, DirectRules, Protocol):
    """firewalld's direct interface and zones. Any refusal raises FirewallError with
    firewalld's reason."""

    def query_rule(self, rule: DirectRule) -> bool: ...
    def zone_of_interface(self, interface: str) -> str | None: ...
    def remove_interface(self, zone: str, interface: str) -> bool: ...
    def zone_bindings(self) -> dict[str, tuple[str, ...]]: ...
    def masquerade_enabled(self) -> bool: ...


def open_firewall(prefer: str = "auto") -> Firewalld:
    if prefer == "cli":
        return CliFirewall()
    if prefer == "dbus":
        return DBusFirewall()
    if prefer != "auto":
        raise BadInput(f"unknown firewall access path {prefer!r} (expected auto, dbus or cli)")
    dbus = DBusFirewall()
    try:
        dbus.list_rules()  # the direct interface needs authorization even to read
    except PermissionDenied:
        dbus.close()
        return CliFirewall()
    return dbus
