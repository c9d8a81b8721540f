"""Cuts tracked flows with Debian's `conntrack` tool.

COI's shared RELATED,ESTABLISHED ACCEPT keeps any flow alive once it exists, so a tighter
policy only bites existing flows after their entries are deleted. A deleted entry of a flow
the new rules still allow is simply tracked again on its next packet.
"""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess

from coi_tui.errors import BackendUnavailable, PermissionDenied


def flush_source(ip: str) -> int:
    """Delete the entries of flows the container at `ip` started; returns how many."""
    argv = ["conntrack", "-D", "-f", "ipv4", "-s", ip]
    if os.geteuid() != 0:
        argv = ["sudo", "-n", *argv]
    # A busy container has entries expiring while they are deleted: conntrack then stops at
    # the first vanished one. Running it again deletes the rest.
    reason = "failed"
    for _attempt in range(5):
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        except FileNotFoundError as error:
            raise BackendUnavailable("conntrack not found: apt install conntrack") from error
        # conntrack exits 1 when nothing matched; the count is on stderr
        if done.returncode in (0, 1) and "flow entries" in done.stderr:
            words = done.stderr.split()
            return int(words[words.index("flow") - 1])
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else reason
    raise PermissionDenied(f"cannot delete tracked flows of {ip}: {reason}")


def sudoers_line() -> str:
    """The line that lets this user cut flows, in the style of COI's firewall-cmd line."""
    path = shutil.which("conntrack") or "/usr/sbin/conntrack"
    return f"{getpass.getuser()} ALL=(ALL) NOPASSWD: {path}"


def may_cut() -> tuple[bool, str]:
    """Can this process delete tracked flows? (root, or a sudoers line for conntrack)"""
    if os.geteuid() == 0:
        return True, "root"
    path = shutil.which("conntrack") or "/usr/sbin/conntrack"
    try:
        done = subprocess.run(["sudo", "-n", "-l", path, "-D"], capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.TimeoutExpired) as error:
        return False, f"sudo unusable: {error}"
    if done.returncode == 0:
        return True, "sudo -n conntrack"
    return False, "sudo refuses conntrack"
