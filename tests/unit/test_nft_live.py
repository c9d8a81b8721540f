"""Against the real nft (root): every script the builder writes is accepted by the kernel
(`nft -c`), and what COI's text becomes in the kernel reads back equal (round trip).

Only scratch tables named `coi_tui_scratch_<pid>_<n>` are created and deleted, by exact
name. Their chains are regular chains (no hook), so no packet ever passes through them;
scripts that would create hooked chains are only ever checked (`nft -c`), never applied.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from dataclasses import replace

import pytest

from coi_tui.eras.nft.cli import NftCli
from coi_tui.eras.nft.model import DesiredPolicy, HostEntry, NftSettings, NftState
from coi_tui.eras.nft.objects import NftCoiSet, desired_objects, objects_of
from coi_tui.eras.nft.policy import (
    coi_commands,
    desired_policy,
    infer_mode,
    owned_rules,
    owned_sets,
)
from coi_tui.eras.nft.transaction import (
    apply_script,
    owned_objects,
    policy_in_force,
    prune_script,
    refresh_script,
    remove_script,
)
from coi_tui.errors import BackendUnavailable, FirewallError, PermissionDenied
from coi_tui.models import Mode

pytestmark = pytest.mark.skipif(
    shutil.which("nft") is None or os.geteuid() != 0, reason="needs nft and root")

GW = "10.147.0.1"
_count = itertools.count()


class Scratch:
    def __init__(self) -> None:
        self.name = f"coi_tui_scratch_{os.getpid()}_{next(_count)}"
        self.filter = f"{self.name}_f"
        self.cli = NftCli()

    def create(self) -> None:
        n = self.name
        self.cli.run_script(
            f"add table ip {n}\nadd chain ip {n} forward\nadd chain ip {n} input\n"
            f"add table ip6 {n}\nadd chain ip6 {n} forward\n"
            f"add table ip {self.filter}\nadd chain ip {self.filter} FORWARD\n")

    def state(self) -> NftState:
        return self.cli.state(table=self.name, filter_table=self.filter)

    def apply(self, script: str) -> None:
        self.cli.run_script(script, check=True)  # the kernel accepts it ...
        self.cli.run_script(script)  # ... and applies it as one transaction

    def drop(self) -> None:
        present = set(self.cli.list_tables())
        for family, table in (("ip", self.name), ("ip6", self.name), ("ip", self.filter)):
            if (family, table) in present:
                self.cli.run_script(f"delete table {family} {table}\n")


@pytest.fixture
def scratch() -> Iterator[Scratch]:
    s = Scratch()
    s.create()
    try:
        yield s
    finally:
        s.drop()


SETTINGS = [
    NftSettings(allowed_domains=("203.0.113.0/24",)),
    NftSettings(allowed_domains=("203.0.113.0/24:443,8000-8100", "api.lab.test", "198.51.100.7"),
                allowed_ports=(80, 443), allow_local_network_access=True),
    NftSettings(allowed_domains=("api.lab.test:22",), block_metadata_endpoint=False,
                allow_local_network_access=True,
                hosts=(HostEntry("192.168.77.2", ("lan",)), HostEntry("10.9.9.9"))),
    # hosts every mode takes: a LAN host and a public one, both scoped by allowed_ports
    NftSettings(allowed_domains=("api.lab.test:22", "api.lab.test"), allowed_ports=(8443, 443, 443),
                hosts=(HostEntry("192.168.77.2", ("lan",)), HostEntry("203.0.113.9", ("web",)))),
    NftSettings(allowed_domains=("api.lab.test",), block_private_networks=False,
                block_metadata_endpoint=False),
    NftSettings(allowed_domains=("api.lab.test",), dns_servers=("203.0.113.53",),
                allowed_ports=(443,)),
]
RESOLVED = {"api.lab.test": ["203.0.113.10", "203.0.113.11"]}


def _desired(ip: str, name: str, mode: Mode, settings: NftSettings) -> DesiredPolicy:
    if mode is Mode.ALLOWLIST and settings.dns_servers:
        settings = replace(settings, dns_servers=())
    return desired_policy(ip, name, mode, settings, GW, f"veth{name[-1]}", RESOLVED)


@pytest.mark.parametrize("settings", SETTINGS)
def test_coi_s_text_reads_back_equal_in_every_mode_and_switch(
        scratch: Scratch, settings: NftSettings) -> None:
    # a neighbour whose address extends ours: it must come through every step untouched
    neighbour = _desired("10.147.0.50", "coi-lab-5", Mode.ALLOWLIST, SETTINGS[0])
    scratch.apply(apply_script(scratch.state(), neighbour, table=scratch.name).text)
    before = owned_objects(scratch.state(), "10.147.0.50", "coi-lab-5")

    for mode in (Mode.RESTRICTED, Mode.ALLOWLIST, Mode.OPEN, Mode.ALLOWLIST, Mode.RESTRICTED):
        desired = _desired("10.147.0.5", "coi-lab-1", mode, settings)
        scratch.apply(apply_script(scratch.state(), desired, table=scratch.name).text)
        live = scratch.state()
        owned = owned_objects(live, "10.147.0.5", "coi-lab-1")
        assert [r.canonical for r in owned.forward] == [r.canonical for r in desired.forward]
        assert policy_in_force(live, desired)
        assert infer_mode("10.147.0.5", owned.forward, [s.name for s in owned.sets],
                          ip6_drop=bool(owned.ip6)) is mode
        # applying again changes nothing
        assert apply_script(live, desired, table=scratch.name).empty
        assert owned_objects(live, "10.147.0.50", "coi-lab-5") == before


def test_remove_takes_exactly_one_container(scratch: Scratch) -> None:
    for ip, name in (("10.147.0.5", "coi-lab-1"), ("10.147.0.50", "coi-lab-5")):
        desired = _desired(ip, name, Mode.ALLOWLIST, SETTINGS[1])
        scratch.apply(apply_script(scratch.state(), desired, table=scratch.name,
                                   lift_boot_block=False).text)
    # a boot block and monitor rules as COI installs them
    scratch.apply(
        f'add rule ip {scratch.name} forward iifname veth1 drop comment "coi-boot-coi-lab-1"\n'
        f'insert rule ip {scratch.filter} FORWARD ip saddr 10.147.0.5 udp dport 53 '
        f'log prefix "NFT_DNS[10.147.0.5]: " level info counter\n'
        f'insert rule ip {scratch.filter} FORWARD ip saddr 10.147.0.50 udp dport 53 '
        f'log prefix "NFT_DNS[10.147.0.50]: " level info counter\n')
    before = scratch.state()
    other = owned_objects(before, "10.147.0.50", "coi-lab-5")
    scratch.apply(remove_script(before, "10.147.0.5", "coi-lab-1", table=scratch.name,
                                filter_table=scratch.filter).text)
    after = scratch.state()
    assert owned_objects(after, "10.147.0.5", "coi-lab-1").empty
    assert owned_objects(after, "10.147.0.50", "coi-lab-5") == other
    assert after.ip is not None and [c.name for c in after.ip.chains] == ["forward", "input"]
    assert [r.comment for r in after.ip.rules_in("forward")].count("coi-base") == 1


def test_refresh_adds_elements_in_one_transaction_and_keeps_the_old_ones(
        scratch: Scratch) -> None:
    ip = "10.147.0.5"
    desired = _desired(ip, "coi-lab-1", Mode.ALLOWLIST, SETTINGS[1])
    scratch.apply(apply_script(scratch.state(), desired, table=scratch.name).text)
    before = {s.name: s.elements for s in owned_sets(scratch.state().ip, ip)}
    rules_before = owned_rules(scratch.state().ip, ip)
    script = refresh_script(scratch.state(), ip, {
        "coi_d_10_147_0_5": ["203.0.113.10", "203.0.113.12"],
        "coi_dp_10_147_0_5": ["203.0.113.12 . 80", "203.0.113.12 . 443"],
    }, table=scratch.name)
    assert script.lines == (
        f"add element ip {scratch.name} coi_d_10_147_0_5 {{ 203.0.113.12 }}",
        f"add element ip {scratch.name} coi_dp_10_147_0_5 {{ 203.0.113.12 . 80, "
        "203.0.113.12 . 443 }",
    )
    scratch.apply(script.text)
    live = scratch.state()
    sets = {s.name: s.elements for s in owned_sets(live.ip, ip)}
    # every old answer stays (COI's permanent elements), the new one is added
    assert sets["coi_d_10_147_0_5"] == ("203.0.113.10", "203.0.113.11", "203.0.113.12")
    assert set(sets["coi_dp_10_147_0_5"]) == set(before["coi_dp_10_147_0_5"]) | {
        "203.0.113.12 . 80", "203.0.113.12 . 443"}
    assert owned_rules(live.ip, ip) == rules_before  # same handles: no rule was touched
    # a prune by request takes .11 out of both sets, in one transaction
    pruned = prune_script(live, ip, ["203.0.113.11"], table=scratch.name)
    scratch.apply(pruned.text)
    after = {s.name: s.elements for s in owned_sets(scratch.state().ip, ip)}
    assert after["coi_d_10_147_0_5"] == ("203.0.113.10", "203.0.113.12")
    assert not any(e.startswith("203.0.113.11 ") for e in after["coi_dp_10_147_0_5"])
    assert owned_rules(scratch.state().ip, ip) == rules_before


def test_a_fresh_host_script_with_hooked_chains_passes_the_kernel_check() -> None:
    cli = NftCli()
    name = f"coi_tui_scratch_{os.getpid()}_fresh"
    assert ("ip", name) not in set(cli.list_tables())
    for mode in Mode:
        desired = _desired("10.147.0.5", "coi-lab-1", mode, SETTINGS[1])
        script = apply_script(NftState(), desired, table=name)
        assert script.lines[0] == f"add table ip {name}"
        cli.run_script(script.text, check=True)  # check only: never applied
    assert ("ip", name) not in set(cli.list_tables())


def test_the_runner_maps_failures_to_one_line_errors() -> None:
    cli = NftCli()
    assert cli.list_table("ip", f"coi_tui_absent_{os.getpid()}") is None
    with pytest.raises(FirewallError) as error:
        cli.run_script(f"delete rule ip coi_tui_absent_{os.getpid()} forward handle 1\n",
                       check=True, action="remove a rule")
    assert "\n" not in str(error.value)
    assert str(error.value).startswith("nft refused to check (remove a rule): ")
    with pytest.raises(BackendUnavailable, match="not found"):
        NftCli(command=("/nonexistent/nft",)).list_tables()
    sudo = ("sh", "-c", "echo 'sudo: a password is required' >&2; exit 1", "sudo")
    with pytest.raises(PermissionDenied, match="coi-nft"):
        NftCli(command=sudo).list_tables()
    slow = ("sh", "-c", "sleep 5", "nft")
    with pytest.raises(BackendUnavailable, match="did not answer"):
        NftCli(command=slow, timeout=0.2).list_tables()


# --- narrowing and older dialects, against the kernel ---


def _sets(scratch: Scratch, ip: str) -> dict[str, set[str]]:
    return {s.name.split("_")[1]: set(s.elements) for s in owned_sets(scratch.state().ip, ip)}


def test_a_narrowed_config_leaves_exactly_the_new_elements_in_one_transaction(
        scratch: Scratch) -> None:
    ip, name = "10.147.0.5", "coi-lab-1"
    wide = NftSettings(allowed_domains=("203.0.113.10", "203.0.113.20/32", "api.lab.test"))
    narrow = NftSettings(allowed_domains=("203.0.113.10", "api.lab.test"), allowed_ports=(443,))
    scratch.apply(apply_script(scratch.state(), _desired(ip, name, Mode.ALLOWLIST, wide),
                               table=scratch.name).text)
    rules_before = owned_rules(scratch.state().ip, ip)
    want = _desired(ip, name, Mode.ALLOWLIST, narrow)
    script = apply_script(scratch.state(), want, table=scratch.name)
    assert all(" element " in line for line in script.lines)  # no rule touched
    scratch.apply(script.text)  # one `nft -f -`: all of it or nothing
    assert _sets(scratch, ip) == {
        "s": {"203.0.113.10"}, "sp": {"203.0.113.10 . 443"},
        "d": {"203.0.113.10", "203.0.113.11"},
        "dp": {"203.0.113.10 . 443", "203.0.113.11 . 443"}}
    assert owned_rules(scratch.state().ip, ip) == rules_before
    assert policy_in_force(scratch.state(), want)
    assert apply_script(scratch.state(), want, table=scratch.name).empty
    # the name goes too: its resolved elements go with it
    literal = _desired(ip, name, Mode.ALLOWLIST, NftSettings(allowed_domains=("203.0.113.10",)))
    scratch.apply(apply_script(scratch.state(), literal, table=scratch.name).text)
    assert _sets(scratch, ip) == {"s": {"203.0.113.10"}, "sp": {"203.0.113.10 . 1-65535"},
                                  "d": set(), "dp": set()}


def test_auto_merged_elements_read_back_as_in_force(scratch: Scratch) -> None:
    ip, name = "10.147.0.5", "coi-lab-1"
    # coi_s_ folds the address into the /24 and the halves into one /24; the `addr . port`
    # tuples do not overlap (the kernel refuses an element inside another there, EEXIST)
    settings = NftSettings(allowed_domains=(
        "203.0.113.0/24:443", "203.0.113.10:80", "198.51.100.0/25:443", "198.51.100.128/25:443",
        "192.0.2.7", "192.0.2.8"), hosts=(HostEntry("203.0.113.9", ("web",), (8443,)),))
    want = _desired(ip, name, Mode.ALLOWLIST, settings)
    scratch.apply(apply_script(scratch.state(), want, table=scratch.name).text)
    assert _sets(scratch, ip)["s"] == {"198.51.100.0/24", "203.0.113.0/24",
                                       "192.0.2.7-192.0.2.8"}
    # the inventory's expected sets are what the kernel holds: no drift from auto-merge
    live = {o for o in objects_of(scratch.state()) if isinstance(o, NftCoiSet)}
    assert {o for o in desired_objects(want, scratch.name) if isinstance(o, NftCoiSet)} == live
    assert policy_in_force(scratch.state(), want)
    assert apply_script(scratch.state(), want, table=scratch.name).empty


def _coi_ran(scratch: Scratch, lines: list[str]) -> None:
    text = "".join(line.replace(" ip coi ", f" ip {scratch.name} ")
                   .replace(" ip6 coi ", f" ip6 {scratch.name} ") + "\n" for line in lines)
    scratch.apply(text)


@pytest.mark.parametrize("dialect", [1, 2])
def test_an_older_coi_s_allowlist_reads_back_as_coi_s_rules(
        scratch: Scratch, dialect: int) -> None:
    """COI before the 0.12 port work (set rules without `meta l4proto`), and COI 0.9-0.10
    (one accept pair per address, no sets), installed with its own text: in force, inferred
    allowlist, nothing to rewrite."""
    ip, name = "10.147.0.5", "coi-lab-1"
    settings = NftSettings(allowed_domains=("203.0.113.0/24", "api.lab.test"))
    want = _desired(ip, name, Mode.ALLOWLIST, settings)
    older = want.older[dialect - 1]
    _coi_ran(scratch, list(coi_commands(older)))
    live = scratch.state()
    owned = owned_objects(live, ip, name)
    assert infer_mode(ip, owned.forward, [s.name for s in owned.sets],
                      ip6_drop=bool(owned.ip6)) is Mode.ALLOWLIST
    assert policy_in_force(live, want)
    assert apply_script(live, want, table=scratch.name).empty
