"""The Orphans view's keyboard flow against the lab (Pilot, real firewalld, /sys/class/net and
Incus): two orphans made for real are marked, reviewed, cleaned by the engine with progress, and
gone from firewalld and the host; nothing else moved. HOME is a tmp dir."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi_tui.eras.firewalld.access import DBusFirewall
from coi_tui.services.orphan_clean import default_sources
from coi_tui.ui.screens.orphans import OrphanReview
from tests import lab_support as lab
from tests.integration.test_orphans import direct_rule, rule_for, shared_host_view, veth_pair
from tests.unit.test_orphans_view import Host
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

IP = "10.147.0.97"
PAIR = ("vethcoitestP", "vethcoitestQ")


async def test_mark_two_review_confirm_on_the_lab(tmp_path: Path) -> None:
    lab.require_lab()
    line = " ".join(rule_for(IP))
    with direct_rule(IP), veth_pair(*PAIR):
        others = [r for r in shared_host_view(lab.direct_rules(), {IP}) if r != line]
        firewall = DBusFirewall()  # one connection for scans and the engine (it locks)
        host = Host(tmp_path, firewall, default_sources(tmp_path))
        async with host.run_test(size=(160, 40)) as pilot:
            await wait_until(lambda: bool(host.view.report.orphans), timeout=15)
            ours = {o.key for o in host.view.report.orphans
                    if o.owner == IP or PAIR[0] in o.id}
            assert len(ours) == 2
            host.view.table.focus()
            keys = [str(k.value) for k in host.view.table.rows]
            for key in ours:
                host.view.table.move_cursor(row=next(
                    i for i, k in enumerate(keys) if k.endswith(key)))
                await pilot.press("space")
            assert host.view.marked == ours
            await pilot.press("d")
            await wait_until(lambda: isinstance(host.screen, OrphanReview))
            assert {o.key for o in host.screen.items} == ours  # type: ignore[attr-defined]
            await pilot.press("y")
            await wait_until(lambda: bool(host.finished), timeout=30)
            assert host.finished[0].ok, host.finished[0]
            await wait_until(lambda: not ({o.key for o in host.view.report.orphans} & ours),
                             timeout=15)
            assert host.progress.has_text("[1/2] ok   - " + line)
            assert host.progress.has_text(f"[2/2] ok   - delete veth pair {PAIR[0]} <-> {PAIR[1]}")
        firewall.close()
        assert line not in lab.direct_rules()
        assert not Path("/sys/class/net", PAIR[0]).exists()
        assert not Path("/sys/class/net", PAIR[1]).exists()
        assert shared_host_view(lab.direct_rules(), {IP}) == others
