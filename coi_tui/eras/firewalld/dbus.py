"""firewalld over the system D-Bus (jeepney): the fast path, for root or a polkit grant.

One persistent connection, no introspection: each call is one message out and one reply in.
A lock serialises calls, so one instance may be shared between threads.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Sequence
from typing import Any

from jeepney import DBusAddress, Properties, new_method_call
from jeepney.io.blocking import DBusConnection, open_dbus_connection
from jeepney.wrappers import DBusErrorResponse, unwrap_msg

from coi_tui.eras.firewalld.errors import (
    ALREADY_ENABLED,
    NOT_ENABLED,
    UNKNOWN_INTERFACE,
    add_action,
    error_code,
    reason_line,
    refused,
    remove_action,
)
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.errors import BackendUnavailable, CoiTuiError, FirewallDown, PermissionDenied

BUS_NAME = "org.fedoraproject.FirewallD1"
PATH = "/org/fedoraproject/FirewallD1"
MAIN = DBusAddress(PATH, bus_name=BUS_NAME, interface=BUS_NAME)
DIRECT = MAIN.with_interface(f"{BUS_NAME}.direct")
ZONE = MAIN.with_interface(f"{BUS_NAME}.zone")

_FIREWALLD_EXCEPTION = f"{BUS_NAME}.Exception"
_NOT_AUTHORIZED = f"{BUS_NAME}.NotAuthorizedException"
_NO_FIREWALLD = {
    "org.freedesktop.DBus.Error.ServiceUnknown",
    "org.freedesktop.DBus.Error.NameHasNoOwner",
}
_NO_ANSWER = {"org.freedesktop.DBus.Error.NoReply", "org.freedesktop.DBus.Error.Timeout"}
_DENIED = {"org.freedesktop.DBus.Error.AccessDenied", "org.freedesktop.DBus.Error.AuthFailed"}

DEFAULT_TIMEOUT = 25.0  # the D-Bus default; a big reload can keep firewalld busy for seconds


def bus_description(bus: str) -> str:
    if bus == "SYSTEM":
        default = "unix:path=/var/run/dbus/system_bus_socket"
        return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or default
    return bus


def connect(bus: str = "SYSTEM") -> DBusConnection:
    """A new connection to the bus, or BackendUnavailable naming the bus and the reason."""
    try:
        return open_dbus_connection(bus=bus)
    except (OSError, ValueError, RuntimeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        raise BackendUnavailable(
            f"the system D-Bus is unreachable at {bus_description(bus)}: {reason or 'no answer'}"
        ) from error


def rule_from_body(body: Sequence[Any]) -> DirectRule:
    """A DirectRule from D-Bus's (ipv, table, chain, priority, args) tuple."""
    ipv, table, chain, priority, args = body
    return DirectRule(str(ipv), str(table), str(chain), int(priority), tuple(str(a) for a in args))


def _rule_body(rule: DirectRule) -> tuple[str, str, str, int, list[str]]:
    return (rule.ipv, rule.table, rule.chain, rule.priority, list(rule.args))


class _Tolerated(Exception):
    """firewalld answered with the error code the caller treats as 'nothing to do'."""


class DBusFirewall:
    name = "D-Bus"

    def __init__(self, bus: str = "SYSTEM", timeout: float = DEFAULT_TIMEOUT) -> None:
        self._bus = bus
        self._timeout = timeout
        self._lock = threading.Lock()
        self._conn: DBusConnection | None = connect(bus)

    def _call(
        self,
        address: DBusAddress,
        method: str,
        signature: str | None = None,
        body: tuple[Any, ...] = (),
        *,
        action: str,
        tolerate: str = "",
    ) -> tuple[Any, ...]:
        message = new_method_call(address, method, signature, body)
        return self._send(message, action=action, tolerate=tolerate)

    def _send(self, message: Any, *, action: str, tolerate: str = "") -> tuple[Any, ...]:
        with self._lock:
            if self._conn is None:
                self._conn = connect(self._bus)  # the bus went away earlier: try again now
            try:
                reply = self._conn.send_and_get_reply(message, timeout=self._timeout)
            except TimeoutError as error:
                raise BackendUnavailable(
                    f"firewalld did not answer within {self._timeout:g}s (to {action})"
                ) from error
            except OSError as error:
                self._conn.close()
                self._conn = None
                reason = error.strerror or errno.errorcode.get(error.errno or 0, str(error))
                raise BackendUnavailable(f"lost the system D-Bus connection ({reason})") from error
        try:
            result: tuple[Any, ...] = unwrap_msg(reply)
        except DBusErrorResponse as error:
            reason = str(error.data[0]) if error.data else ""
            if tolerate and error.name == _FIREWALLD_EXCEPTION and error_code(reason) == tolerate:
                raise _Tolerated from None
            raise _error_for(error.name or "", reason, action) from None
        return result

    def state(self) -> str:
        (state,) = self._send(Properties(MAIN).get("state"), action="read firewalld's state")
        value = str(state[1]).lower()  # a variant: (signature, value)
        if value != "running":
            raise FirewallDown(f"firewalld is not running (state {value})")
        return value

    def authorized(self) -> bool:
        """Whether firewalld lets this process use the direct interface."""
        try:
            self._call(DIRECT, "getAllChains", action="list direct chains")
        except PermissionDenied:
            return False
        return True

    def list_rules(self) -> list[DirectRule]:
        (rules,) = self._call(DIRECT, "getAllRules", action="list direct rules")
        return [rule_from_body(body) for body in rules]

    def add_rule(self, rule: DirectRule) -> bool:
        try:
            self._call(DIRECT, "addRule", "sssias", _rule_body(rule),
                       action=add_action(rule), tolerate=ALREADY_ENABLED)
        except _Tolerated:
            return False
        return True

    def remove_rule(self, rule: DirectRule) -> bool:
        try:
            self._call(DIRECT, "removeRule", "sssias", _rule_body(rule),
                       action=remove_action(rule), tolerate=NOT_ENABLED)
        except _Tolerated:
            return False
        return True

    def query_rule(self, rule: DirectRule) -> bool:
        (present,) = self._call(DIRECT, "queryRule", "sssias", _rule_body(rule),
                                action=f"query rule [{rule}]")
        return bool(present)

    def zone_of_interface(self, interface: str) -> str | None:
        (zone,) = self._call(ZONE, "getZoneOfInterface", "s", (interface,),
                             action=f"read the zone of {interface}")
        return str(zone) or None

    def remove_interface(self, zone: str, interface: str) -> bool:
        """Unbind interface from zone ('' = whichever zone it is in); False if it was unbound."""
        try:
            self._call(ZONE, "removeInterface", "ss", (zone, interface),
                       action=f"remove {interface} from zone {zone or '(any)'}",
                       tolerate=UNKNOWN_INTERFACE)
        except _Tolerated:
            return False
        return True

    def zone_bindings(self) -> dict[str, tuple[str, ...]]:
        """Runtime interface bindings of every zone that has any: zone -> interfaces."""
        (zones,) = self._call(ZONE, "getActiveZones", action="list the active zones")
        return {str(zone): tuple(str(i) for i in (settings.get("interfaces") or []))
                for zone, settings in zones.items()}

    def masquerade_enabled(self, zone: str | None = None) -> bool:
        (enabled,) = self._call(ZONE, "queryMasquerade", "s", (zone or "",),
                                action=f"query masquerade in zone {zone or '(default)'}")
        return bool(enabled)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _error_for(name: str, reason: str, action: str) -> CoiTuiError:
    if name == _NOT_AUTHORIZED:
        return PermissionDenied(
            f"firewalld's D-Bus API refused {action}: {reason_line(reason)} "
            "(run as root, grant it with a polkit rule, or use sudo firewall-cmd)"
        )
    if name in _DENIED:
        return PermissionDenied(f"the system D-Bus refused {action}: {reason_line(reason)}")
    if name in _NO_FIREWALLD:
        return FirewallDown(
            f"firewalld is not running (nobody owns {BUS_NAME} on the system D-Bus)"
        )
    if name in _NO_ANSWER:
        return BackendUnavailable(f"firewalld did not answer (to {action}): {reason_line(reason)}")
    if name == _FIREWALLD_EXCEPTION:
        return refused(action, reason)
    return refused(action, f"{name}: {reason}")
