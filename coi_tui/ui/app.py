"""The coi-tui application shell: header, backend banner, the views, footer with key hints."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Header, TabbedContent, TabPane

from coi_tui.models import Inventory
from coi_tui.services.inventory import InventorySource
from coi_tui.services.poller import InventoryPoller
from coi_tui.ui.messages import InventoryUpdated
from coi_tui.ui.paths import stylesheets
from coi_tui.ui.screens.containers import ContainersView
from coi_tui.ui.screens.rules import RulesView
from coi_tui.ui.widgets.banner import BackendBanner


class Watcher(Protocol):
    """Something that calls a wake-up callback from its own thread (events, signals)."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


WatcherFactory = Callable[[Callable[..., None]], Sequence[Watcher]]


class CoiApp(App[int]):
    TITLE = "coi-tui"
    SUB_TITLE = "network isolation of code-on-incus containers"
    CSS_PATH = stylesheets()
    BINDINGS = [
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("question_mark,f1", "toggle_help", "Help", key_display="?", id="app.help"),
        Binding("r", "refresh", "Refresh", id="app.refresh"),
        Binding("p", "pause", "Pause", id="app.pause"),
        Binding("1", "view('containers')", "Containers", show=False, id="app.view.containers"),
        Binding("2", "view('rules')", "Rules", show=False, id="app.view.rules"),
    ]

    def __init__(
        self,
        make_source: Callable[[], InventorySource],
        watchers: WatcherFactory = lambda wake: (),
        *,
        read_only: bool = False,
        poll_interval: float = 2.0,
    ) -> None:
        super().__init__()
        self._make_source = make_source
        self._make_watchers = watchers
        self._poll_interval = poll_interval
        self.read_only = read_only
        self.inventory = Inventory()
        self._poller: InventoryPoller | None = None
        self._watchers: Sequence[Watcher] = ()
        self._paused = False

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield BackendBanner(id="banner")
        with TabbedContent(id="views", initial="containers"):
            with TabPane("Containers [1]", id="containers"):
                yield ContainersView(id="containers-view")
            with TabPane("Rules [2]", id="rules"):
                yield RulesView(id="rules-view")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(BackendBanner).display = False
        # Backends are slow and blocking: build and run them off the UI thread.
        self.run_worker(self._start_polling, thread=True, group="poll", exit_on_error=False)

    def _start_polling(self) -> None:
        def publish(inventory: Inventory) -> None:
            self.post_message(InventoryUpdated(inventory))

        poller = InventoryPoller(self._make_source(), publish, interval=self._poll_interval)
        self._poller = poller
        poller.start()
        self._watchers = self._make_watchers(poller.wake)
        for watcher in self._watchers:
            watcher.start()

    def on_inventory_updated(self, message: InventoryUpdated) -> None:
        self.inventory = message.inventory
        self.query_one(BackendBanner).show_status(message.inventory.backends)
        self.query_one(ContainersView).show_inventory(message.inventory)
        self.query_one(RulesView).show_inventory(message.inventory)

    def action_refresh(self) -> None:
        if self._poller is not None:
            self._poller.wake()

    def action_pause(self) -> None:
        self._paused = not self._paused
        if self._poller is not None:
            self._poller.pause(self._paused)
        self.sub_title = "PAUSED" if self._paused else type(self).SUB_TITLE

    def action_view(self, view: str) -> None:
        self.query_one(TabbedContent).active = view

    def action_toggle_help(self) -> None:
        if self.screen.query("HelpPanel"):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()

    async def on_unmount(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
        if self._poller is not None:
            self._poller.stop()
