"""One suite, both ways into firewalld (D-Bus and `sudo -n firewall-cmd`), the real daemon."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from coi_tui.eras.firewalld.access import (
    CliFirewall,
    DBusFirewall,
    Firewalld,
    FirewallSignals,
    open_firewall,
)
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.errors import BackendUnavailable, FirewallError, PermissionDenied
from tests import lab_support as lab

pytestmark = pytest.mark.lab

# A source no lab container has, at a priority COI never uses: nobody else is disturbed.
TEST_SOURCE = "10.147.0.251"
RULE = DirectRule("ipv4", "filter", "FORWARD", 42,
                  ("-s", TEST_SOURCE, "-d", "192.0.2.10", "-j", "REJECT"))
OTHER = DirectRule("ipv4", "filter", "FORWARD", 42,
                   ("-s", TEST_SOURCE, "-d", "192.0.2.11", "-j", "REJECT"))

IMPLEMENTATIONS: dict[str, Callable[[], Firewalld]] = {
    "dbus": DBusFirewall,
    "sudo-firewall-cmd": lambda: CliFirewall(["sudo", "-n", "firewall-cmd"]),
}


def cleanup() -> None:
    firewall = DBusFirewall()
    for rule in firewall.list_rules():
        if rule.source_ip() == TEST_SOURCE:
            firewall.remove_rule(rule)
    firewall.close()


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def firewall(request: pytest.FixtureRequest) -> Iterator[Firewalld]:
    lab.require_lab()
    cleanup()
    backend = IMPLEMENTATIONS[request.param]()
    try:
        yield backend
    finally:
        backend.close()
        cleanup()


def test_add_list_query_remove(firewall: Firewalld) -> None:
    assert firewall.add_rule(RULE) is True
    assert RULE in firewall.list_rules()
    assert f"ipv4 filter FORWARD 42 -s {TEST_SOURCE} -d 192.0.2.10 -j REJECT" in lab.direct_rules()
    assert firewall.query_rule(RULE) and not firewall.query_rule(OTHER)
    assert firewall.remove_rule(RULE) is True
    assert RULE not in firewall.list_rules()
    assert not any(TEST_SOURCE in line for line in lab.direct_rules())


def test_duplicate_add_and_missing_remove_are_no_ops(firewall: Firewalld) -> None:
    assert firewall.add_rule(RULE) is True
    assert firewall.add_rule(RULE) is False
    assert [r for r in firewall.list_rules() if r.source == TEST_SOURCE] == [RULE]
    assert firewall.remove_rule(RULE) is True
    assert firewall.remove_rule(RULE) is False
    assert firewall.remove_rule(OTHER) is False


def test_both_read_the_same_rules_as_firewalld_stores_them(firewall: Firewalld) -> None:
    slash32 = DirectRule("ipv4", "filter", "FORWARD", 42,
                         ("-s", f"{TEST_SOURCE}/32", "-d", "192.0.2.12", "-j", "ACCEPT"))
    firewall.add_rule(slash32)
    assert slash32 in DBusFirewall().list_rules()
    assert slash32 in CliFirewall().list_rules()


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        (DirectRule("ipv4", "filter", "FORWARD", 42, ("-s", "10.147.0.999", "-j", "REJECT")),
         "10.147.0.999' not found"),
        (DirectRule("ipv5", "filter", "FORWARD", 42, ("-s", TEST_SOURCE, "-j", "REJECT")),
         "INVALID_IPV"),
        (DirectRule("ipv4", "filter", "NOCHAIN", 42, ("-s", TEST_SOURCE, "-j", "REJECT")),
         "NOCHAIN"),
    ],
)
def test_a_bad_argument_is_an_error_with_firewalld_s_reason(
    firewall: Firewalld, bad: DirectRule, reason: str
) -> None:
    before = lab.direct_rules()
    with pytest.raises(FirewallError) as raised:
        firewall.add_rule(bad)
    message = str(raised.value)
    assert reason in message and "\n" not in message
    assert lab.direct_rules() == before


def test_zone_of_interface_and_removing_one_from_its_zone(firewall: Firewalld) -> None:
    assert firewall.zone_of_interface(lab.BRIDGE) == "trusted"
    link = "coi-t-dummy"
    lab.run("ip", "link", "add", link, "type", "dummy", check=False)
    try:
        lab.firewall_cmd("--zone=trusted", f"--add-interface={link}")
        assert firewall.zone_of_interface(link) == "trusted"
        assert firewall.remove_interface("", link) is True
        assert firewall.zone_of_interface(link) is None
        assert firewall.remove_interface("", link) is False
    finally:
        lab.run("firewall-cmd", "--zone=trusted", f"--remove-interface={link}", check=False)
        lab.run("ip", "link", "del", link, check=False)


def test_rule_signals_arrive_whichever_way_the_rule_was_changed(
    firewall: Firewalld,
) -> None:
    events: list[tuple[str, object]] = []
    signals = FirewallSignals(lambda name, payload: events.append((name, payload)))
    signals.start()
    try:
        assert signals.wait_ready()
        firewall.add_rule(RULE)
        firewall.remove_rule(RULE)
        deadline = time.monotonic() + 3
        while len([e for e in events if e[0].startswith("Rule")]) < 2:
            assert time.monotonic() < deadline, events
            time.sleep(0.05)
    finally:
        signals.stop()
    rule_events = [(name, payload) for name, payload in events if name.startswith("Rule")]
    assert [name for name, _ in rule_events] == ["RuleAdded", "RuleRemoved"]
    assert all(p["args"] == RULE.args for _, p in rule_events)  # type: ignore[index]


AS_USER = """
import sys
from coi_tui.eras.firewalld.access import {cls}
from coi_tui.errors import CoiTuiError
try:
    backend = {cls}()
    print(len(backend.list_rules()))
except CoiTuiError as error:
    print(type(error).__name__ + ": " + str(error))
"""


def run_as_lab_user(cls: str) -> str:
    return subprocess.run(
        ["runuser", "-u", lab.LAB_USER, "--", sys.executable, "-c", AS_USER.format(cls=cls)],
        capture_output=True, text=True, timeout=60, cwd="/",
    ).stdout.strip()


def test_a_user_with_coi_s_sudoers_line_gets_in_through_firewall_cmd_not_d_bus() -> None:
    lab.require_lab()
    assert run_as_lab_user("CliFirewall").isdigit()
    refused = run_as_lab_user("DBusFirewall")
    assert refused.startswith("PermissionDenied: ") and "\n" not in refused


def test_auto_prefers_d_bus_as_root() -> None:
    lab.require_lab()
    assert open_firewall("auto").name == "D-Bus"


def test_an_unreachable_bus_or_missing_tool_is_backend_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/coi-tui-bus")
    with pytest.raises(BackendUnavailable) as raised:
        DBusFirewall()
    assert "\n" not in str(raised.value)
    with pytest.raises(BackendUnavailable):
        CliFirewall(["/nonexistent/firewall-cmd"]).list_rules()


def test_permission_denied_is_one_line_for_the_sudo_path() -> None:
    lab.require_lab()
    with pytest.raises(PermissionDenied) as raised:
        CliFirewall(["runuser", "-u", "nobody", "--", "sudo", "-n", "firewall-cmd"]).list_rules()
    assert "sudo refused" in str(raised.value) and "\n" not in str(raised.value)
