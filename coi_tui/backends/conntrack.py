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
