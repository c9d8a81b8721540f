"""firewalld: one interface (backends.base.FirewallBackend), two ways in.

D-Bus (jeepney) when we may use it (root, or a polkit rule), else `sudo -n firewall-cmd`,
COI's documented setup. Both behave the same; the shared integration suite proves it.
"""

from __future__ import annotations

from coi_tui.backends.base import FirewallBackend
from coi_tui.backends.firewalld.cli import CliFirewall
from coi_tui.backends.firewalld.dbus import DBusFirewall
from coi_tui.backends.firewalld.signals import FirewallSignals
from coi_tui.errors import BadInput, PermissionDenied

__all__ = ["CliFirewall", "DBusFirewall", "FirewallSignals", "open_firewall"]


def open_firewall(prefer: str = "auto") -> FirewallBackend:
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
