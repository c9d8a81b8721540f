"""One `nft -f -` script per change, from live state to desired state. Pure.

A script is one kernel transaction: all of it applies or none of it does, and no packet
ever sees a state in between. So, unlike the firewalld era, the order of lines inside a
script only has to satisfy nft (a set exists before a rule names it; a set is deleted after
the last rule that names it), not fail-closed sequencing (design.md §3.1).

What a script may touch (coi-nft-spec.md §11): rules by handle that carry exactly this
container's comment (`coi-<ip>`, `coi-boot-<name>`, `coi6-<name>`) or its monitor prefix
(`NFT_*[<ip>]: `), and its own sets `coi_{s,d,sp,dp}_<ip_>`. Never `flush`, never a
table or a chain deletion, never `coi-base`, never another container's rules.

`table` names COI's table in both families (default "coi"); tests pass a scratch name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from coi_tui.eras.nft.model import (
    BASE_COMMENT,
    COI_TABLE,
    FILTER_TABLE,
    DesiredPolicy,
    NftRule,
    NftSet,
    NftState,
    RuleSpec,
    SetSpec,
    boot_comment,
    ip6_comment,
    set_name,
    set_names,
)
from coi_tui.eras.nft.policy import (
    BASE_RULE,
    monitor_rules,
    owned_rules,
    owned_sets,
    rules_with_comment,
)
from coi_tui.eras.nft.text import box_contains, box_intersects, canonical_element, element_box
from coi_tui.errors import BadInput

FORWARD_CHAIN = "{ type filter hook forward priority 10 ; policy accept ; }"
INPUT_CHAIN = "{ type filter hook input priority filter ; policy accept ; }"


@dataclass(frozen=True)
class NftScript:
    """The text `nft -f -` reads; empty when there is nothing to change."""

    lines: tuple[str, ...] = ()
    title: str = ""

    @property
    def empty(self) -> bool:
        return not self.lines

    @property
    def text(self) -> str:
        return "".join(f"{line}\n" for line in self.lines)

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Owned:
    """Everything one container owns in live nft, found by exact name or comment."""

    forward: tuple[NftRule, ...] = ()  # `coi-<ip>` in ip coi forward, chain order
    input: tuple[NftRule, ...] = ()  # `coi-<ip>` in ip coi input
    ip6: tuple[NftRule, ...] = ()  # `coi6-<name>` in ip6 coi forward
    boot: tuple[NftRule, ...] = ()  # `coi-boot-<name>` in ip coi forward
    monitor: tuple[NftRule, ...] = ()  # `NFT_*[<ip>]: ` LOG rules in ip filter FORWARD
    sets: tuple[NftSet, ...] = ()  # coi_{s,d,sp,dp}_<ip_>

    @property
    def empty(self) -> bool:
        return not (self.forward or self.input or self.ip6 or self.boot or self.monitor
                    or self.sets)


def owned_objects(state: NftState, ip: str | None, name: str | None) -> Owned:
    """What belongs to the container with IPv4 `ip` and name `name` (either may be
    unknown: COI's name-keyed and IP-keyed objects are found independently)."""
    return Owned(
        forward=owned_rules(state.ip, ip) if ip else (),
        input=owned_rules(state.ip, ip, "input") if ip else (),
        ip6=rules_with_comment(state.ip6, ip6_comment(name)) if name else (),
        boot=rules_with_comment(state.ip, boot_comment(name)) if name else (),
        monitor=monitor_rules(state.monitor, ip) if ip else (),
        sets=owned_sets(state.ip, ip) if ip else (),
    )


def _shapes(rules: Iterable[NftRule] | Iterable[RuleSpec]) -> list[tuple[str, ...]]:
    return [r.canonical for r in rules]


def _covered(element: str, live: Sequence[str]) -> bool:
    """`element` is already in a set whose elements are `live` (auto-merge may have folded
    it into a wider interval, so containment, not equality)."""
    box = element_box(element)
    return any(box_contains(element_box(e), box) for e in live)


def missing_elements(spec: SetSpec, live: NftSet | None) -> tuple[str, ...]:
    have = live.elements if live else ()
    return tuple(e for e in spec.elements if not _covered(e, have))


def policy_in_force(state: NftState, desired: DesiredPolicy) -> bool:
    """Live nft holds exactly the desired rules (in order) and at least the desired set
    elements: the container's isolation is what COI would have installed."""
    owned = owned_objects(state, desired.ip, desired.name)
    if (_shapes(owned.forward), _shapes(owned.input), _shapes(owned.ip6)) != (
            _shapes(desired.forward), _shapes(desired.input), _shapes(desired.ip6)):
        return False
    live = {s.name: s for s in owned.sets}
    return all(
        spec.name in live and not missing_elements(spec, live[spec.name])
        for spec in desired.sets
    ) and set(live) <= {s.name for s in desired.sets}


def _delete(rule: NftRule, table: str) -> str:
    return f"delete rule {rule.family} {table} {rule.chain} handle {rule.handle}"


def _ensure(state: NftState, desired: DesiredPolicy, table: str) -> list[str]:
    """Tables, chains and `coi-base` as COI creates them, only where missing (`add chain`
    with a hook clashes with an existing chain of another shape)."""
    lines: list[str] = []
    ip_table = state.ip
    if ip_table is None:
        lines.append(f"add table ip {table}")
    if ip_table is None or ip_table.chain("forward") is None:
        lines.append(f"add chain ip {table} forward {FORWARD_CHAIN}")
    if desired.input and (ip_table is None or ip_table.chain("input") is None):
        lines.append(f"add chain ip {table} input {INPUT_CHAIN}")
    if not rules_with_comment(ip_table, BASE_COMMENT):
        lines.append(BASE_RULE.command(table))
    if desired.ip6:
        if state.ip6 is None:
            lines.append(f"add table ip6 {table}")
        if state.ip6 is None or state.ip6.chain("forward") is None:
            lines.append(f"add chain ip6 {table} forward {FORWARD_CHAIN}")
    return lines


def _add_rules(rules: Sequence[RuleSpec], table: str) -> list[str]:
    # `insert` puts a rule at the top: insert the top group bottom-up so it keeps its order
    inserted = [r for r in rules if r.insert]
    return [r.command(table) for r in reversed(inserted)] + [
        r.command(table) for r in rules if not r.insert]


def apply_script(
    state: NftState,
    desired: DesiredPolicy,
    *,
    table: str = COI_TABLE,
    lift_boot_block: bool = True,
) -> NftScript:
    """Apply or switch a container's mode in one transaction. A rule group (forward, input,
    IPv6) already equal to the desired one, in order, is left alone; a differing group is
    replaced whole (deleted by handle, re-added in COI's order), since first match wins
    and appended rules could not be slotted between kept ones. Sets are created if missing
    and given their missing elements; sets the new mode does not use are deleted after the
    rules that name them. Set elements are never removed here (resolved ones are
    permanent, as COI's; `prune_script` takes old answers out on request).
    `lift_boot_block` removes this container's own `coi-boot-<name>`, as COI does after a
    successful setup."""
    owned = owned_objects(state, desired.ip, desired.name)
    deletes: list[str] = []
    adds: list[str] = []
    for live, want in ((owned.forward, desired.forward), (owned.input, desired.input),
                       (owned.ip6, desired.ip6)):
        if _shapes(live) != _shapes(want):
            deletes += [_delete(r, table) for r in live]
            adds += _add_rules(want, table)
    if lift_boot_block:
        deletes += [_delete(r, table) for r in owned.boot]
    wanted = {s.name for s in desired.sets}
    live_sets = {s.name: s for s in owned.sets}
    drop_sets = [f"delete set ip {table} {s.name}" for s in owned.sets if s.name not in wanted]
    set_lines: list[str] = []
    for spec in desired.sets:
        live_set = live_sets.get(spec.name)
        if live_set is None:
            set_lines.append(spec.add_set(table))
        missing = missing_elements(spec, live_set)
        if missing:
            set_lines.append(SetSpec(spec.name, spec.kind, missing).add_elements(table) or "")
    changes = deletes + drop_sets + set_lines + adds
    if not changes:
        return NftScript((), f"{desired.name}: {desired.mode.value} already in force")
    lines = _ensure(state, desired, table) + deletes + drop_sets + set_lines + adds
    return NftScript(tuple(lines), f"{desired.name}: apply {desired.mode.value}")


def remove_script(
    state: NftState,
    ip: str | None,
    name: str | None,
    *,
    table: str = COI_TABLE,
    filter_table: str = FILTER_TABLE,
    monitor: bool = True,
) -> NftScript:
    """Remove one container's isolation in one transaction: exactly its own rules by handle
    (forward, input, its boot block, its IPv6 drop, and with `monitor` its LOG rules),
    then its own sets. Tables, chains, `coi-base` and everyone else's rules stay."""
    owned = owned_objects(state, ip, name)
    lines = [_delete(r, table) for r in (*owned.forward, *owned.input, *owned.boot,
                                          *owned.ip6)]
    if monitor:
        lines += [_delete(r, filter_table) for r in owned.monitor]
    lines += [f"delete set ip {table} {s.name}" for s in owned.sets]
    return NftScript(tuple(lines), f"remove {name or ip}")


def refresh_script(
    state: NftState,
    ip: str,
    desired: Mapping[str, Sequence[str]],
    *,
    table: str = COI_TABLE,
) -> NftScript:
    """An allowlist refresh: only `add element` lines for this container's own sets, all in
    one transaction (so an address and its `addr . port` tuple arrive together, unlike COI's
    two execs).

    `desired` maps set names to the elements they should hold. Elements already covered
    (auto-merge may have widened them) are not re-added. Nothing is ever removed: COI's
    resolved elements are permanent (docs/coi-nft-era.md §4.3, §11 item 9) because the container's
    /etc/hosts, or a process that read it, may still name an old address. Taking old
    answers out is a separate, reviewed change (`prune_script`)."""
    mine = set(set_names(ip))
    live = {s.name: s for s in owned_sets(state.ip, ip)}
    lines: list[str] = []
    for name, elements in desired.items():
        if name not in mine:
            raise BadInput(f"set {name} does not belong to {ip}")
        if name not in live:
            raise BadInput(f"{ip} has no set {name}: apply allowlist mode first")
        spec = SetSpec(name, name.split("_")[1], tuple(canonical_element(e) for e in elements))
        missing = missing_elements(spec, live[name])
        if missing:
            lines.append(f"add element ip {table} {name} {{ {', '.join(missing)} }}")
    return NftScript(tuple(lines), f"refresh allowlist of {ip}")


def prune_script(
    state: NftState,
    ip: str,
    addresses: Iterable[str],
    *,
    table: str = COI_TABLE,
) -> NftScript:
    """Beyond COI (which never removes a resolved element): take resolved addresses out of
    this container's `coi_d_` set, with every `coi_dp_` tuple whose address field is exactly
    one of them, in one transaction. Only ever on request, after review. An address held
    only inside a wider element (an interval) cannot be taken out alone: refused."""
    live = {s.name: s for s in owned_sets(state.ip, ip)}
    d_name, dp_name = set_name("d", ip), set_name("dp", ip)
    if d_name not in live:
        raise BadInput(f"{ip} has no set {d_name}: not an allowlist container")
    boxes = {element_box(a)[0] for a in addresses}
    lines: list[str] = []
    for name in (d_name, dp_name):
        gone: list[str] = []
        for element in live[name].elements if name in live else ():
            field = element_box(element)[0]
            if field in boxes:
                gone.append(element)
            elif any(box_intersects((field,), (b,)) for b in boxes):
                raise BadInput(f"{element} in {name} holds more than the addresses to prune: "
                               "it cannot be taken out alone")
        if gone:
            lines.append(f"delete element ip {table} {name} {{ {', '.join(gone)} }}")
    return NftScript(tuple(lines), f"prune old answers of {ip}")
