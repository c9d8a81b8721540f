"""firewalld through `sudo -n firewall-cmd`: COI's documented setup (a sudoers line), no D-Bus
authorization needed. One process per call (~0.2 s), so the engine prefers D-Bus when it may."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence

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
from coi_tui.errors import BackendUnavailable, FirewallDown, PermissionDenied

NOT_RUNNING_RC = 252  # firewall-cmd's exit status when firewalld does not answer


def default_command() -> tuple[str, ...]:
    return ("firewall-cmd",) if os.geteuid() == 0 else ("sudo", "-n", "firewall-cmd")


def parse_rules(output: str) -> list[DirectRule]:
    """`--direct --get-all-rules` prints one rule a line, args shell-quoted by firewalld."""
    rules = []
    for line in output.splitlines():
        fields = shlex.split(line)
        if len(fields) >= 4:
            ipv, table, chain, priority, *args = fields
            rules.append(DirectRule(ipv, table, chain, int(priority), tuple(args)))
    return rules


def parse_active_zones(output: str) -> dict[str, tuple[str, ...]]:
    """`--get-active-zones`: a zone name (maybe `(default)` after it), then indented
    `interfaces: a b` / `sources: ...` lines."""
    zones: dict[str, tuple[str, ...]] = {}
    zone = ""
    for line in output.splitlines():
        if line and not line[0].isspace():
            zone = line.split()[0]
            zones.setdefault(zone, ())
        elif zone and line.strip().startswith("interfaces:"):
            zones[zone] = tuple(line.split(":", 1)[1].split())
    return zones


class CliFirewall:
    name = "sudo firewall-cmd"

    def __init__(self, command: Sequence[str] | None = None, timeout: float = 60) -> None:
        self._command = tuple(command or default_command())
        self._timeout = timeout

    def _run(
        self, *args: str, action: str, ok_codes: tuple[int, ...] = (0,)
    ) -> subprocess.CompletedProcess[str]:
        argv = [*self._command, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self._timeout)
        except FileNotFoundError as error:
            raise BackendUnavailable(f"{argv[0]} not found: install firewalld") from error
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(f"firewall-cmd did not answer (to {action})") from error
        output = done.stderr + done.stdout
        if "password is required" in output or "not allowed to execute" in output:
            raise PermissionDenied(
                f"sudo refused firewall-cmd (to {action}): {reason_line(done.stderr)}; "
                "add: $USER ALL=(ALL) NOPASSWD: /usr/bin/firewall-cmd"
            )
        if done.returncode == NOT_RUNNING_RC or "FirewallD is not running" in output:
            raise FirewallDown("firewalld is not running (firewall-cmd says so)")
        if done.returncode not in ok_codes:
            raise refused(action, done.stderr or done.stdout or f"exit status {done.returncode}")
        return done

    def _changed(self, verb: str, rule: DirectRule, action: str, no_op: str) -> bool:
        # firewall-cmd exits 0 and warns for a duplicate add or a missing remove
        done = self._run("--direct", verb, *rule.cli_args(), action=action)
        return error_code(reason_line(done.stderr)) != no_op

    def state(self) -> str:
        return self._run("--state", action="read firewalld's state").stdout.strip()

    def list_rules(self) -> list[DirectRule]:
        done = self._run("--direct", "--get-all-rules", action="list direct rules")
        return parse_rules(done.stdout)

    def add_rule(self, rule: DirectRule) -> bool:
        return self._changed("--add-rule", rule, add_action(rule), ALREADY_ENABLED)

    def remove_rule(self, rule: DirectRule) -> bool:
        return self._changed("--remove-rule", rule, remove_action(rule), NOT_ENABLED)

    def query_rule(self, rule: DirectRule) -> bool:
        done = self._run("--direct", "--query-rule", *rule.cli_args(),
                         action=f"query rule [{rule}]", ok_codes=(0, 1))
        return done.returncode == 0

    def zone_of_interface(self, interface: str) -> str | None:
        done = self._run(f"--get-zone-of-interface={interface}",
                         action=f"read the zone of {interface}", ok_codes=(0, 2))
        return done.stdout.strip() if done.returncode == 0 else None

    def remove_interface(self, zone: str, interface: str) -> bool:
        zone = zone or self.zone_of_interface(interface) or ""
        if not zone:
            return False
        done = self._run(f"--zone={zone}", f"--remove-interface={interface}",
                         action=f"remove {interface} from zone {zone}")
        return error_code(reason_line(done.stderr)) not in (UNKNOWN_INTERFACE, NOT_ENABLED)

    def zone_bindings(self) -> dict[str, tuple[str, ...]]:
        done = self._run("--get-active-zones", action="list the active zones")
        return parse_active_zones(done.stdout)

    def masquerade_enabled(self, zone: str | None = None) -> bool:
        args = [f"--zone={zone}"] if zone else []
        done = self._run(*args, "--query-masquerade", action="query masquerade",
                         ok_codes=(0, 1))
        return done.returncode == 0

    def close(self) -> None:
        pass
