"""Orphan detection over one snapshot (pure): exact addresses alive in every project and
state, the veth rules with their skip reasons, zone bindings, monitoring LOG rules and the nft
era over the real `nft -j` fixtures, cache files, inherited rules; the clean plan holds exactly
the reviewed items and skips one whose owner came back."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from coi_tui.eras.firewalld.policy import BASE_RULE, desired_rules
from coi_tui.eras.firewalld.rules import DirectRule
from coi_tui.eras.nft.json_model import parse_table
from coi_tui.eras.nft.model import NftSet, NftState, NftTable
from coi_tui.models import Container, Link, Mode, NetworkSettings
from coi_tui.plans import OpStep
from coi_tui.services.orphan_clean import (
    DeleteCacheFile,
    DeleteNft,
    DeleteVethPair,
    OrphanSources,
    RemoveDirectRule,
    SkipItem,
    UnbindZone,
    clean_plan,
)
from coi_tui.services.orphans import (
    NftObjects,
    OrphanKind,
    OrphanSnapshot,
    VethPair,
    find_orphans,
)
from tests.unit.fakes import FakeFirewall

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "nft"


def box(name: str, ip: str | None, status: str = "Running", project: str = "default",
        **kw: str) -> Container:
    return Container(name, project, status, ip, kw.pop("veth", None), "incusbr0",
                     kw.pop("mode_key", None), **kw)  # type: ignore[arg-type]


def rule(ip: str, prio: int = 10, chain: str = "FORWARD") -> DirectRule:
    return DirectRule("ipv4", "filter", chain, prio, ("-s", ip, "-d", "10.0.0.0/8", "-j", "REJECT"))


INSTANCES = (
    box("live50", "10.147.0.50", mode_key="restricted"),
    box("live208", "10.147.0.208", mode_key="open"),
    box("frozen", "10.147.0.7", "Frozen", mode_key="restricted"),
    box("stopped-lease", None, "Stopped", hwaddr="10:66:6A:00:00:08"),
    box("stopped-static", None, "Stopped", static_ipv4="10.147.0.9"),
    box("elsewhere", "10.147.0.11", project="other", mode_key="restricted"),
)


def snap(**kw: object) -> OrphanSnapshot:
    base = OrphanSnapshot(instances=INSTANCES, leases={"10:66:6a:00:00:08": "10.147.0.8"})
    return replace(base, **kw)  # type: ignore[arg-type]


def ids(snapshot: OrphanSnapshot, kind: OrphanKind) -> list[str]:
    return [o.id for o in find_orphans(snapshot).orphans if o.kind is kind]


def test_rules_exact_alive_in_every_state_and_project_any_range() -> None:
    alive = [rule(ip) for ip in ("10.147.0.50", "10.147.0.208", "10.147.0.7", "10.147.0.8",
                                 "10.147.0.9", "10.147.0.11")]
    dead = [rule("10.147.0.5"), rule("10.147.0.20/32"), rule("172.30.0.4")]
    others = [BASE_RULE, rule("10.147.0.0/24"), rule("10.147.0.66", chain="INPUT")]
    report = find_orphans(snap(rules=(*alive, *dead, *others)))
    assert [o.target for o in report.orphans] == dead
    first = report.orphans[0]
    assert first.reason == ("-s 10.147.0.5 belongs to no instance (6 instance(s) in 2 "
                            "project(s) checked, Frozen, Running, Stopped included)")
    assert first.owner == "10.147.0.5" and report.count == 3


def test_a_stopped_instance_without_lease_or_static_address_protects_nothing() -> None:
    report = find_orphans(snap(rules=(rule("10.147.0.8"),), leases={}))
    assert [o.owner for o in report.orphans] == ["10.147.0.8"]


def veth(name: str, index: int, peer: int, master: str | None = None) -> Link:
    return Link(name, "veth", master, index, peer)


def test_veths_only_unused_host_pairs_the_rest_skipped_with_why() -> None:
    links = {link.name: link for link in (
        veth("vethA", 20, 21), veth("vethB", 21, 20),  # a pair on the host: orphan
        veth("vethC", 22, 3, "incusbr0"),  # on the bridge: fine, not even mentioned
        veth("vethD", 23, 2),  # peer in another namespace
        veth("lab-inet", 12, 2),  # another tool's
        veth("vethE", 24, 25), veth("vethF", 25, 24, "br1"),  # peer in use
        veth("vethG", 26, 9),  # a stopped instance's host veth
        Link("eth0", None, None, 4, 4),
    )}
    stopped = box("s", None, "Stopped", veth="vethG")
    report = find_orphans(snap(links=links, instances=(*INSTANCES, stopped)))
    (pair,) = report.orphans
    assert pair.target == VethPair("vethA", "vethB") and pair.id == "vethA<->vethB"
    assert {s.id: s.reason for s in report.skipped} == {
        "vethD": "its peer is in another network namespace (a container or another tool's)",
        "lab-inet": "not named veth*: not an Incus host veth (another tool's link)",
        "vethE": "its peer vethF is in use (master br1)",
        "vethG": "host veth of s (default, Stopped)",
    }


def test_zone_bindings_of_missing_interfaces_in_any_zone() -> None:
    links = {"incusbr0": Link("incusbr0", "bridge", None), "eth0": Link("eth0", None, None)}
    zones = {"trusted": ("incusbr0", "vethgone"), "work": ("eth0", "docker+", "vethx")}
    assert ids(snap(links=links, zones=zones), OrphanKind.ZONE) == [
        "trusted/vethgone", "work/vethx"]


def monitor_state() -> NftState:
    text = (FIXTURES / "list_chain_ip_filter_forward.json").read_text()
    return NftState(monitor=parse_table(text, "ip", "filter"))


def test_monitor_rules_by_bracketed_address_exactly() -> None:
    dead = find_orphans(snap(nft=monitor_state()))  # .5 is dead, .50 lives: no shield
    assert [o.id for o in dead.orphans] == ["handle 7", "handle 6", "handle 5", "handle 3"]
    assert dead.orphans[0].reason.startswith("LOG rule for 10.147.0.5, which belongs to no")
    alive = snap(nft=monitor_state(), instances=(*INSTANCES, box("five", "10.147.0.5")))
    assert find_orphans(alive).orphans == ()


def coi_state() -> NftState:
    ip = parse_table((FIXTURES / "list_table_ip_coi.json").read_text(), "ip", "coi")
    ip6 = parse_table((FIXTURES / "list_chain_ip6_coi_forward.json").read_text(), "ip6", "coi")
    return NftState(ip=ip, ip6=ip6)


def test_nft_era_dead_addresses_boot_blocks_ipv6_drops_never_a_boot_comment_as_address() -> None:
    # .50 lives (INSTANCES), .5 is dead; coi-lab-1 and coi-lab-3 are no instances
    report = find_orphans(snap(nft=coi_state()))
    by_kind = {(o.kind, o.id): o for o in report.orphans}
    assert set(by_kind) == {(OrphanKind.NFT_IP, "10.147.0.5"),
                            (OrphanKind.NFT_BOOT, "coi-lab-3"),
                            (OrphanKind.NFT_IP6, "coi-lab-1")}
    five = by_kind[(OrphanKind.NFT_IP, "10.147.0.5")].target
    assert isinstance(five, NftObjects)
    assert {r.comment for r in five.rules} == {"coi-10.147.0.5"} and len(five.rules) == 11
    # name-keyed objects of existing instances stay, whatever their state
    named = (*INSTANCES, box("coi-lab-3", None, "Stopped"), box("coi-lab-1", "10.147.0.5"))
    assert find_orphans(snap(nft=coi_state(), instances=named)).orphans == ()


def test_nft_sets_without_any_rule_are_found() -> None:
    table = NftTable("ip", "coi", sets=tuple(
        NftSet("ip", "coi", f"coi_{k}_10_147_0_60", ("ipv4_addr",)) for k in ("s", "d")))
    (orphan,) = find_orphans(snap(nft=NftState(ip=table))).orphans
    assert orphan.id == "10.147.0.60" and orphan.detail == "0 rule(s), 2 set(s) for 10.147.0.60"


def test_a_stray_coi_nat_table_unless_it_names_a_live_address() -> None:
    assert ids(snap(nat=NftTable("ip", "coi_nat")), OrphanKind.NFT_TABLE) == ["ip coi_nat"]


def test_cache_files_of_instances_that_no_longer_exist() -> None:
    names = ("live50", "stopped-static", "gone", "elsewhere")
    assert ids(snap(cache_names=names), OrphanKind.CACHE) == ["gone"]


def test_inherited_rules_of_a_container_that_never_asked_for_them() -> None:
    gw = "10.147.0.1"
    rules = desired_rules("10.147.0.33", Mode.RESTRICTED, NetworkSettings(), gw)
    heir = box("new", "10.147.0.33")
    report = find_orphans(snap(instances=(*INSTANCES, heir), rules=rules))
    (inherited,) = report.orphans
    assert inherited.kind is OrphanKind.INHERITED and report.count == 0
    assert inherited.detail == f"new (10.147.0.33): {len(rules)} rule(s), look like restricted"
    ran = snap(instances=(*INSTANCES, heir), rules=rules, session_names=("new",))
    recorded = snap(instances=(*INSTANCES, replace(heir, mode_key="restricted")), rules=rules)
    assert find_orphans(ran).orphans == () == find_orphans(recorded).orphans


def test_clean_plan_is_exactly_the_reviewed_items_and_skips_the_revived(tmp_path: Path) -> None:
    links = {"vethA": veth("vethA", 20, 21), "vethB": veth("vethB", 21, 20)}
    before = snap(rules=(rule("10.147.0.5"), rule("10.147.0.6"), rule("10.147.0.77")),
                  links=links, zones={"block": ("vethgone",)}, cache_names=("gone", "back"),
                  nft=monitor_state())
    report = find_orphans(before)
    reviewed = [o for o in report.orphans if o.owner != "10.147.0.77"]  # one not reviewed
    back = box("back", "10.147.0.6")  # .6 and the name "back" alive again
    now = replace(before, instances=(*INSTANCES, back))
    sources = OrphanSources(lambda: None, None, tmp_path)  # type: ignore[arg-type,return-value]
    plan = clean_plan(reviewed, now, sources, FakeFirewall(), nft=object())  # type: ignore
    op_steps = [o for o in plan.steps if isinstance(o, OpStep)]
    assert len(op_steps) == len(plan.steps)
    ops = [(type(o.op).__name__, str(o.op)) for o in op_steps]
    assert ops == [
        ("RemoveDirectRule", str(rule("10.147.0.5"))),
        ("SkipItem", f"rule {rule('10.147.0.6')}"),
        ("DeleteVethPair", "delete veth pair vethA <-> vethB"),
        ("UnbindZone", "unbind vethgone from zone block"),
        *[("DeleteNft", f"delete nft-monitor handle {h}: log prefix {p!r}")
          for h, p in ((7, "NFT_COI[10.147.0.5]: "), (6, "NFT_DNS[10.147.0.5]: "),
                       (5, "NFT_SUSPICIOUS[10.147.0.5]: "), (3, "NFT_SUSPICIOUS[10.147.0.5]: "))],
        ("SkipItem", "cache-file back"),
        ("DeleteCacheFile", f"delete {tmp_path}/.coi/network-cache/gone.json"),
    ]
    skips = [o.op for o in op_steps if isinstance(o.op, SkipItem)]
    assert [s.skip_reason for s in skips] == [  # the revived, in the plan's order
        "10.147.0.6 belongs to back (default, Running) again", "instance back exists again"]
    assert [str(line) for line in op_steps[0].lines()] == [f"- {rule('10.147.0.5')}"]
    assert op_steps[0].container == "(was 10.147.0.5)"
    assert all(isinstance(o.op, RemoveDirectRule | SkipItem | DeleteVethPair | UnbindZone
                          | DeleteNft | DeleteCacheFile) for o in op_steps)
