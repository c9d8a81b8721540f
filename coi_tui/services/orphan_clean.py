"""Orphans: read the snapshot detection needs, and clean exactly the reviewed items.

`read_snapshot` does the I/O (Incus across every project, firewalld, /sys/class/net, nft, the
cache directory); `services/orphans.py` decides. firewalld is its own, explicit handle
(`open_firewalld`), whatever the era's firewall is: in the nft era it is opened beside nft when
firewalld runs (its direct rules and zone bindings are the firewalld era's leftovers), and when
it does not run the report says so. Cleaning is a firewall-engine job whose build runs under
the host's writer lock: it reads a fresh snapshot, detects again, and plans only the reviewed
items, each an operation that re-checks just before it runs (direct rules and zone bindings on
the firewalld handle, nft objects in one transaction each). A reviewed item that is no orphan
any more is skipped with the reason. Never a firewalld reload; never anything that was not
reviewed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from coi_tui.backends.base import FirewallBackend
from coi_tui.backends.links import delete_link, list_links
from coi_tui.eras.firewalld.access import Firewalld
from coi_tui.eras.firewalld.backstop import TABLE as BACKSTOP_TABLE
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.model import COI_TABLE, NftRule, NftState, NftTable
from coi_tui.errors import BackendUnavailable, CoiTuiError, FirewallDown
from coi_tui.models import Container, Link
from coi_tui.plans import Operation, OpStep, Plan, PlanStep
from coi_tui.runtime.engine import Built, Job
from coi_tui.runtime.hostlock import BACKSTOP, HostLock
from coi_tui.services.dns.cache import cache_dir, cache_path
from coi_tui.services.orphans import (
    NAT_TABLE,
    NftObjects,
    Orphan,
    OrphanKind,
    OrphanReport,
    OrphanSnapshot,
    VethPair,
    ZoneBinding,
    find_orphans,
    no_longer,
)
from coi_tui.services.traffic.table import FAMILY as TRAFFIC_FAMILY
from coi_tui.services.traffic.table import TABLE as TRAFFIC_TABLE
from coi_tui.services.traffic.table import held_by_someone as traffic_held


class Instances(Protocol):
    """Incus seen across every project (IncusBackend(all_projects=True))."""

    def list_containers(self) -> list[Container]: ...
    def leases(self, network: str) -> dict[str, str]: ...
    def close(self) -> None: ...


class NftAccess(Protocol):
    """What cleaning needs of backends.nft.NftCli."""

    def state(self) -> NftState: ...
    def list_table(self, family: str, table: str) -> NftTable | None: ...
    def list_chain(self, family: str, table: str, chain: str) -> NftTable | None: ...
    def run_script(self, script: str, *, check: bool = False, action: str = "apply a change"
                   ) -> None: ...


@dataclass(frozen=True)
class OrphanSources:
    instances: Callable[[], Instances]
    nft: Callable[[], NftAccess] | None  # None: no nft on this host
    home: Path  # where ~/.coi lives (tests pass a tmp dir)
    links: Callable[[], Mapping[str, Link]] = list_links
    # opens firewalld (fails fast when it does not run); None: never looked at
    firewalld: Callable[[], Firewalld] | None = None


def default_sources(home: Path | None = None) -> OrphanSources:
    from coi_tui.backends.incus import IncusBackend
    from coi_tui.eras.firewalld.access import open_firewall
    from coi_tui.eras.nft.cli import NftCli

    return OrphanSources(lambda: IncusBackend(all_projects=True), NftCli,
                         home if home is not None else Path.home(), firewalld=open_firewall)


NOT_RUNNING = "firewalld: not running, its leftovers not checked"


@dataclass(frozen=True)
class FirewalldAccess:
    """firewalld beside the era's firewall: the handle when it runs, else why it was not
    looked at (`note`, said in one line) or why it could not be read (`error`, a warning)."""

    firewall: Firewalld | None = None
    note: str = ""
    error: str = ""

    def close(self) -> None:
        if self.firewall is not None:
            self.firewall.close()


def open_firewalld(sources: OrphanSources) -> FirewalldAccess:
    if sources.firewalld is None:
        return FirewalldAccess(note="firewalld: not looked at, its leftovers not checked")
    try:
        return FirewalldAccess(sources.firewalld())
    except FirewallDown:
        return FirewalldAccess(note=NOT_RUNNING)
    except BackendUnavailable as error:  # no system bus, no firewall-cmd: it cannot run
        return FirewalldAccess(note=f"firewalld: not reachable ({error}), its leftovers "
                                    "not checked")
    except CoiTuiError as error:
        return FirewalldAccess(error=str(error))


def _session_names(home: Path) -> tuple[str, ...]:
    names = []
    for meta in sorted((home / ".coi").glob("sessions-*/*/metadata.json")):
        try:
            name = json.loads(meta.read_text()).get("container_name")
        except (OSError, ValueError, AttributeError):
            continue
        if isinstance(name, str):
            names.append(name)
    return tuple(names)


def _cache_names(home: Path) -> tuple[str, ...]:
    folder = cache_dir(home)
    return tuple(sorted(p.stem for p in folder.glob("*.json") if p.is_file())) \
        if folder.is_dir() else ()


def read_snapshot(sources: OrphanSources, firewalld: FirewalldAccess) -> OrphanSnapshot:
    """One reading of everything. Incus must answer (without it no address is known to be
    dead: CoiTuiError); any other part that fails is left out and named in `errors`; firewalld
    not running is said in `notes`."""
    incus = sources.instances()
    try:
        instances = tuple(incus.list_containers())
        leases: dict[str, str] = {}
        for network in sorted({c.network for c in instances if c.network}):
            leases.update(incus.leases(network))
    finally:
        incus.close()
    errors: dict[str, str] = {}
    notes: list[str] = []
    rules: tuple[DirectRule, ...] | None = None
    zones: dict[str, tuple[str, ...]] | None = None
    if firewalld.firewall is not None:
        try:
            rules = tuple(r for r in firewalld.firewall.list_rules()
                          if isinstance(r, DirectRule))
            zones = firewalld.firewall.zone_bindings()
        except FirewallDown:
            rules = zones = None  # it stopped meanwhile
            notes.append(NOT_RUNNING)
        except CoiTuiError as error:
            rules = zones = None
            errors["firewalld"] = str(error)
    elif firewalld.error:
        errors["firewalld"] = firewalld.error
    else:
        notes.append(firewalld.note)
    nft: NftState | None = None
    nat: NftTable | None = None
    backstop_left = traffic_left = False
    if sources.nft is not None:
        try:
            reader = sources.nft()
            nft = reader.state()
            nat = reader.list_table("ip", NAT_TABLE)
            # a keeper holds the lock while it keeps the table (this process too: flock)
            backstop_left = (reader.list_table("ip", BACKSTOP_TABLE) is not None
                             and HostLock(BACKSTOP).holder() is None)
            traffic_left = (reader.list_table(TRAFFIC_FAMILY, TRAFFIC_TABLE) is not None
                            and not traffic_held())
        except CoiTuiError as error:
            errors["nft"] = str(error)
    return OrphanSnapshot(
        instances=instances, leases=leases, rules=rules, links=dict(sources.links()),
        zones=zones, nft=nft, nat=nat, backstop_left=backstop_left, traffic_left=traffic_left,
        cache_names=_cache_names(sources.home),
        session_names=_session_names(sources.home), errors=errors, notes=tuple(notes))


def scan(sources: OrphanSources) -> tuple[OrphanSnapshot, OrphanReport]:
    """One scan: nft through `sources.nft`, firewalld through its own handle (opened and
    closed here), whatever the era."""
    firewalld = open_firewalld(sources)
    try:
        snapshot = read_snapshot(sources, firewalld)
    finally:
        firewalld.close()
    return snapshot, find_orphans(snapshot)


# ------------------------------------------------------------------ operations
@dataclass(frozen=True)
class SkipItem:
    """A reviewed item that is no orphan any more: reported, never touched."""

    orphan: Orphan
    reason: str

    def __str__(self) -> str:
        return f"{self.orphan.kind.value} {self.orphan.id}"

    @property
    def skip_reason(self) -> str:
        return self.reason

    def still_applies(self) -> bool:
        return False

    def run(self) -> str:  # never called: still_applies is False
        return f"skipped: {self.reason}"

    def gone(self) -> bool:
        return True


@dataclass(frozen=True)
class DeleteVethPair:
    pair: VethPair
    links: Callable[[], Mapping[str, Link]] = field(default=list_links, compare=False)

    def __str__(self) -> str:
        return f"delete veth pair {self.pair.name} <-> {self.pair.peer}"

    @property
    def skip_reason(self) -> str:
        return "no longer there, or now on a bridge"

    def still_applies(self) -> bool:
        now = self.links()
        ends = [now.get(self.pair.name), now.get(self.pair.peer)]
        return all(e is not None and e.master is None for e in ends)

    def run(self) -> str:
        delete_link(self.pair.name)  # the peer goes with it
        return "deleted (both ends)"

    def gone(self) -> bool:
        now = self.links()
        return self.pair.name not in now and self.pair.peer not in now


@dataclass(frozen=True)
class RemoveDirectRule:
    """A firewalld direct rule, on the firewalld handle (in the nft era the engine's own
    firewall is nft, which has no direct rules)."""

    rule: DirectRule
    firewall: Firewalld = field(compare=False)

    def __str__(self) -> str:
        return str(self.rule)

    @property
    def skip_reason(self) -> str:
        return "no longer there"

    def still_applies(self) -> bool:
        return self.firewall.query_rule(self.rule)

    def run(self) -> str:  # runtime only: never a reload
        return "removed" if self.firewall.remove_rule(self.rule) else "already gone"

    def gone(self) -> bool:
        return not self.firewall.query_rule(self.rule)


@dataclass(frozen=True)
class UnbindZone:
    binding: ZoneBinding
    firewall: Firewalld = field(compare=False)
    links: Callable[[], Mapping[str, Link]] = field(default=list_links, compare=False)

    def __str__(self) -> str:
        return f"unbind {self.binding.interface} from zone {self.binding.zone}"

    def _bound(self) -> bool:
        return self.binding.interface in self.firewall.zone_bindings().get(self.binding.zone, ())

    @property
    def skip_reason(self) -> str:
        return "no longer bound, or the interface exists again"

    def still_applies(self) -> bool:
        return self._bound() and self.binding.interface not in self.links()

    def run(self) -> str:  # runtime only: never a reload
        changed = self.firewall.remove_interface(self.binding.zone, self.binding.interface)
        return "unbound" if changed else "already unbound"

    def gone(self) -> bool:
        return not self._bound()


def _same(a: NftRule, b: NftRule) -> bool:
    return (a.handle, a.comment, a.canonical) == (b.handle, b.comment, b.canonical)


@dataclass(frozen=True)
class DeleteNft:
    """nft objects by handle (rules) or name (sets, a table), in one `nft -f -` transaction;
    each is deleted only if it is still exactly what was reviewed."""

    objects: NftObjects
    label: str
    nft: NftAccess = field(compare=False)

    def __str__(self) -> str:
        return f"delete {self.label}"

    @property
    def skip_reason(self) -> str:
        return "no longer there"

    def _present(self) -> tuple[list[NftRule], list[str], bool]:
        rules = []
        chains: dict[tuple[str, str, str], NftTable | None] = {}
        for rule in self.objects.rules:
            where = (rule.family, rule.table, rule.chain)
            if where not in chains:
                chains[where] = self.nft.list_chain(*where)
            table = chains[where]
            if table is not None and any(_same(rule, r) for r in table.rules):
                rules.append(rule)
        sets: list[str] = []
        if self.objects.sets:
            coi = self.nft.list_table("ip", COI_TABLE)
            sets = [s.name for s in self.objects.sets if coi is not None and coi.set(s.name)]
        table_there = self.objects.table is not None and self.nft.list_table(
            *self.objects.table) is not None
        return rules, sets, table_there

    def still_applies(self) -> bool:
        return any(self._present())

    def run(self) -> str:
        rules, sets, table_there = self._present()
        lines = [f"delete rule {r.family} {r.table} {r.chain} handle {r.handle}" for r in rules]
        lines += [f"delete set ip {COI_TABLE} {name}" for name in sets]  # after their rules
        if table_there and self.objects.table is not None:
            lines.append(f"delete table {' '.join(self.objects.table)}")
        self.nft.run_script("".join(f"{line}\n" for line in lines), action=str(self))
        return f"deleted ({len(lines)} object(s))"

    def gone(self) -> bool:
        return not any(self._present())


@dataclass(frozen=True)
class DeleteCacheFile:
    path: Path

    def __str__(self) -> str:
        return f"delete {self.path}"

    @property
    def skip_reason(self) -> str:
        return "no longer there"

    def still_applies(self) -> bool:
        return self.path.is_file()

    def run(self) -> str:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return "already gone"
        except OSError as error:
            raise CoiTuiError(f"could not delete {self.path}: {error.strerror}") from error
        return "deleted"

    def gone(self) -> bool:
        return not self.path.exists()


# ------------------------------------------------------------------ the plan and the job
ORDER = {kind: i for i, kind in enumerate(OrphanKind)}


def _needs_firewalld(orphan: Orphan) -> bool:
    target = orphan.target
    return isinstance(target, DirectRule | ZoneBinding) or (
        isinstance(target, tuple) and all(isinstance(r, DirectRule) for r in target))


def _operation(orphan: Orphan, firewalld: Firewalld | None, sources: OrphanSources,
               nft: NftAccess | None) -> OpStep:
    target = orphan.target
    if isinstance(target, VethPair):
        op: Operation = DeleteVethPair(target, sources.links)
    elif isinstance(target, ZoneBinding):
        if firewalld is None:
            raise CoiTuiError(f"{orphan.kind.value} {orphan.id}: firewalld is not available")
        op = UnbindZone(target, firewalld, sources.links)
    elif isinstance(target, NftObjects):
        if nft is None:
            raise CoiTuiError(f"{orphan.kind.value} {orphan.id}: nft is not available")
        op = DeleteNft(target, f"{orphan.kind.value} {orphan.detail}", nft)
    elif orphan.kind is OrphanKind.CACHE and isinstance(target, str):
        op = DeleteCacheFile(cache_path(target, sources.home))
    else:
        raise CoiTuiError(f"cannot clean {orphan.kind.value} {orphan.id}")
    return _op_step(op, orphan)


def _op_step(op: Operation, orphan: Orphan) -> OpStep:
    return OpStep(op, orphan.kind.value, orphan.reason)


def _unchecked(orphan: Orphan, snapshot: OrphanSnapshot, firewalld: Firewalld | None) -> str:
    """Why a reviewed item cannot be judged now: the part that holds it is not readable."""
    if _needs_firewalld(orphan) and (firewalld is None or snapshot.rules is None):
        why = snapshot.errors.get("firewalld") or "; ".join(snapshot.notes) or "not opened"
        return f"firewalld not checked now ({why}): left as it is"
    if isinstance(orphan.target, NftObjects) and snapshot.nft is None:
        return f"nft not checked now ({snapshot.errors.get('nft', 'not readable')}): left as it is"
    return ""


def clean_plan(reviewed: Sequence[Orphan], snapshot: OrphanSnapshot, sources: OrphanSources,
               firewalld: Firewalld | None = None, nft: NftAccess | None = None) -> Plan:
    """Exactly the reviewed items, as they are now, each an operation that re-checks just
    before it runs (inherited rules only those reviewed and still there); an item no longer
    an orphan, or whose part cannot be read now, is a skipped operation with the reason."""
    fresh = find_orphans(snapshot)
    now = fresh.by_key()
    ops: list[PlanStep] = []
    for orphan in sorted(dict.fromkeys(reviewed), key=lambda o: ORDER[o.kind]):
        why = _unchecked(orphan, snapshot, firewalld) or no_longer(orphan, fresh, snapshot)
        if why:
            ops.append(_op_step(SkipItem(orphan, why), orphan))
            continue
        current = now[orphan.key]
        if isinstance(orphan.target, DirectRule):
            assert firewalld is not None  # _unchecked
            ops.append(OpStep(RemoveDirectRule(orphan.target, firewalld),
                              f"(was {orphan.owner})", orphan.reason))
        elif orphan.kind is OrphanKind.INHERITED and isinstance(orphan.target, tuple):
            assert firewalld is not None and isinstance(current.target, tuple)
            live = set(current.target)
            ops += [OpStep(RemoveDirectRule(r, firewalld), orphan.owner, orphan.reason)
                    for r in orphan.target if isinstance(r, DirectRule) and r in live]
        else:
            ops.append(_operation(orphan, firewalld, sources, nft))
    count = len(dict.fromkeys(reviewed))
    return Plan(tuple(ops), f"clean {count} orphan item(s)")


def clean_job(reviewed: Iterable[Orphan], sources: OrphanSources,
              on_done: Callable[[], Sequence[str]] | None = None) -> Job:
    """The engine job that cleans `reviewed`: detection runs again under the writer lock.
    The engine's own firewall (the era's) is not what is read or changed here: nft goes
    through `sources.nft`, firewalld through its own handle, held until the job is done."""
    items = tuple(reviewed)

    def build(_era_firewall: FirewallBackend) -> Built:
        firewalld = open_firewalld(sources)
        try:
            snapshot = read_snapshot(sources, firewalld)
            nft = sources.nft() if sources.nft is not None and any(
                isinstance(o.target, NftObjects) for o in items) else None
            plan = clean_plan(items, snapshot, sources, firewalld.firewall, nft)
        except BaseException:
            firewalld.close()
            raise

        def done() -> Sequence[str]:
            firewalld.close()
            return on_done() if on_done is not None else ()

        return plan, done

    return Job(f"clean {len(items)} orphan item(s)", build, kind="orphans")
