"""coi-tui's grants (models.Opening) in COI's own nft objects, as COI would write them. Pure.

A private (LAN) address is what COI's `[[network.hosts]]` opens: the scoped `insert rule ...
ip daddr H/32 [ports] accept` (restricted, and allowlist without local access). A public
address in allowlist mode goes where COI puts resolved answers, `coi_d_X` and `coi_dp_X`
(`addr . port`): the two sets COI creates with `flags timeout`, so a timed grant is an
element with `timeout Ns` that the kernel itself removes when its time is up. A named grant
is a line of the container's `# BEGIN coi hosts` block, as `coi hosts add` writes it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from coi_tui.eras.nft.model import DesiredPolicy, HostEntry, PortRange, SetSpec, set_name
from coi_tui.eras.nft.policy import PRIVATE_NETWORKS, entry_ports
from coi_tui.models import Mode, Opening


def _private(opening: Opening) -> bool:
    address = ipaddress.IPv4Address(opening.address)
    return any(address in ipaddress.IPv4Network(net) for net in PRIVATE_NETWORKS)


def _active(openings: Sequence[Opening]) -> list[Opening]:
    return [o for o in openings if not o.ended]


def opening_hosts(mode: Mode, openings: Sequence[Opening]) -> tuple[HostEntry, ...]:
    """The grants COI's `[[network.hosts]]` would carry: every one in restricted mode, the
    private ones in allowlist mode."""
    if mode is Mode.OPEN:
        return ()
    return tuple(HostEntry(o.address, (o.name,) if o.name else (),
                           (o.port,) if o.port else ())
                 for o in _active(openings) if mode is Mode.RESTRICTED or _private(o))


def _timed(element: str, opening: Opening) -> str:
    return f"{element} timeout {opening.expires_in}s" if opening.expires_in else element


def with_openings(policy: DesiredPolicy, openings: Sequence[Opening],
                  allowed_ports: Sequence[int]) -> DesiredPolicy:
    """An allowlist policy with its public grants in `coi_d_` / `coi_dp_` (the port, else
    what a name without ports gets: allowed_ports, else every port)."""
    public = [o for o in _active(openings) if not _private(o)]
    if policy.mode is not Mode.ALLOWLIST or not public:
        return policy
    d_name, dp_name = set_name("d", policy.ip), set_name("dp", policy.ip)
    extra: dict[str, list[str]] = {d_name: [], dp_name: []}
    for opening in public:
        extra[d_name].append(_timed(opening.address, opening))
        ports = (PortRange(opening.port, opening.port),) if opening.port else ()
        extra[dp_name] += [_timed(f"{opening.address} . {r}", opening)
                           for r in entry_ports(ports, allowed_ports)]
    sets = tuple(replace(s, elements=_with(s, extra.get(s.name, ()))) for s in policy.sets)
    return replace(policy, sets=sets, older=())


def _with(spec: SetSpec, more: Sequence[str]) -> tuple[str, ...]:
    """The set's elements, then each grant's that it does not hold yet (a permanent element
    of COI's wins over a timed one for the same address)."""
    have = {e.split(" timeout ")[0] for e in spec.elements}
    return (*spec.elements, *(e for e in dict.fromkeys(more) if e.split(" timeout ")[0]
                              not in have))


def grant_names(hosts: Sequence[HostEntry], openings: Sequence[Opening]
                ) -> tuple[HostEntry, ...] | None:
    """The `# BEGIN coi hosts` block's entries with the named grants in force (one line per
    address, names merged, as COI's renderUserHostsBlock groups them); None when no grant has
    a name (the block is COI's own business then)."""
    named = [o for o in openings if o.name]
    if not named:
        return None
    entries: dict[str, list[str]] = {}
    for host in hosts:
        entries.setdefault(host.ip, []).extend(host.hostnames)
    for opening in _active(named):
        assert opening.name is not None
        entries.setdefault(opening.address, []).append(opening.name)
    return tuple(HostEntry(ip, tuple(dict.fromkeys(names))) for ip, names in entries.items())
