"""What both firewalld implementations share: firewalld's error codes and how a refusal reads."""

from __future__ import annotations

from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.errors import FirewallError

# firewalld's error codes (firewall/errors.py) that decide an outcome rather than fail it
ALREADY_ENABLED = "ALREADY_ENABLED"
NOT_ENABLED = "NOT_ENABLED"
UNKNOWN_INTERFACE = "UNKNOWN_INTERFACE"


def reason_line(text: str) -> str:
    """firewalld's reason on one line: the first non-empty line, without the 'Error: ' prefix.

    COMMAND_FAILED carries iptables-restore's whole output; its first line names the cause.
    """
    for line in text.splitlines():
        line = line.strip()
        if line:
            return line.removeprefix("Error: ").removeprefix("Warning: ")
    return ""


def error_code(reason: str) -> str:
    """The leading CODE of 'CODE: details' (firewalld's format), or '' if there is none."""
    code, sep, _ = reason.partition(":")
    return code if sep and code.replace("_", "").isalpha() and code.isupper() else ""


def add_action(rule: DirectRule) -> str:
    return f"add rule [{rule}]"


def remove_action(rule: DirectRule) -> str:
    return f"remove rule [{rule}]"


def refused(action: str, reason: str) -> FirewallError:
    reason = reason_line(reason) or "no reason given"
    return FirewallError(f"firewalld refused to {action}: {reason}")
