"""The Config view (Pilot): edits in the form or the raw editor, ctrl+s, the file changes only
where intended, `ConfigSaved` names the changed keys; in the app the apply offer follows."""

from __future__ import annotations

import difflib
from pathlib import Path

from textual.app import App, ComposeResult
from textual.widgets import Input, OptionList, Select, Static, TextArea

from coi_tui.changes import ChangePlanner
from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.keep.keeper import KeeperParts
from coi_tui.models import Container, Mode, NetworkSettings
from coi_tui.services.config import Locations
from coi_tui.services.inventory import InventorySource
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.screens.apply_offer import ApplyOffer
from coi_tui.ui.screens.config_view import ConfigSaved, ConfigView
from coi_tui.ui.screens.plan_review import PlanReview
from tests.unit.fakes import FakeContainers, FakeFirewall
from tests.waiting import wait_until

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"

FIREWALLD = FirewalldEra()


def app_with_config(tmp_path: Path, containers: list[Container] | None = None,
                    keymap: dict[str, str] | None = None) -> tuple[CoiApp, Path]:
    """The app on fakes with a real config file (by default one container, coi-a)."""
    config = tmp_path / "home" / ".coi" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_bytes(SAMPLE.read_bytes())
    locations = Locations(home=tmp_path / "home", cwd=tmp_path, env={},
                          etc=tmp_path / "etc.toml")
    running = Container("coi-a", "default", "Running", "10.147.0.7", "veth1", "incusbr0",
                        "restricted")
    fake, firewall = FakeContainers(containers or [running]), FakeFirewall()
    wiring = Wiring(
        KeeperParts(
            make_source=lambda: InventorySource(lambda: fake, lambda: firewall, dict,
                                                era=FIREWALLD),
            make_planner=lambda settings: ChangePlanner(fake, settings, era=FIREWALLD),
            make_firewall=lambda: firewall),
        settings=NetworkSettings(),
        config=(config, locations),
        keymap=keymap or {},
    )
    return CoiApp(wiring, poll_interval=0.2), config


async def test_mode_change_saved_from_the_form_then_offered_then_reviewed(
    tmp_path: Path,
) -> None:
    app, config = app_with_config(tmp_path)
    before = config.read_text()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("3")
        view = app.query_one(ConfigView)
        await wait_until(lambda: view.editor is not None)
        app.query_one("#cfg-mode", Select).value = "open"
        await wait_until(lambda: 'mode = "open"' in app.query_one("#cfg-raw", TextArea).text)
        await pilot.press("ctrl+s")
        await wait_until(lambda: config.read_text() != before)
        assert config.read_text() == before.replace('mode = "restricted"', 'mode = "open"')
        await wait_until(lambda: isinstance(app.screen, ApplyOffer), timeout=5)
        assert app.screen.focused is not None and app.screen.focused.id == "offer-later"
        await pilot.press("y")
        await wait_until(lambda: isinstance(app.screen, PlanReview), timeout=5)
        review = app.screen
        assert isinstance(review, PlanReview)
        assert review.plan.title == "open for coi-a"


async def test_an_invalid_raw_edit_is_flagged_and_never_saved(tmp_path: Path) -> None:
    app, config = app_with_config(tmp_path)
    before = config.read_bytes()
    async with app.run_test(size=(140, 45)) as pilot:
        await pilot.press("3")
        view = app.query_one(ConfigView)
        await wait_until(lambda: view.editor is not None)
        raw = app.query_one("#cfg-raw", TextArea)
        raw.text = raw.text.replace('mode = "restricted"', 'mode = "strict"')
        await wait_until(lambda: "'strict'" in str(app.query_one("#cfg-status").render()))
        await pilot.press("ctrl+s")
        await pilot.pause(0.3)
        assert config.read_bytes() == before


# ------------------------------------------------------------------ the view on its own
class ViewHost(App[None]):
    """Mounts the view as the app shell does, and keeps every message the app receives."""

    def __init__(self, path: Path, locations: Locations) -> None:
        super().__init__()
        self.view = ConfigView(path, locations, id="config-view")
        self.saved: list[ConfigSaved] = []

    def compose(self) -> ComposeResult:
        yield self.view

    def on_config_saved(self, message: ConfigSaved) -> None:
        self.saved.append(message)


def host(tmp_path: Path, text: bytes = SAMPLE.read_bytes()) -> tuple[ViewHost, Path]:
    locations = Locations(home=tmp_path / "home", cwd=tmp_path / "work", env={},
                          etc=tmp_path / "etc.toml")
    path = locations.default_edit_target()
    path.parent.mkdir(parents=True)
    path.write_bytes(text)
    return ViewHost(path, locations), path


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  n=0, lineterm="")
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


async def test_a_mode_set_in_the_form_is_saved_and_announced(tmp_path: Path) -> None:
    app, path = host(tmp_path)
    before = path.read_text()
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: app.view.editor is not None)
        app.query_one("#cfg-mode", Select).focus()
        app.query_one("#cfg-mode", Select).value = "allowlist"
        await wait_until(lambda: 'mode = "allowlist"' in app.query_one("#cfg-raw", TextArea).text)
        await pilot.press("ctrl+s")
        await wait_until(lambda: bool(app.saved))
    assert changed_lines(before, path.read_text()) == [
        '-mode = "restricted"  # restricted | open | allowlist',
        '+mode = "allowlist"  # restricted | open | allowlist',
    ]
    [saved] = app.saved
    assert saved.path == path and saved.changed_keys == ("network.mode",)
    assert saved.policy_changed
    assert (saved.before.mode, saved.after.mode) == (Mode.RESTRICTED, Mode.ALLOWLIST)


async def test_domains_added_and_removed_in_the_form_change_only_their_lines(
    tmp_path: Path,
) -> None:
    app, path = host(tmp_path)
    before = path.read_text()
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: app.view.editor is not None)
        app.query_one("#cfg-domain-new", Input).focus()
        await pilot.press(*"github.com", "enter")
        domains = app.query_one("#cfg-domains", OptionList)
        await wait_until(lambda: domains.option_count == 6)
        domains.focus()
        domains.highlighted = 2  # registry.npmjs.org
        await pilot.press("delete")
        await wait_until(lambda: domains.option_count == 5)
        await pilot.press("ctrl+s")
        await wait_until(lambda: bool(app.saved))
    assert changed_lines(before, path.read_text()) == [
        '-    "registry.npmjs.org",   # npm package registry',
        '+    "github.com",',
    ]
    assert app.saved[0].changed_keys == ("network.allowed_domains",)


async def test_an_interval_change_is_announced_as_no_policy_change(tmp_path: Path) -> None:
    app, path = host(tmp_path)
    async with app.run_test(size=(140, 45)) as pilot:
        await wait_until(lambda: app.view.editor is not None)
        interval = app.query_one("#cfg-interval", Input)
        await wait_until(lambda: interval.value == "30")  # the form shows the file
        interval.focus()
        interval.value = "10"
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(lambda: "= 10  #" in app.query_one("#cfg-raw", TextArea).text)
        await pilot.press("ctrl+s")
        await wait_until(lambda: bool(app.saved))
    assert "refresh_interval_minutes = 10  # IP refresh interval" in path.read_text()
    assert app.saved[0].changed_keys == ("network.refresh_interval_minutes",)
    assert not app.saved[0].policy_changed


async def test_a_malformed_file_is_shown_raw_fixed_there_and_saved(tmp_path: Path) -> None:
    app, path = host(tmp_path, b'# mine\n[network]\nmode = "open\n')
    async with app.run_test(size=(140, 45)) as pilot:
        status = app.query_one("#cfg-status", Static)
        raw = app.query_one("#cfg-raw", TextArea)
        await wait_until(lambda: "line 3, column" in str(status.render()))
        assert raw.text == '# mine\n[network]\nmode = "open\n'
        raw.focus()
        await pilot.press("ctrl+s")  # still broken: refused
        raw.text = '# mine\n[network]\nmode = "open"\n'
        await wait_until(lambda: app.view.editor is not None)
        await pilot.press("ctrl+s")
        await wait_until(lambda: bool(app.saved))
    assert path.read_text() == '# mine\n[network]\nmode = "open"\n'
    assert app.saved[0].after.mode is Mode.OPEN
