"""Reading firewall-cmd's output: shell-quoted rule lines and firewalld's reason codes."""

from __future__ import annotations

from coi_tui.eras.firewalld.cli import parse_rules
from coi_tui.eras.firewalld.errors import error_code, reason_line
from coi_tui.eras.firewalld.rules import DirectRule


def test_rule_lines_are_split_like_a_shell_not_on_spaces() -> None:
    output = (
        "ipv4 filter FORWARD -1 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        "ipv4 filter FORWARD 10 -s 10.147.0.5 -m comment --comment 'two words' -j REJECT\n"
    )
    assert parse_rules(output) == [
        DirectRule("ipv4", "filter", "FORWARD", -1,
                   ("-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT")),
        DirectRule("ipv4", "filter", "FORWARD", 10,
                   ("-s", "10.147.0.5", "-m", "comment", "--comment", "two words", "-j",
                    "REJECT")),
    ]


def test_no_rules_is_an_empty_list() -> None:
    assert parse_rules("") == []


def test_the_reason_is_the_first_line_without_its_prefix() -> None:
    text = "Error: COMMAND_FAILED: '/usr/sbin/iptables-restore -w -n' failed: bad\nmore\n"
    assert reason_line(text) == "COMMAND_FAILED: '/usr/sbin/iptables-restore -w -n' failed: bad"
    assert error_code(reason_line("Warning: ALREADY_ENABLED: rule x")) == "ALREADY_ENABLED"
    assert error_code("no code here") == ""
