"""UI states the lab cannot produce on demand: cursor stability, the banner and its recovery."""

from __future__ import annotations

from coi_tui.eras.firewalld.era import FirewalldEra
from coi_tui.keep.keeper import KeeperParts
from coi_tui.services.inventory import InventorySource
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.widgets.banner import BackendBanner
from tests.unit.fakes import FakeContainers, FakeFirewall, lab_like_container
from tests.waiting import wait_until

FIREWALLD = FirewalldEra()


def app_on(containers: FakeContainers, firewall: FakeFirewall) -> CoiApp:
    source = Wiring(KeeperParts(
        lambda: InventorySource(lambda: containers, lambda: firewall, lambda: {}, era=FIREWALLD)))
    return CoiApp(source, poll_interval=0.05)


def selected_name(view: ContainersView) -> str | None:
    state = view.selected()
    return state.container.name if state else None


async def test_cursor_stays_on_its_container_when_a_row_above_disappears() -> None:
    containers = FakeContainers(
        [lab_like_container(f"coi-lab-{i}", f"10.147.0.{100 + i}") for i in (1, 2, 3)]
    )
    app = app_on(containers, FakeFirewall())
    async with app.run_test() as pilot:
        view = app.query_one(ContainersView)
        await wait_until(lambda: view.table.row_count == 3)
        view.table.focus()
        await pilot.press("j", "j")
        await wait_until(lambda: selected_name(view) == "coi-lab-3")
        containers.containers.pop(0)
        await wait_until(lambda: view.table.row_count == 2)
        assert selected_name(view) == "coi-lab-3"


async def test_a_backend_going_away_shows_a_banner_and_its_return_hides_it() -> None:
    containers = FakeContainers([lab_like_container("coi-lab-1", "10.147.0.101")])
    app = app_on(containers, FakeFirewall())
    async with app.run_test():
        banner = app.query_one(BackendBanner)
        view = app.query_one(ContainersView)
        await wait_until(lambda: view.table.row_count == 1)
        assert not banner.display
        containers.down = "Incus socket /var/lib/incus/unix.socket refused the connection"
        await wait_until(lambda: banner.display)
        assert "incus unavailable" in str(banner.render())
        containers.down = None
        await wait_until(lambda: not banner.display)
        assert view.table.row_count == 1


async def test_the_last_known_containers_stay_listed_while_incus_is_away() -> None:
    containers = FakeContainers([lab_like_container("coi-lab-1", "10.147.0.101")])
    app = app_on(containers, FakeFirewall())
    async with app.run_test():
        banner = app.query_one(BackendBanner)
        view = app.query_one(ContainersView)
        await wait_until(lambda: view.table.row_count == 1)
        containers.down = "Incus socket not found"
        await wait_until(lambda: bool(banner.display))
        assert view.table.row_count == 1


async def test_a_broken_config_is_a_banner_and_the_views_still_show_the_containers() -> None:
    containers = FakeContainers([lab_like_container("coi-lab-1", "10.147.0.101")])
    wiring = Wiring(KeeperParts(lambda: InventorySource(lambda: containers, FakeFirewall, dict,
                                                        era=FIREWALLD)),
                    config_problem="config not used (line 2: bad); showing COI's built-in "
                                   "defaults")
    app = CoiApp(wiring, poll_interval=0.05)
    async with app.run_test():
        banner = app.query_one(BackendBanner)
        await wait_until(lambda: bool(banner.display))
        assert "config not used (line 2: bad)" in str(banner.render())
        assert "Config view" in str(banner.render()) and not banner.has_class("-exposed")
        assert app.query_one(ContainersView).table.row_count == 1
