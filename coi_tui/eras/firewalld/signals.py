"""firewalld's D-Bus signals in a thread: Reloaded, RuleAdded, RuleRemoved, and its coming and
going (NameOwnerChanged). Receiving signals needs no authorization, so this serves the CLI
backend too."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from jeepney import MatchRule, message_bus
from jeepney.io.blocking import DBusConnection, Proxy, open_dbus_connection

from coi_tui.backends.base import EventSink
from coi_tui.eras.firewalld.dbus import BUS_NAME, PATH


def _owner_changes() -> MatchRule:
    rule = MatchRule(type="signal", interface="org.freedesktop.DBus", member="NameOwnerChanged")
    rule.add_arg_condition(0, BUS_NAME)
    return rule


# No sender= in the rules: jeepney's local filter compares it with the unique name (":1.x").
RULES = {
    "Reloaded": MatchRule(type="signal", interface=BUS_NAME, member="Reloaded", path=PATH),
    "RuleAdded": MatchRule(type="signal", interface=f"{BUS_NAME}.direct", member="RuleAdded"),
    "RuleRemoved": MatchRule(type="signal", interface=f"{BUS_NAME}.direct", member="RuleRemoved"),
    "NameOwnerChanged": _owner_changes(),
}


class FirewallSignals:
    def __init__(self, sink: EventSink, bus: str = "SYSTEM", poll: float = 1.0) -> None:
        self._sink = sink
        self._bus = bus
        self._poll = poll
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="firewalld-signals", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float = 5.0) -> bool:
        """True once subscribed: signals sent after this are seen."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _subscribe(self) -> DBusConnection:
        conn = open_dbus_connection(bus=self._bus)
        bus = Proxy(message_bus, conn)
        for rule in RULES.values():
            bus.AddMatch(rule)
        return conn

    def _run(self) -> None:
        lost = False
        while not self._stop.is_set():
            try:
                conn = self._subscribe()
            except Exception as error:  # no bus yet: retry until stopped
                self._sink("dbus-down", {"reason": str(error)})
                lost = True
                self._stop.wait(1.0)
                continue
            with contextlib.closing(conn):
                self._ready.set()
                if lost:  # firewalld's signals were missed meanwhile: look again
                    self._sink("dbus-up", {})
                lost = False
                lost = self._receive(conn)

    def _receive(self, conn: DBusConnection) -> bool:
        """Until stopped (False) or the bus goes away (True)."""
        while not self._stop.is_set():
            try:
                message = conn.receive(timeout=self._poll)
            except TimeoutError:
                continue
            except Exception as error:  # the bus went away: resubscribe
                self._sink("dbus-down", {"reason": str(error)})
                return True
            for name, rule in RULES.items():
                if rule.matches(message):
                    self._dispatch(name, message.body)
        return False

    def _dispatch(self, name: str, body: tuple[Any, ...]) -> None:
        if name == "NameOwnerChanged":
            new_owner = body[2] if len(body) > 2 else ""
            self._sink("firewalld-up" if new_owner else "firewalld-down", {})
        elif name == "Reloaded":
            self._sink("Reloaded", {})
        else:
            ipv, table, chain, priority, args = body
            self._sink(
                name,
                {"ipv": ipv, "table": table, "chain": chain, "priority": priority,
                 "args": tuple(args)},
            )
