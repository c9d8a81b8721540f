"""The IPv6 bypass without the lab: a container's IPv6 from Incus state, when it passes the
mode's IPv4 rules (firewalld era) and when COI's `ip6 coi` drop holds it (nft era), what the
Containers view, `check` and the fix's plan make of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from coi_tui.backends.container_exec import ExecResult
from coi_tui.backends.incus import container_from_api, ipv6_of
from coi_tui.changes import Change, ChangePlanner
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.eras.nft.era import NftEra
from coi_tui.errors import BadInput
from coi_tui.keep.ipv6_off import ipv6_off_change
from coi_tui.models import (
    BackendStatus,
    CoiRule,
    Container,
    Inventory,
    Ipv6,
    Isolation,
    Mode,
    NetworkSettings,
)
from coi_tui.plans import plan_summary
from coi_tui.services.checks import ipv6_checks
from coi_tui.services.inventory import join_inventory
from coi_tui.ui.commands import commands
from coi_tui.ui.screens.containers import colour_of, container_row, detail_text
from coi_tui.ui.screens.plan_review import PlanReview
from tests.unit.fakes import FakeContainers, FakeFirewall
from tests.unit.test_config_view import app_with_config
from tests.waiting import wait_until

IP, VETH = "10.147.0.7", "veth1"
ULA, LINK = "fd42:77::1266:6aff:fe4f:2364", "fe80::1266:6aff:fe4f:2364"
INCUS = (BackendStatus("incus", True),)


def nic(*addresses: tuple[str, str], kind: str = "broadcast") -> dict[str, Any]:
    return {"type": kind, "addresses": [{"family": f, "address": a} for f, a in addresses]}


def container(ipv6: Ipv6 = Ipv6.GLOBAL, mode: str | None = "restricted",
              status: str = "Running") -> Container:
    return Container("coi-a", "default", status, IP, VETH, "incusbr0", mode, ipv6=ipv6)


@pytest.mark.parametrize(("network", "state"), [
    ({}, Ipv6.OFF),
    ({"eth0": nic(("inet", IP))}, Ipv6.OFF),
    ({"eth0": nic(("inet", IP), ("inet6", LINK))}, Ipv6.LINK_LOCAL),
    ({"eth0": nic(("inet6", LINK), ("inet6", ULA))}, Ipv6.GLOBAL),
    ({"eth0": nic(("inet6", "2001:db8::5"))}, Ipv6.GLOBAL),
    ({"eth0": nic(("inet6", f"{LINK}%eth0"))}, Ipv6.LINK_LOCAL),
    # loopback is no way out; another NIC is
    ({"lo": nic(("inet6", "::1"), kind="loopback"), "eth0": nic(("inet6", LINK))},
     Ipv6.LINK_LOCAL),
    ({"eth0": nic(("inet", IP)), "eth1": nic(("inet6", ULA))}, Ipv6.GLOBAL),
])
def test_ipv6_state_from_incus_state(network: dict[str, Any], state: Ipv6) -> None:
    assert ipv6_of(network) is state
    raw = {"name": "coi-a", "status": "Running", "state": {"network": network}}
    assert container_from_api(raw).ipv6 is state


def test_a_record_without_state_is_off() -> None:
    assert container_from_api({"name": "coi-a", "state": None}).ipv6 is Ipv6.OFF


def joined(c: Container, rules: Sequence[CoiRule] = (), era: Any = None) -> Inventory:
    return join_inventory([c], rules, {}, backends=INCUS, era=era or FirewalldEra())


@pytest.mark.parametrize(("ipv6", "mode", "bypass"), [
    (Ipv6.GLOBAL, "restricted", True),
    (Ipv6.GLOBAL, "allowlist", True),
    (Ipv6.GLOBAL, "open", False),  # nothing to pass by
    (Ipv6.GLOBAL, None, False),  # UNPROTECTED says it already
    (Ipv6.LINK_LOCAL, "restricted", False),
    (Ipv6.OFF, "restricted", False),
])
def test_firewalld_era_global_ipv6_bypasses_an_enforcing_mode(
        ipv6: Ipv6, mode: str | None, bypass: bool) -> None:
    (state,) = joined(container(ipv6, mode)).containers
    assert (state.ipv6_bypass, state.ipv6_dropped) == (bypass, False)


def coi_ip6_drop(c: Container) -> tuple[CoiRule, ...]:
    """COI's nft objects for a restricted container, the `ip6 coi` drop among them."""
    era = NftEra()
    return era.desired(c, Mode.RESTRICTED, NetworkSettings(), "10.147.0.1", {})


def test_nft_era_coi_drop_is_seen_and_still_a_bypass() -> None:
    """COI's `iifname <veth> drop` on the forward hook never matches a bridged container's
    routed packet (it comes in on the bridge): the lab's probe gets through with it."""
    c = container()
    rules = coi_ip6_drop(c)
    assert any(r.ipv == "ip6" for r in rules)
    (held,) = joined(c, rules, NftEra()).containers
    assert (held.ipv6_dropped, held.ipv6_bypass) == (True, True)
    assert "COI's ip6 drop names the veth: drops nothing" in detail_text(held, False)
    restarted = replace(c, veth="veth2")  # COI's rule still names the veth it had
    (moved,) = joined(restarted, rules, NftEra()).containers
    assert (moved.ipv6_dropped, moved.ipv6_bypass) == (False, True)


def test_containers_view_flags_it_in_the_error_colour_beside_other_flags() -> None:
    (state,) = joined(container()).containers
    state = replace(state, isolation=Isolation.OK)  # its IPv4 rules in force
    assert container_row(state)[5] == "IPv6!"
    assert colour_of("k", "flags", "IPv6!") == "error"
    drifted = replace(state, isolation=Isolation.DRIFT)
    assert container_row(drifted)[5] == "DRIFT IPv6!"
    assert colour_of("k", "flags", "DRIFT IPv6!") == "error"  # the louder of the two
    assert colour_of("k", "flags", "DRIFT") == "warning"
    assert "i turns it off" in detail_text(state, False)


def test_check_warns_per_container_with_the_fix_and_says_when_all_is_clear() -> None:
    others = [replace(container(), name="coi-b", ipv4="10.147.0.8", veth="veth8",
                      ipv6=Ipv6.LINK_LOCAL)]
    inventory = join_inventory([container(), *others], [], {}, backends=INCUS,
                               era=FirewalldEra())
    (warned,) = ipv6_checks(inventory)
    assert (warned.name, warned.level) == ("ipv6 coi-a", "warn")
    assert warned.fix.startswith("coi-tui ipv6-off coi-a")
    (clear,) = ipv6_checks(joined(container(Ipv6.OFF)))
    assert (clear.name, clear.level) == ("ipv6", "ok")
    c = container()
    (dropped,) = ipv6_checks(joined(c, coi_ip6_drop(c), NftEra()))
    assert dropped.level == "warn" and "drops nothing" in dropped.summary
    down = Inventory(backends=(BackendStatus("incus", False, "not answering"),))
    assert ipv6_checks(down) == []  # the incus check says it


class FakeShell:
    """The container's kernel as far as sysctl and cat see it."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.ran: list[list[str]] = []

    def run(self, c: Container, argv: Sequence[str]) -> ExecResult:
        self.ran.append(list(argv))
        if argv[0] == "sysctl":
            for assignment in argv[2:]:
                name, value = assignment.split("=")
                self.values["/proc/sys/" + name.replace(".", "/")] = value
            return ExecResult(0, "", "")
        return ExecResult(0, "".join(self.values.get(p, "0") + "\n" for p in argv[1:]), "")

    def close(self) -> None:
        pass


class FakeConfig:
    def __init__(self) -> None:
        self.keys: dict[str, str] = {}

    def config_value(self, c: Container, key: str) -> str | None:
        return self.keys.get(key)

    def set_config(self, c: Container, key: str, value: str | None) -> None:
        assert value is not None
        self.keys[key] = value

    def close(self) -> None:
        pass


def planned(c: Container, shell: FakeShell, config: FakeConfig,
            names: Sequence[str] = ("coi-a",)) -> Change:
    planner = ChangePlanner(FakeContainers([c]), NetworkSettings(), era=FirewalldEra())
    return ipv6_off_change(planner, names, shell=lambda: shell, config=lambda _p: config)


def test_the_plan_turns_it_off_now_then_across_restarts_and_verifies_both() -> None:
    shell, config = FakeShell({}), FakeConfig()
    change = planned(container(), shell, config)
    assert [str(line) for line in change.plan.lines()] == [
        "= incus exec coi-a -- sysctl -w net.ipv6.conf.all.disable_ipv6=1",
        "= incus exec coi-a -- sysctl -w net.ipv6.conf.default.disable_ipv6=1",
        "= incus config set coi-a linux.sysctl.net.ipv6.conf.all.disable_ipv6=1",
        "= incus config set coi-a linux.sysctl.net.ipv6.conf.default.disable_ipv6=1",
    ]
    assert plan_summary(change.plan) == ("4 step(s): 0 to add, 0 to remove, 4 to set, "
                                         "in fail-closed order")
    assert change.targets == () and change.mode is None  # no mode is recorded or forgotten
    assert all(step.verify(tuple) for step in change.plan.steps)  # nothing done yet
    for step in change.plan.steps:
        step.run(FakeFirewall())
    assert shell.values == {"/proc/sys/net/ipv6/conf/all/disable_ipv6": "1",
                            "/proc/sys/net/ipv6/conf/default/disable_ipv6": "1"}
    assert config.keys == {"linux.sysctl.net.ipv6.conf.all.disable_ipv6": "1",
                           "linux.sysctl.net.ipv6.conf.default.disable_ipv6": "1"}
    assert [p for step in change.plan.steps for p in step.verify(tuple)] == []
    shell.values["/proc/sys/net/ipv6/conf/all/disable_ipv6"] = "0"  # someone turned it on
    (problem,) = [p for step in change.plan.steps for p in step.verify(tuple)]
    assert "IPv6 is still on" in problem


def test_nothing_to_do_once_off_for_good_and_bad_names_are_one_line() -> None:
    shell, config = FakeShell({}), FakeConfig()
    config.keys = {"linux.sysctl.net.ipv6.conf.all.disable_ipv6": "1",
                   "linux.sysctl.net.ipv6.conf.default.disable_ipv6": "1"}
    assert planned(container(Ipv6.OFF), shell, config).plan.empty
    assert not planned(container(Ipv6.LINK_LOCAL), shell, config).plan.empty  # on now
    with pytest.raises(BadInput, match="no such container: coi-z"):
        planned(container(), shell, config, ["coi-z"])
    with pytest.raises(BadInput, match="coi-a is Stopped: start it first"):
        planned(container(status="Stopped"), shell, config)


async def test_i_in_the_containers_view_opens_the_plan_review(tmp_path: Path) -> None:
    app, _config = app_with_config(tmp_path, [container(mode=None)])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_until(lambda: app.containers_view.rows_list.counts[1] == 1)
        assert "Turn IPv6 off in coi-a" in {c.text for c in commands(app)}  # the palette
        app.containers_view.table.focus()
        await pilot.press("i")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=5)
        assert isinstance(app.screen, PlanReview)
        assert app.screen.plan.title == "IPv6 off in coi-a"
        assert len(app.screen.plan.lines()) == 4
        await pilot.press("n")  # cancelled: nothing runs
        await wait_until(lambda: not isinstance(app.screen, PlanReview))
