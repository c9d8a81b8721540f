"""The command palette (`:` or ctrl+p): every action of the action table by name, and the
per-container ones for every container by its name ("set coi-lab-2 to open")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

from coi_tui.models import Ipv6, Mode
from coi_tui.ui.actions import ACTIONS, DIALOGS, TITLES, VIEWS, Action, keys_shown
from coi_tui.ui.screens.containers import (
    DisableIpv6Requested,
    ModeChangeRequested,
    RulesOfRequested,
    RulesRemovalRequested,
)

if TYPE_CHECKING:
    from coi_tui.ui.app import CoiApp


@dataclass(frozen=True)
class Command:
    text: str
    run: Callable[[], object]
    key: str
    action_id: str  # the action table's entry it runs


def palette_actions() -> tuple[Action, ...]:
    """Dialog keys act inside their dialog only; everything else is in the palette."""
    return tuple(a for a in ACTIONS if a.where not in DIALOGS)


def commands(app: CoiApp) -> list[Command]:
    keymap = app.wiring.keymap
    found = [Command(f"{TITLES[a.where].capitalize()}: {a.label} - {a.help}",
                     partial(run_where, app, a), keys_shown(a, keymap), a.id)
             for a in palette_actions()
             if a.where not in VIEWS or app.views.query(f"TabPane#{a.where}")]
    if app.read_only:
        return found
    by_id = {a.id: keys_shown(a, keymap) for a in ACTIONS}
    for state in app.containers_view.inventory.containers:
        name = state.container.name
        post = app.containers_view.post_message
        for mode in Mode:
            found.append(Command(f"Set {name} to {mode.value}",
                                 partial(post, ModeChangeRequested((name,), mode)),
                                 by_id["containers.set_mode"], "containers.set_mode"))
        if state.mode is not None:
            found.append(Command(f"Fix drift of {name}",
                                 partial(post, ModeChangeRequested((name,), state.mode)),
                                 by_id["containers.repair"], "containers.repair"))
        found.append(Command(f"Remove the rules of {name}",
                             partial(post, RulesRemovalRequested((name,))),
                             by_id["containers.remove_rules"], "containers.remove_rules"))
        if state.container.ipv6 is not Ipv6.OFF:
            found.append(Command(f"Turn IPv6 off in {name}",
                                 partial(post, DisableIpv6Requested((name,))),
                                 by_id["containers.ipv6_off"], "containers.ipv6_off"))
        found.append(Command(f"Show the rules of {name}", partial(post, RulesOfRequested(name)),
                             by_id["containers.rules"], "containers.rules"))
    return found


def run_where(app: CoiApp, action: Action) -> Any:
    """Run an action where it applies: its view comes to the front first."""
    target: DOMNode = app
    if action.where == "views":
        target = app.views
    elif action.where == "list":
        lists = app.views.query(f"TabPane#{app.views.active} ListTable")
        if not lists:
            app.notify("no list in this view", severity="warning")
            return None
        target = lists.first()
    elif action.where in VIEWS:
        app.action_view(action.where)
        target = app.views.query_one(f"TabPane#{action.where}").children[0]
    return app.run_action(action.action, target)


class CoiCommands(Provider):
    def _commands(self) -> list[Command]:
        return commands(self.app)  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.text, command.run, help=f"key: {command.key}")

    async def search(self, query: str) -> AsyncIterator[Hit]:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.text)
            if score > 0:
                yield Hit(score, matcher.highlight(command.text), command.run,
                          help=f"key: {command.key}")
