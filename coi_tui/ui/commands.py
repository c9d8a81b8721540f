"""The command palette (ctrl+p): every action by name, aware of the selected container."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from coi_tui.models import Mode

if TYPE_CHECKING:
    from coi_tui.ui.app import CoiApp


class CoiCommands(Provider):
    def _commands(self) -> list[tuple[str, Callable[[], object], str]]:
        app: CoiApp = self.app  # type: ignore[assignment]
        commands: list[tuple[str, Callable[[], object], str]] = [
            ("View: Containers", partial(app.action_view, "containers"), "1"),
            ("View: Rules", partial(app.action_view, "rules"), "2"),
            ("View: Config", partial(app.action_view, "config"), "3"),
            ("Refresh now", app.action_refresh, "r"),
            ("Pause / resume live updates", app.action_pause, "p"),
        ]
        state = app.containers_view.selected()
        if state is not None and not app.read_only:
            name = state.container.name
            for mode in Mode:
                commands.append((f"Set {name} to {mode.value}",
                                 partial(app.plan_mode_change, name, mode), "m"))
            commands.append((f"Fix drift of {name}", app.action_repair, "f"))
            commands.append((f"Remove the rules of {name}", app.action_remove_rules, "d"))
        if app.engine is not None and app.engine.busy:
            commands.append(("Cancel the running firewall job", app.action_cancel_job, "c"))
        return commands

    async def discover(self) -> Hits:
        for name, run, key in self._commands():
            yield DiscoveryHit(name, run, help=f"key: {key}")

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for name, run, key in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), run, help=f"key: {key}")
