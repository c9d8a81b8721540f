"""Network links from /sys/class/net: kind and master bridge. No root needed to read;
deleting one goes through `ip link delete` (root) or `sudo -n ip` (COI's way)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from coi_tui.errors import BackendUnavailable, CoiTuiError, PermissionDenied
from coi_tui.models import Link

SYS_CLASS_NET = Path("/sys/class/net")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _kind(link: Path) -> str | None:
    if (link / "bridge").is_dir():
        return "bridge"
    for line in (_read(link / "uevent") or "").splitlines():
        if line.startswith("DEVTYPE="):
            return line.split("=", 1)[1]  # vlan, macvlan, wlan, ...
    # sysfs has no DEVTYPE for veth; a link whose iflink names another interface and that has
    # no DEVTYPE is the end of a pair (veth), physical NICs point at themselves
    iflink, ifindex = _read(link / "iflink"), _read(link / "ifindex")
    if iflink and ifindex and iflink != ifindex:
        return "veth"
    return None


def _int(path: Path) -> int | None:
    text = _read(path)
    return int(text) if text and text.isdigit() else None


def list_links(root: Path = SYS_CLASS_NET) -> dict[str, Link]:
    links = {}
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        master = path / "master"
        links[path.name] = Link(
            name=path.name,
            kind=_kind(path),
            master=master.resolve().name if master.exists() else None,
            ifindex=_int(path / "ifindex"),
            iflink=_int(path / "iflink"),
        )
    return links


def delete_link(name: str, timeout: float = 10.0) -> None:
    """`ip link delete NAME` (a veth takes its peer with it)."""
    argv = ["ip", "link", "delete", "dev", name]
    if os.geteuid() != 0:
        argv = ["sudo", "-n", *argv]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BackendUnavailable(f"could not run {argv[0]}: {error}") from error
    if done.returncode != 0:
        reason = (done.stderr or done.stdout).strip().splitlines()
        text = reason[0] if reason else f"exit status {done.returncode}"
        if "password is required" in text or "Operation not permitted" in text:
            raise PermissionDenied(f"deleting link {name} was refused: {text} (run as root)")
        raise CoiTuiError(f"ip refused to delete link {name}: {text}")
