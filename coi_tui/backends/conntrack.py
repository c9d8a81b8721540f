"""Cuts tracked flows with Debian's `conntrack` tool.

COI's shared RELATED,ESTABLISHED ACCEPT keeps any flow alive once it exists, so a tighter
policy only bites existing flows after their entries are deleted. A deleted entry of a flow
the new rules still allow is simply tracked again on its next packet.
"""

from __future__ import annotations

import os
import subprocess

from coi_tui.errors import BackendUnavailable, PermissionDenied


def flush_source(ip: str) -> int:
    """Delete the entries of flows the container at `ip` started; returns how many."""
    argv = ["conntrack", "-D", "-f", "ipv4", "-s", ip]
    if os.geteuid() != 0:
        argv = ["sudo", "-n", *argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    except FileNotFoundError as error:
        raise BackendUnavailable("conntrack not found: apt install conntrack") from error
    # conntrack exits 1 when nothing matched; the count is on stderr
    words = done.stderr.split()
    if done.returncode not in (0, 1) or "flow entries" not in done.stderr:
        reason = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"
        raise PermissionDenied(f"cannot delete tracked flows of {ip}: {reason}")
    return int(words[words.index("flow") - 1])
