"""One `nft -f -` script per change, from live state to desired state. Pure.

A script is one kernel transaction: all of it applies or none of it does, and no packet
ever sees a state in between. So, unlike the firewalld era, the order of lines inside a
script only has to satisfy nft (a set exists before a rule names it; a set is deleted after
the last rule that names it), not fail-closed sequencing (docs/design.md §3.1).

What a script may touch (docs/coi-nft-era.md §11): rules by handle that carry exactly this
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
    PortRange,
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
from coi_tui.eras.nft.text import (
    as_kernel_holds,
    box_contains,
    box_covered,
    box_intersects,
    canonical_element,
    element_box,
)
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


def _rules_match(owned: Owned, desired: DesiredPolicy) -> bool:
    return (_shapes(owned.forward), _shapes(owned.input), _shapes(owned.ip6)) == (
        _shapes(desired.forward), _shapes(desired.input), _shapes(desired.ip6))


def in_dialect(state: NftState, desired: DesiredPolicy) -> DesiredPolicy:
    """`desired` as the container's live rules write it: the older COI release's text when
    live holds exactly that (COI's rules for this mode, never rewritten), else the newest."""
    owned = owned_objects(state, desired.ip, desired.name)
    return next((d for d in desired.dialects if _rules_match(owned, d)), desired)


def old_answers(desired: DesiredPolicy, sets: Mapping[str, NftSet]) -> dict[str, tuple[str, ...]]:
    """Resolved addresses in `coi_d_` that the current answers do not hold (COI keeps them:
    permanent elements), with their `coi_dp_` tuples cut down to the ports some listed name
    may still use (ports only ever shrink). An address left with no port goes, and every
    one goes when the allowlist lists no name any more. By set name."""
    d_name, dp_name = set_name("d", desired.ip), set_name("dp", desired.ip)
    want = {s.name: {canonical_element(e) for e in s.elements} for s in desired.sets}
    if d_name not in want or d_name not in sets or not desired.answer_ports:
        return {}
    addresses: list[str] = []
    tuples: list[str] = []
    for address in sets[d_name].elements:
        if address in want[d_name]:
            continue
        field = element_box(address)[0]
        pieces = []
        for element in sets[dp_name].elements if dp_name in sets else ():
            box = element_box(element)
            if len(box) != 2 or box[0] != field:
                continue
            for ports in desired.answer_ports:
                low, high = max(box[1][0], ports.low), min(box[1][1], ports.high)
                if low <= high:
                    pieces.append(f"{address} . {PortRange(low, high)}")
        if pieces:
            addresses.append(address)
            tuples += pieces
    return {d_name: tuple(addresses), dp_name: tuple(dict.fromkeys(tuples))}


def set_changes(spec: SetSpec, live: NftSet | None, keep: Sequence[str] = ()
                ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(live elements to delete, elements to add) so the set holds exactly `spec.elements`
    (and `keep`). In an address set a live element stays when the wanted elements together
    cover it (auto-merge folds `10.1.2.3` into `10.0.0.0/8`, two halves into one /24), a
    wanted one is added when what stays does not cover it. The `addr . port` sets are never
    merged by the kernel, which refuses an element inside a present one (EEXIST): there the
    elements are compared exactly, and the deletes go first in the same transaction."""
    target = (*spec.elements, *keep)
    have = live.elements if live else ()
    if spec.kind in ("sp", "dp"):
        wanted = set(as_kernel_holds(target, merged=False))  # none inside another
        gone = tuple(e for e in have if canonical_element(e) not in wanted)
        present = {canonical_element(e) for e in have} - {canonical_element(e) for e in gone}
        add: dict[str, str] = {}
        for element in target:  # COI's text, first occurrence
            if canonical_element(element) in wanted - present:
                add.setdefault(canonical_element(element), element)
        return gone, tuple(add.values())
    boxes = [element_box(e) for e in target]
    gone = tuple(e for e in have if not box_covered(element_box(e), boxes))
    kept = [element_box(e) for e in have if e not in gone]
    return gone, tuple(e for e in target if not box_covered(element_box(e), kept))


def policy_in_force(state: NftState, desired: DesiredPolicy) -> bool:
    """Live nft holds exactly the desired rules (in order, in the newest or an older COI
    release's text) and sets holding exactly what the policy allows (plus the old answers
    COI keeps): the container's isolation is what COI would have installed."""
    desired = in_dialect(state, desired)
    owned = owned_objects(state, desired.ip, desired.name)
    if not _rules_match(owned, desired):
        return False
    live = {s.name: s for s in owned.sets}
    keep = old_answers(desired, live)
    return all(
        spec.name in live and set_changes(spec, live[spec.name], keep.get(spec.name, ()))
        == ((), ()) for spec in desired.sets
    ) and set(live) <= {s.name for s in desired.sets}


def _delete(rule: NftRule, table: str) -> str:
    # nft addresses a rule by handle only; the comment says which rule (nft ignores it), so
    # the review, --dry-run and the audit show what goes
    return f"delete rule {rule.family} {table} {rule.chain} handle {rule.handle}  # {rule.text}"


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
    rules that name them. The sets end up holding exactly what the policy allows (static
    elements replaced, resolved ones as the current answers give them), with the old
    answers COI keeps (see `old_answers`; `prune_script` takes those out on request): one
    transaction, so no packet ever sees more allowed than the wider of old and new. Live
    rules in an older COI release's text for this very policy stay (`in_dialect`).
    `lift_boot_block` removes this container's own `coi-boot-<name>`, as COI does after a
    successful setup."""
    desired = in_dialect(state, desired)
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
    keep = old_answers(desired, live_sets)
    drop_sets = [f"delete set ip {table} {s.name}" for s in owned.sets if s.name not in wanted]
    set_lines: list[str] = []
    for spec in desired.sets:
        live_set = live_sets.get(spec.name)
        if live_set is None:
            set_lines.append(spec.add_set(table))
        gone, missing = set_changes(spec, live_set, keep.get(spec.name, ()))
        if gone:  # before the adds: auto-merge must not fold a new element into a going one
            set_lines.append(f"delete element ip {table} {spec.name} {{ {', '.join(gone)} }}")
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
