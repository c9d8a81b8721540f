"""The attempt feed in COI's nft era (lab up --era nft), coi-lab-1 in allowlist mode with DNS
blocked: the refused DNS query shows with the name it asked and the rule that refused it, and
`a` on it in the Traffic view (Pilot) lets that name through after the reviewed plan: the
container reaches it by name, and "save" adds it to the config with every other byte kept.
HOME is a temp dir; coi-lab-1 is put back (`coi-tui remove`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coi_tui.services.config import load_effective
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.grant_picker import GrantPicker
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.ui.screens.traffic_view import TrafficView
from coi_tui.wiring import Scope, locations_from_env
from tests import lab_support as lab
from tests.integration.test_traffic_feed import Follow
from tests.nft_era.test_grants import CONFIG, coi_tui
from tests.waiting import wait_until

pytestmark = pytest.mark.lab

BOX = lab.CONTAINERS[0]  # coi-lab-1
NAME = f"feed-{os.getpid()}.lab.test"  # resolves in the lab, not in the allowlist
TARGET = "203.0.113.20"


def hget(target: str, timeout: int = 2) -> bool:
    return lab.run("incus", "exec", BOX, "--", "hget", "-T", str(timeout), f"http://{target}/",
                   check=False, timeout=20).returncode == 0


@pytest.fixture
def allowlisted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    lab.require_lab()
    (tmp_path / ".coi").mkdir()
    (tmp_path / ".coi" / "config.toml").write_text(CONFIG)
    monkeypatch.setenv("HOME", str(tmp_path))
    lab.dns_set(NAME, [TARGET], 300)
    lab.dns_set("api.lab.test", [lab.INTERNET_HOST], 300)  # the config's one allowed name
    done = coi_tui(tmp_path, "apply", BOX, "--mode", "allowlist")
    assert done.returncode == 0, done.stderr
    try:
        yield tmp_path
    finally:
        coi_tui(tmp_path, "allow", "--revoke", BOX, TARGET, "--yes")
        coi_tui(tmp_path, "remove", BOX)
        lab.dns_del(NAME)


def test_the_refused_dns_query_shows_with_its_name_and_the_rule(allowlisted: Path) -> None:
    follow = Follow(BOX)
    try:
        follow.started()
        assert not hget(NAME)
        _at, asked = follow.next("attempt", 5, query=NAME)
        assert (asked["verdict"], asked["why"], asked["port"], asked["to_host"]) == (
            "rejected", "DNS refused in allowlist mode", 53, True)
        assert str(asked["where"]).startswith("ip coi ")
        assert "th dport 53" in str(asked["rule"]) and "# handle" in str(asked["rule"])
        assert not hget(TARGET)
        _at, direct = follow.next_attempt(TARGET, 5)
        assert (direct["verdict"], direct["why"]) == ("rejected", "not in the allowlist")
        assert not hget(lab.LAN_HOST)
        _at, lan = follow.next_attempt(lab.LAN_HOST, 5)
        assert lan["why"] == "private range"
    finally:
        _records, err = follow.stop()
    assert "Traceback" not in err


async def test_a_on_the_refused_query_lets_the_name_through_and_saves_it(
        allowlisted: Path) -> None:
    config = allowlisted / ".coi" / "config.toml"
    locations = locations_from_env()
    app = CoiApp(real_wiring(Scope(), load_effective(locations).settings(),
                             (config, locations)))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("6")
        view = app.query_one(TrafficView)
        await wait_until(lambda: view.started and BOX in view.watching, timeout=20)
        assert not hget(NAME)
        await wait_until(lambda: any(a.query == NAME for a in view.attempts), timeout=5)
        (key,) = [k for k, a in view._keys.items() if a.query == NAME][:1]
        view.rows_list.move_to(key)
        view.rows_list.data.focus()
        await pilot.press("a")
        await wait_until(lambda: isinstance(app.screen, GrantPicker), timeout=5)
        await pilot.press("s", "u")  # save it too; until the container stops
        try:
            await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=15)
        except AssertionError:
            raise AssertionError(f"no review: {[n.message for n in app._notifications]}"
                                 ) from None
        review = app.screen
        assert isinstance(review, PlanReview)
        texts = [line.text for line in review.plan.lines()]
        assert any(TARGET in t for t in texts)
        assert not hget(NAME)  # nothing before the review says so
        await pilot.press("y")
        await wait_until(lambda: hget(NAME, timeout=1), timeout=20)
        await wait_until(lambda: config.read_text() != CONFIG, timeout=10)
    saved = config.read_text()
    # every byte of the old file is still there, in order; only the new entry is added
    added = [line for line in saved.splitlines() if line not in CONFIG.splitlines()]
    assert len(added) == 1 and NAME in added[0], saved
    assert [line for line in saved.splitlines() if line in CONFIG.splitlines()] == \
        CONFIG.splitlines()
    rc, hosts = lab.exec_in(BOX, ["cat", "/etc/hosts"])
    assert rc == 0 and NAME in hosts
