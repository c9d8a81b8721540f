"""Network links from /sys/class/net: kind and master bridge. No root needed."""

from __future__ import annotations

from pathlib import Path

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


def list_links(root: Path = SYS_CLASS_NET) -> dict[str, Link]:
    links = {}
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        master = path / "master"
        links[path.name] = Link(
            name=path.name,
            kind=_kind(path),
            master=master.resolve().name if master.exists() else None,
        )
    return links
