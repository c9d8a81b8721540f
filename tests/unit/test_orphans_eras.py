"""Orphans across COI's eras (pure, fakes): the scan reads nft AND, when firewalld runs, its
direct rules and zone bindings through an explicit handle; firewalld not running is said in
one line (report, CLI, view), never silence; the nft era's inherited rules (a new container at
a dead one's address) are reported like the firewalld era's, never counted, and cleaned only
as reviewed; firewalld items are cleaned on the firewalld handle, never on the era's nft."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from coi_tui.cli.orphans_cmd import _document, report_lines
from coi_tui.eras.firewalld.access import Firewalld
from coi_tui.eras.firewalld.policy import desired_rules
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.model import NftSettings, NftState, NftTable
from coi_tui.eras.nft.objects import desired_objects, state_of
from coi_tui.eras.nft.policy import desired_policy
from coi_tui.errors import BackendUnavailable, FirewallDown, FirewallError, PermissionDenied
from coi_tui.models import Container, Mode, NetworkSettings
from coi_tui.plans import OpStep
from coi_tui.services.orphan_clean import (
    NOT_RUNNING,
    DeleteNft,
    OrphanSources,
    RemoveDirectRule,
    SkipItem,
    UnbindZone,
    clean_job,
    clean_plan,
    scan,
)
from coi_tui.services.orphans import (
    NftObjects,
    OrphanKind,
    OrphanReport,
    OrphanSnapshot,
    find_orphans,
)
from coi_tui.ui.screens.orphans import OrphansView
from tests.unit.fakes import FakeContainers, FakeFirewall

GW = "10.147.0.1"
HEIR = Container("coi-heir", "default", "Running", "10.147.0.33", "vethheir", "incusbr0", None)
LIVE = Container("coi-live", "default", "Running", "10.147.0.40", "vethlive", "incusbr0",
                 "restricted")
DEAD = "10.147.0.99"


def nft_state(*policies: tuple[str, str, Mode]) -> NftState:
    """What COI installs for each (ip, name, mode), as live nft reads back."""
    objects = [o for ip, name, mode in policies for o in desired_objects(desired_policy(
        ip, name, mode, NftSettings(allowed_domains=("203.0.113.10",)), GW, f"veth{name}",
        {"203.0.113.10": ["203.0.113.10"]}))]
    return state_of(objects)


def dead_rule(ip: str = DEAD) -> DirectRule:
    return DirectRule("ipv4", "filter", "FORWARD", 10, ("-s", ip, "-d", "10.0.0.0/8",
                                                       "-j", "REJECT"))


class Instances(FakeContainers):
    def leases(self, network: str) -> dict[str, str]:
        return {}


class FakeNft:
    """nft as orphan_clean reads and changes it: a state, and the scripts it was given."""

    def __init__(self, state: NftState) -> None:
        self._state = state
        self.scripts: list[str] = []

    def state(self) -> NftState:
        return self._state

    def list_table(self, family: str, table: str) -> NftTable | None:
        return next((t for t in (self._state.ip, self._state.ip6)
                     if t is not None and (t.family, t.name) == (family, table)), None)

    def list_chain(self, family: str, table: str, chain: str) -> NftTable | None:
        return self.list_table(family, table)

    def run_script(self, script: str, *, check: bool = False, action: str = "apply a change"
                   ) -> None:
        self.scripts.append(script)


class EraNft:
    """The engine's firewall in the nft era: it has no direct rules."""

    name = "nft"

    def state(self) -> str:
        return "running"

    def list_rules(self) -> list[DirectRule]:
        return []

    def remove_rule(self, rule: DirectRule) -> bool:
        raise FirewallError("the nft era changes rules only in transactions")

    def close(self) -> None:
        pass


def sources(tmp_path: Path, nft: FakeNft | None, firewalld: object,
            instances: tuple[Container, ...] = (HEIR, LIVE)) -> OrphanSources:
    def opener() -> Firewalld:
        if isinstance(firewalld, Exception):
            raise firewalld
        assert isinstance(firewalld, FakeFirewall)
        return firewalld

    return OrphanSources(lambda: Instances(list(instances)), (lambda: nft) if nft else None,
                         tmp_path, lambda: {}, firewalld=opener)


# ------------------------------------------------------------------ inherited nft rules
def test_nft_inherited_rules_of_a_container_that_never_asked_for_them() -> None:
    state = nft_state((HEIR.ipv4 or "", "coi-gone", Mode.ALLOWLIST))
    report = find_orphans(OrphanSnapshot(instances=(HEIR, LIVE), nft=state))
    inherited = [o for o in report.orphans if o.kind is OrphanKind.INHERITED]
    (heir,) = inherited
    assert heir.id == "default/coi-heir" and heir.owner == "coi-heir"
    assert isinstance(heir.target, NftObjects)
    assert {r.comment for r in heir.target.rules} == {"coi-10.147.0.33"}
    assert {s.name for s in heir.target.sets} == {
        f"coi_{k}_10_147_0_33" for k in ("s", "d", "sp", "dp")}
    rules = len(heir.target.rules)
    assert heir.detail == f"coi-heir (10.147.0.33): {rules} nft rule(s), 4 set(s), " \
                          "look like allowlist"
    assert "no mode was ever recorded for coi-heir" in heir.reason
    assert "coi6-coi-heir" in heir.reason
    assert report.count == 1  # only the dead coi6-coi-gone drop is an orphan: never the heir
    assert [o.kind for o in report.orphans if o.kind is not OrphanKind.INHERITED] == [
        OrphanKind.NFT_IP6]


@pytest.mark.parametrize("why", ["mode", "session", "own ip6 drop"])
def test_not_inherited_when_asked_for(why: str) -> None:
    heir = replace(HEIR, mode_key="restricted") if why == "mode" else HEIR
    state = nft_state((HEIR.ipv4 or "", "coi-gone", Mode.RESTRICTED))
    if why == "own ip6 drop":  # COI set this container up by name (elsewhere, another HOME)
        state = nft_state((HEIR.ipv4 or "", HEIR.name, Mode.RESTRICTED))
    snapshot = OrphanSnapshot(instances=(heir, LIVE), nft=state,
                              session_names=("coi-heir",) if why == "session" else ())
    assert not [o for o in find_orphans(snapshot).orphans if o.kind is OrphanKind.INHERITED]


def test_open_rules_inherited_look_like_open_and_both_eras_get_their_own_item() -> None:
    state = nft_state((HEIR.ipv4 or "", "coi-gone", Mode.OPEN))
    direct = desired_rules(HEIR.ipv4 or "", Mode.RESTRICTED, NetworkSettings(), GW)
    report = find_orphans(OrphanSnapshot(instances=(HEIR,), nft=state, rules=direct))
    items = {o.id: o for o in report.orphans if o.kind is OrphanKind.INHERITED}
    assert set(items) == {"default/coi-heir", "default/coi-heir (nft)"}
    assert items["default/coi-heir (nft)"].detail.endswith("1 nft rule(s), 0 set(s), "
                                                          "look like open")
    assert len(report.by_key()) == len(report.orphans)  # keys unique


# ------------------------------------------------------------------ firewalld beside nft
def test_the_nft_era_scan_reads_firewalld_too_when_it_runs(tmp_path: Path) -> None:
    firewalld = FakeFirewall([dead_rule()])
    nft = FakeNft(nft_state((DEAD, "coi-dead", Mode.RESTRICTED)))
    _snapshot, report = scan(sources(tmp_path, nft, firewalld))
    kinds = {(o.kind, o.owner) for o in report.orphans}
    assert (OrphanKind.RULE, DEAD) in kinds and (OrphanKind.NFT_IP, DEAD) in kinds
    assert report.notes == () and report.errors == {}


def test_firewalld_not_running_is_said_in_one_line_everywhere(tmp_path: Path) -> None:
    nft = FakeNft(nft_state((DEAD, "coi-dead", Mode.RESTRICTED)))
    stopped = FakeFirewall([dead_rule()])
    stopped.stopped = True  # opens, then says it is not running when read
    for down in (FirewallDown("firewalld is not running (nobody owns it)"), stopped):
        _snapshot, report = scan(sources(tmp_path, nft, down))
        assert report.notes == (NOT_RUNNING,) == ("firewalld: not running, its leftovers "
                                                   "not checked",)
        assert report.errors == {}
        assert {o.kind for o in report.orphans} == {OrphanKind.NFT_IP, OrphanKind.NFT_IP6}
        lines = report_lines(report)
        assert lines[:2] == ["Scanning for orphaned resources...", f"  {NOT_RUNNING}"]
        assert _document(report)["not_checked"] == [NOT_RUNNING]
    _snapshot, nobus = scan(sources(tmp_path, nft, BackendUnavailable("no system D-Bus")))
    assert nobus.notes == ("firewalld: not reachable (no system D-Bus), its leftovers not "
                           "checked",)


def test_firewalld_that_refuses_is_a_warning_not_a_note(tmp_path: Path) -> None:
    _snapshot, report = scan(sources(tmp_path, None, PermissionDenied("polkit says no")))
    assert report.errors == {"firewalld": "polkit says no"} and report.notes == ()
    assert "  Warning: Could not check firewalld: polkit says no" in report_lines(report)


# ------------------------------------------------------------------ cleaning
def test_firewalld_items_are_cleaned_on_the_firewalld_handle_not_the_eras_nft(
        tmp_path: Path) -> None:
    firewalld = FakeFirewall([dead_rule()])
    src = sources(tmp_path, FakeNft(NftState()), firewalld)
    _snapshot, report = scan(src)
    (item,) = [o for o in report.orphans if o.kind is OrphanKind.RULE]
    plan, done = clean_job([item], src).build(EraNft())
    (step,) = plan.steps
    assert isinstance(step, OpStep) and isinstance(step.op, RemoveDirectRule)
    assert step.skip_reason() == ""
    assert step.run(EraNft()) == "removed"
    assert firewalld.rules == [] and step.verify(lambda: ()) == ()
    assert done is not None and list(done()) == []


def test_a_reviewed_firewalld_item_is_skipped_when_firewalld_is_down_at_clean_time(
        tmp_path: Path) -> None:
    firewalld = FakeFirewall([dead_rule()])
    _snapshot, report = scan(sources(tmp_path, None, firewalld))
    reviewed = [o for o in report.orphans if o.kind is OrphanKind.RULE]
    down = sources(tmp_path, None, FirewallDown("firewalld is not running"))
    plan, _done = clean_job(reviewed, down).build(EraNft())
    (step,) = plan.steps
    assert isinstance(step, OpStep) and isinstance(step.op, SkipItem)
    assert step.skip_reason() == f"firewalld not checked now ({NOT_RUNNING}): left as it is"


def test_zone_bindings_are_unbound_on_the_firewalld_handle(tmp_path: Path) -> None:
    class Zoned(FakeFirewall):
        def zone_bindings(self) -> dict[str, tuple[str, ...]]:
            return {"block": ("vethgone",)}

    firewalld = Zoned()
    _snapshot, report = scan(sources(tmp_path, None, firewalld))
    (zone,) = [o for o in report.orphans if o.kind is OrphanKind.ZONE]
    snapshot, _ = scan(sources(tmp_path, None, firewalld))
    plan = clean_plan([zone], snapshot, sources(tmp_path, None, firewalld), firewalld)
    (step,) = plan.steps
    assert isinstance(step, OpStep) and isinstance(step.op, UnbindZone)
    assert step.op.firewall is firewalld


def test_inherited_nft_rules_are_cleaned_only_as_reviewed(tmp_path: Path) -> None:
    nft = FakeNft(nft_state((HEIR.ipv4 or "", "coi-gone", Mode.RESTRICTED)))
    src = sources(tmp_path, nft, FirewallDown("not running"))
    snapshot, report = scan(src)
    (heir,) = [o for o in report.orphans if o.kind is OrphanKind.INHERITED]
    plan = clean_plan([heir], snapshot, src, None, nft)
    (step,) = plan.steps
    assert isinstance(step, OpStep) and isinstance(step.op, DeleteNft)
    assert step.container == "inherited"
    assert step.run(EraNft()).startswith("deleted (")
    (script,) = nft.scripts
    assert isinstance(heir.target, NftObjects)
    handles = sorted(r.handle for r in heir.target.rules)
    assert [line for line in script.splitlines() if line.startswith("delete rule")] == [
        f"delete rule ip coi {r.chain} handle {r.handle}" for r in heir.target.rules]
    assert len(handles) == len(heir.target.rules)
    # a mode recorded meanwhile: no longer inherited, nothing deleted
    recorded = replace(snapshot, instances=(replace(HEIR, mode_key="restricted"), LIVE))
    (skip,) = clean_plan([heir], recorded, src, None, nft).steps
    assert isinstance(skip, OpStep) and isinstance(skip.op, SkipItem)
    assert "no longer inherited" in skip.skip_reason()


# ------------------------------------------------------------------ the view
class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield OrphansView(id="orphans-view")


async def test_the_view_says_what_was_not_checked() -> None:
    app = Host()
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(OrphansView)
        notes = view.query_one("#orphans-notes", Static)
        view.show_report(OrphanReport())
        await pilot.pause()
        assert not notes.display
        view.show_report(OrphanReport(notes=(NOT_RUNNING,)))
        await pilot.pause()
        assert notes.display and str(notes.render()) == NOT_RUNNING
        assert notes.region.height == 1
