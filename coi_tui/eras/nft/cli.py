"""nft through argv lists: `nft -j list ...` to read, `nft -f -` to change (one kernel
transaction per script). Root runs nft directly; anyone else goes through `sudo -n nft`,
COI's setup (`coi health --fix` writes /etc/sudoers.d/coi-nft:
`#<uid> ALL=(ALL) NOPASSWD: <path to nft>`). The only module of the nft era that runs
processes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence

from coi_tui.eras.nft.json_model import parse_document, parse_table
from coi_tui.eras.nft.model import COI_TABLE, FILTER_TABLE, NftState, NftTable
from coi_tui.errors import BackendUnavailable, FirewallError, PermissionDenied

TIMEOUT = 10.0  # COI's own limit for one nft exec
_LOCATION = re.compile(r"^(?:/dev/stdin|<cmdline>|[^:\s]+):\d+:\d+(?:-\d+)?:\s*")
_ABSENT = ("No such file or directory",)


def default_command() -> tuple[str, ...]:
    if os.geteuid() == 0:
        return ("nft",)
    return ("sudo", "-n", shutil.which("nft") or "/usr/sbin/nft")


def reason_line(output: str) -> str:
    """nft's first error line without its `/dev/stdin:3:1-20: Error: ` prefix."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    for line in lines:
        if "Error:" in line:
            return _LOCATION.sub("", line).removeprefix("Error:").strip()
    return lines[0] if lines else ""


class NftCli:
    name = "nft"

    def __init__(self, command: Sequence[str] | None = None, timeout: float = TIMEOUT) -> None:
        self._command = tuple(command or default_command())
        self._timeout = timeout
        # the access path a person reads (the status line): root runs nft, others sudo
        self.name = "sudo nft" if self._command[:1] == ("sudo",) else "nft"

    def _run(self, *args: str, action: str, stdin: str | None = None,
             absent_ok: bool = False) -> str | None:
        argv = [*self._command, *args]
        try:
            done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                  timeout=self._timeout)
        except FileNotFoundError as error:
            raise BackendUnavailable(f"{argv[0]} not found: install nftables") from error
        except subprocess.TimeoutExpired as error:
            raise BackendUnavailable(
                f"nft did not answer within {self._timeout:g}s (to {action})") from error
        if done.returncode == 0:
            return done.stdout
        output = done.stderr + done.stdout
        reason = reason_line(done.stderr or done.stdout) or f"exit status {done.returncode}"
        if "password is required" in output or "not allowed to execute" in output:
            raise PermissionDenied(
                f"sudo refused nft (to {action}): {reason}; add /etc/sudoers.d/coi-nft: "
                f"$USER ALL=(ALL) NOPASSWD: {shutil.which('nft') or '/usr/sbin/nft'} "
                "(or run: coi health --fix)")
        if "Operation not permitted" in output:
            raise PermissionDenied(f"nft is not permitted to {action}: run as root or via sudo")
        if absent_ok and any(marker in output for marker in _ABSENT):
            return None
        raise FirewallError(f"nft refused to {action}: {reason}")

    def list_json(self, *what: str, action: str) -> str | None:
        """`nft -j list WHAT...` as nft printed it; None when it does not exist."""
        return self._run("-j", "list", *what, action=action, absent_ok=True)

    def list_text(self, *what: str, action: str) -> str | None:
        """`nft -a list WHAT...` as a person reads it, with handles; None when absent."""
        return self._run("-a", "list", *what, action=action, absent_ok=True)

    def list_tables(self) -> tuple[tuple[str, str], ...]:
        """(family, name) of every table on the host."""
        out = self._run("-j", "list", "tables", action="list tables") or ""
        return tuple((t.family, t.name) for t in parse_document(out))

    def list_table(self, family: str, table: str) -> NftTable | None:
        """The table with its chains, sets (with elements) and rules; None if absent."""
        out = self._run("-j", "list", "table", family, table,
                        action=f"list table {family} {table}", absent_ok=True)
        return None if out is None else parse_table(out, family, table)

    def list_chain(self, family: str, table: str, chain: str) -> NftTable | None:
        """One chain as a table holding just it and its rules; None if absent."""
        out = self._run("-j", "list", "chain", family, table, chain,
                        action=f"list chain {family} {table} {chain}", absent_ok=True)
        return None if out is None else parse_table(out, family, table)

    def state(self, table: str = COI_TABLE, filter_table: str = FILTER_TABLE) -> NftState:
        """COI's tables and the monitoring chain (three reads; any may be absent)."""
        return NftState(
            ip=self.list_table("ip", table),
            ip6=self.list_table("ip6", table),
            monitor=self.list_chain("ip", filter_table, "FORWARD"),
        )

    def run_script(self, script: str, *, check: bool = False, action: str = "apply a change"
                   ) -> None:
        """Feed `script` to `nft -f -` as one transaction; `check` validates it in the
        kernel and applies nothing (`nft -c`)."""
        if not script.strip():
            return
        args = ("-c", "-f", "-") if check else ("-f", "-")
        self._run(*args, action=f"check ({action})" if check else action, stdin=script)
