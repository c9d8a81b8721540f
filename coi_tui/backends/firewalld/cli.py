"""firewalld through `sudo -n firewall-cmd`: COI's documented setup (a sudoers line), no D-Bus
authorization needed. One process per call (~0.2 s), so the engine prefers D-Bus when it may."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Sequence

from coi_tui.backends.firewalld.errors import from_reason, is_no_op
from coi_tui.errors import BackendUnavailable
from coi_tui.models import DirectRule

NOT_RUNNING_RC = 252


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


def reason_of(stderr: str, stdout: str = "") -> str:
    """The firewalld reason in firewall-cmd's output, without its "Error:"/"Warning:" prefix."""
    for line in (stderr + "\n" + stdout).splitlines():
        line = line.strip()
        for prefix in ("Error: ", "Warning: "):
            if line.startswith(prefix):
                return line.removeprefix(prefix)
        if line.startswith("sudo:"):
            return line
    return (stderr or stdout).strip().splitlines()[-1] if (stderr or stdout).strip() else ""


class CliFirewall:
    name = "sudo firewall-cmd"

    def __init__(self, command: Sequence[str] | None = None, timeout: float = 60) -> None:
        self._command = tuple(command or default_command())
        self._timeout = timeout

    def _run(self, *args: str, ok_codes: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
        argv = [*self._command, *args]
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self._timeout)
        except FileNotFoundError as error:
            raise BackendUnavailable(f"{argv[0]} not found: install firewalld") from error
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(f"{shlex.join(argv)} timed out") from error
        if done.returncode == NOT_RUNNING_RC or "FirewallD is not running" in done.stderr:
            raise BackendUnavailable("firewalld is not available or not running")
        if done.returncode not in ok_codes:
            raise from_reason(reason_of(done.stderr, done.stdout) or f"rc {done.returncode}")
        return done

    def _changed(self, verb: str, rule: DirectRule) -> bool:
        # firewall-cmd exits 0 with a warning for a duplicate add or a missing remove
        done = self._run("--direct", verb, *rule.cli_args())
        return not is_no_op(reason_of(done.stderr))

    def state(self) -> str:
        return self._run("--state").stdout.strip()

    def list_rules(self) -> list[DirectRule]:
        return parse_rules(self._run("--direct", "--get-all-rules").stdout)

    def add_rule(self, rule: DirectRule) -> bool:
        return self._changed("--add-rule", rule)

    def remove_rule(self, rule: DirectRule) -> bool:
        return self._changed("--remove-rule", rule)

    def query_rule(self, rule: DirectRule) -> bool:
        return self._run("--direct", "--query-rule", *rule.cli_args(), ok_codes=(0, 1)).returncode == 0

    def zone_of_interface(self, interface: str) -> str | None:
        done = self._run(f"--get-zone-of-interface={interface}", ok_codes=(0, 2))
        return done.stdout.strip() if done.returncode == 0 else None

    def remove_interface(self, zone: str, interface: str) -> bool:
        zone = zone or self.zone_of_interface(interface) or ""
        if not zone:
            return False
        done = self._run(f"--zone={zone}", f"--remove-interface={interface}")
        return not reason_of(done.stderr).startswith(("UNKNOWN_INTERFACE", "NOT_ENABLED"))

    def masquerade_enabled(self) -> bool:
        return self._run("--query-masquerade", ok_codes=(0, 1)).returncode == 0

    def close(self) -> None:
        pass
