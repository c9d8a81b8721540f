"""Host checks for `coi-tui check`: what COI's isolation needs, and the fix, in COI's words."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

from coi_tui.backends import conntrack
from coi_tui.backends.base import ContainerBackend, FirewallBackend
from coi_tui.eras.firewalld.access import Firewalld
from coi_tui.eras.firewalld.backstop import chain_ip, live_chains
from coi_tui.errors import CoiTuiError
from coi_tui.models import Inventory
from coi_tui.runtime.hostlock import BACKSTOP, HostLock

Level = Literal["ok", "warn", "fail"]

FIREWALLD_FIX = (
    "sudo apt install firewalld && sudo systemctl enable --now firewalld "
    "(Network isolation in restricted/allowlist modes requires firewalld; "
    "or run coi shell --network=open)"
)
SUDO_FIX = "add a sudoers line: $USER ALL=(ALL) NOPASSWD: /usr/bin/firewall-cmd"
DEFAULT_BRIDGE = "incusbr0"
IPV6_FIX = "coi-tui ipv6-off"  # the fix for the IPv6 bypass, followed by the names


@dataclass(frozen=True)
class Check:
    name: str
    level: Level
    summary: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def _firewall_checks(
    make_firewall: Callable[[str], Firewalld],
) -> tuple[list[Check], Firewalld | None]:
    checks: list[Check] = []
    usable: Firewalld | None = None
    access: list[str] = []
    reasons: list[str] = []
    for path in ("dbus", "cli"):
        try:
            backend = make_firewall(path)
            backend.list_rules()  # a privileged read proves the access path works
        except CoiTuiError as error:
            reasons.append(f"{path}: {error}")
            continue
        access.append(backend.name)
        if usable is None:
            usable = backend
        else:
            backend.close()
    if usable is None:
        running = not any("not running" in r or "unavailable" in r.lower() for r in reasons)
        if not running:
            summary = "firewalld is not available or not running"
            checks.append(Check("firewalld", "fail", summary, FIREWALLD_FIX))
        checks.append(Check("firewall access", "fail", "; ".join(reasons), SUDO_FIX))
        return checks, None
    checks.append(Check("firewalld", "ok", f"running ({usable.state()})"))
    checks.append(Check("firewall access", "ok", "via " + " and ".join(access)))
    return checks, usable


def _bridge_checks(firewall: Firewalld, bridges: set[str]) -> list[Check]:
    checks = []
    for bridge in sorted(bridges):
        zone = firewall.zone_of_interface(bridge)
        if zone == "trusted":
            checks.append(Check(f"bridge {bridge}", "ok", "in firewalld zone trusted"))
        else:
            checks.append(
                Check(
                    f"bridge {bridge}",
                    "fail",
                    f"Bridge {bridge} not in trusted zone (zone: {zone or 'none'}) "
                    "- containers may fail to get IPs",
                    f"sudo firewall-cmd --zone=trusted --change-interface={bridge} && "
                    f"sudo firewall-cmd --permanent --zone=trusted --add-interface={bridge} "
                    "(no --reload: a reload wipes every runtime direct rule)",
                )
            )
    return checks


def _masquerade_check(firewall: Firewalld) -> Check:
    if firewall.masquerade_enabled():
        return Check("masquerade", "ok", "enabled")
    return Check(
        "masquerade",
        "warn",
        "Running but masquerade not enabled - containers may not reach the internet",
        "sudo firewall-cmd --add-masquerade && sudo firewall-cmd --permanent --add-masquerade "
        "(no --reload: a reload wipes every runtime direct rule)",
    )


def run_checks(
    make_firewall: Callable[[str], Firewalld],
    make_containers: Callable[[], ContainerBackend],
) -> list[Check]:
    """The firewalld era. `make_firewall(path)` opens firewalld by "dbus" or "cli"."""
    checks, firewall = _firewall_checks(make_firewall)
    incus, bridges = _incus_check(make_containers)
    checks.append(incus)
    if firewall is not None:
        try:
            checks.extend(_bridge_checks(firewall, bridges))
            checks.append(_masquerade_check(firewall))
        finally:
            firewall.close()
    checks.append(_flow_cut_check())
    checks.append(backstop_check(live_chains, HostLock(BACKSTOP).holder))
    return checks


def backstop_check(chains: Callable[[], frozenset[str] | None],
                   keeper: Callable[[], object]) -> Check:
    """Is coi-tui's backstop in force (eras/firewalld/backstop.py), and who keeps it?"""
    try:
        held = chains()
    except CoiTuiError as error:
        return Check("backstop", "warn", f"cannot be read: {error}", "run as root or with "
                     "COI's sudoers line for nft")
    holder = keeper()
    if held is None:
        return Check("backstop", "warn", "not in force: firewalld stopping opens what the "
                     "modes block", "run `coi-tui watch` (or the TUI) to keep it")
    ips = sorted({ip for name in held if (ip := chain_ip(name))})
    if holder is None:
        return Check("backstop", "warn", f"left behind by a coi-tui that is gone ({len(ips)} "
                     "address(es))", "start `coi-tui watch` to take it over, or clean it: "
                     "`coi-tui orphans --clean`")
    return Check("backstop", "ok", f"in force for {len(ips)} address(es), kept by {holder}")


def _incus_check(make_containers: Callable[[], ContainerBackend]) -> tuple[Check, set[str]]:
    try:
        containers = make_containers()
        try:
            found = containers.list_containers()
        finally:
            containers.close()
    except CoiTuiError as error:
        return Check("incus", "fail", str(error), "start incusd; join the incus-admin group"), {
            DEFAULT_BRIDGE}
    bridges = {c.network for c in found if c.network} or {DEFAULT_BRIDGE}
    return Check("incus", "ok", f"reachable, {len(found)} instance(s)"), bridges


def run_nft_checks(
    firewall: FirewallBackend, make_containers: Callable[[], ContainerBackend]
) -> list[Check]:
    """The nft era (COI 0.9+): nft readable (root, or COI's coi-nft sudoers line), COI's table."""
    checks: list[Check] = []
    try:
        objects = firewall.list_rules()
        tables = sorted({f"{o.ipv} {o.table}" for o in objects if o.chain == "(chain)"})
        checks.append(Check("nft access", "ok", "readable" + (
            f": {', '.join(tables)}" if tables else "")))
        if not any(t == "ip coi" for t in tables):
            checks.append(Check("table ip coi", "warn", "absent: COI (or coi-tui) creates it "
                                "at the first restricted/allowlist container"))
        else:
            checks.append(Check("table ip coi", "ok", "present"))
    except CoiTuiError as error:
        checks.append(Check("nft access", "fail", str(error),
                            "run as root, or add /etc/sudoers.d/coi-nft: "
                            "$USER ALL=(ALL) NOPASSWD: /usr/sbin/nft (coi health --fix)"))
    finally:
        firewall.close()
    checks.append(_incus_check(make_containers)[0])
    checks.append(_flow_cut_check())
    return checks


def _flow_cut_check() -> Check:
    """Tightening a mode cuts the container's existing flows; without this it cannot."""
    ok, detail = conntrack.may_cut()
    if ok:
        return Check("flow cutting", "ok", f"conntrack via {detail}")
    return Check("flow cutting", "warn", f"existing flows survive a tightening: {detail}",
                 f"add to sudoers: {conntrack.sudoers_line()}")


def ipv6_checks(inventory: Inventory) -> list[Check]:
    """The IPv6 bypass, per container: a routed IPv6 address passes every IPv4 rule (COI's
    firewalld era has no other, and the nft era's `ip6 coi` drop matches the veth, which a
    routed packet does not come in on)."""
    incus = inventory.backend("incus")
    if incus is None or not incus.ok:
        return []  # the incus check already says why
    checks = []
    for state in inventory.containers:
        name, mode = state.container.name, state.mode
        if state.ipv6_bypass:
            held = (": COI's ip6 coi drop names its veth, and a routed packet comes in on "
                    "the bridge, so it drops nothing" if state.ipv6_dropped else "")
            checks.append(Check(f"ipv6 {name}", "warn", f"a routed IPv6 address passes every "
                                f"IPv4 rule of its {mode} mode{held}", f"{IPV6_FIX} {name} (off "
                                "now and across restarts, reviewed first)"))
    if not checks:
        checks.append(Check("ipv6", "ok", "no container's IPv6 passes its mode's rules"))
    return checks
