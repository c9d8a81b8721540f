"""Every action of the TUI in one table: its id, default keys, what it does and where it applies.

The table feeds the key bindings of every view and dialog, the footer, the `?` help and the
command palette, so none of them can drift from the others. The ids are the names users remap
keys by, in coi-tui's own settings file (`[keys]` in ~/.config/coi-tui/config.toml).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from textual.binding import Binding, BindingType

from coi_tui.errors import BadInput


@dataclass(frozen=True)
class Action:
    id: str  # "<where>.<name>": the binding id, and the name in [keys]
    keys: str  # Textual key names, comma-separated
    action: str  # the Textual action the key runs where it applies
    label: str  # short: the footer
    help: str  # one line: `?` and the palette
    footer: bool = True
    display: str | None = None  # how the key is shown, when its name is long
    # handled in the order keys arrive, before they go on to a widget: what follows it at once
    # (typed fast, pasted) reaches the place it opens
    priority: bool = False

    @property
    def where(self) -> str:
        return self.id.split(".", 1)[0]


# Where an action applies. "app" is everywhere; "views" is the main screen's view switcher;
# "list" is every list (table) of every view; the rest are views and dialogs.
VIEWS = ("containers", "rules", "config", "dns", "orphans", "traffic")
DIALOGS = ("plan", "mode", "offer", "clean", "quit", "help", "flows", "grant")
TITLES = {
    "app": "everywhere", "views": "switching views", "list": "in every list",
    "containers": "Containers", "rules": "Rules", "config": "Config", "dns": "DNS",
    "orphans": "Orphans", "traffic": "Traffic", "plan": "plan review", "mode": "mode picker",
    "offer": "apply offer", "clean": "orphan review", "quit": "quit question", "help": "help",
    "flows": "flows", "grant": "allow an attempt",
}

ACTIONS: tuple[Action, ...] = (
    Action("app.quit", "q", "quit", "Quit", "quit (asks first while a firewall job runs)"),
    Action("app.help", "question_mark,f1", "toggle_help", "Help",
           "this help: the keys and the words of the view at hand", display="?"),
    Action("app.palette", "colon,ctrl+p", "command_palette", "Commands",
           "the command palette: every action, per container by name", footer=False,
           display=":"),
    Action("app.refresh", "r", "refresh", "Refresh", "read containers and rules again now"),
    Action("app.pause", "p", "pause", "Pause", "pause / resume live updates", footer=False),
    Action("app.job_log", "l", "toggle_job_log", "Job log",
           "show / hide the steps of the last firewall job", footer=False),
    Action("app.cancel_job", "c", "cancel_job", "Cancel",
           "cancel the running firewall job between two steps"),
    Action("app.view.containers", "1", "view('containers')", "Containers",
           "view: containers with their IPs, modes and flags", footer=False),
    Action("app.view.rules", "2", "view('rules')", "Rules",
           "view: every live rule with its owner and state", footer=False),
    Action("app.view.config", "3", "view('config')", "Config",
           "view: COI's config.toml, edited in place", footer=False),
    Action("app.view.dns", "4", "view('dns')", "DNS",
           "view: the allowlist's names, answers and TTL countdowns", footer=False),
    Action("app.view.orphans", "5", "view('orphans')", "Orphans",
           "view: what deleted containers left behind", footer=False),
    Action("app.view.traffic", "6", "view('traffic')", "Traffic",
           "view: what the containers tried to reach, the verdict and the rule", footer=False),
    Action("views.next", "tab", "next_view", "Next view", "the next view", footer=False),
    Action("views.previous", "shift+tab", "previous_view", "Previous view", "the previous view",
           footer=False),
    Action("list.down", "j,down", "cursor_down", "Down", "cursor down", footer=False),
    Action("list.up", "k,up", "cursor_up", "Up", "cursor up", footer=False),
    Action("list.top", "g,home", "top", "Top", "first row", footer=False),
    Action("list.bottom", "G,end", "bottom", "Bottom", "last row", footer=False),
    Action("list.filter", "slash", "filter", "Filter",
           "filter as you type (!text excludes); Esc clears", display="/", priority=True),
    Action("list.clear_filter", "escape", "clear_filter", "Clear filter", "clear the filter",
           footer=False, display="esc"),
    Action("list.keep_filter", "enter", "keep_filter", "Keep filter",
           "in the filter: back to the list, the filter stays", footer=False, priority=True),
    Action("list.sort", "s", "sort", "Sort", "sort by the next column", footer=False),
    Action("list.reverse", "S", "reverse", "Reverse", "reverse the sort", footer=False),
    Action("list.copy", "y", "copy('name')", "Copy name",
           "copy the row's name to the clipboard (OSC 52: works over SSH)", footer=False),
    Action("list.copy_address", "Y", "copy('address')", "Copy address",
           "copy the row's address to the clipboard (OSC 52)", footer=False),
    Action("containers.set_mode", "m", "set_mode", "Mode",
           "pick a network mode for the container: review, then apply"),
    Action("containers.repair", "f", "repair", "Fix",
           "put the container's missing rules back (review first)"),
    Action("containers.remove_rules", "d", "remove_rules", "Remove",
           "remove the container's rules (review first)"),
    Action("containers.ipv6_off", "i", "ipv6_off", "IPv6 off",
           "turn the container's IPv6 off, now and across restarts (review first)",
           footer=False),
    Action("containers.mark", "space", "mark", "Mark",
           "mark the container and move down: m and d then act on all marked", footer=False,
           display="space"),
    Action("containers.rules", "enter", "show_rules", "Its rules",
           "the Rules view, filtered to this container", footer=False),
    Action("containers.flows", "F", "flows", "Flows",
           "the container's tracked connections (conntrack), read every 2 s"),
    Action("config.save", "ctrl+s", "save", "Save", "save config.toml (atomically, comments kept)"),
    Action("config.remove", "delete", "remove_domain", "Remove domain",
           "remove the highlighted allowed domain", footer=False),
    # a form keeps tab for its fields; 1-5 still switch views from a field that takes no text
    Action("config.next_field", "tab", "app.focus_next", "Next field", "the next field",
           footer=False),
    Action("config.previous_field", "shift+tab", "app.focus_previous", "Previous field",
           "the previous field", footer=False),
    Action("dns.refresh", "R", "refresh_dns", "Resolve now",
           "resolve the allowlist now and re-apply where it changed"),
    Action("dns.prune", "P", "prune_dns", "Prune old",
           "review taking old answers out of the allowlists (beyond COI)"),
    Action("orphans.mark", "space", "mark", "Mark", "mark the item and move down (a heading: "
           "the group)", display="space"),
    Action("orphans.mark_all", "a", "mark_all", "All",
           "mark every orphan shown (again: none)"),
    Action("orphans.clean", "d", "clean", "Clean", "review and remove the marked items"),
    Action("orphans.apply_mode", "m", "apply_mode", "Mode",
           "apply a mode to a container with inherited rules", footer=False),
    Action("traffic.grant", "a", "grant", "Allow",
           "on a REJECTED attempt: let that destination through (review first)"),
    Action("traffic.clear", "x", "clear", "Clear", "clear the list (the counts go on)",
           footer=False),
    Action("grant.ten", "1", "pick('ten')", "10 min", "let it through for 10 minutes"),
    Action("grant.hour", "h", "pick('hour')", "1 h", "let it through for an hour"),
    Action("grant.stop", "u", "pick('stop')", "Until it stops",
           "let it through until the container stops"),
    Action("grant.save", "s", "toggle_save", "Save too",
           "also save it to COI's config (allowed_domains or [[network.hosts]])"),
    Action("grant.cancel", "n,escape", "cancel", "Cancel", "let nothing through", display="n"),
    Action("plan.apply", "y", "apply", "Apply", "apply exactly the reviewed plan"),
    Action("plan.cancel", "n,escape", "cancel", "Cancel", "change nothing", display="n"),
    Action("mode.restricted", "r", "pick('restricted')", "Restricted",
           "internet yes; LAN (RFC 1918) and metadata no"),
    Action("mode.allowlist", "a", "pick('allowlist')", "Allowlist",
           "only the allowed domains, nothing else"),
    Action("mode.open", "o", "pick('open')", "Open", "no restriction at all"),
    Action("mode.cancel", "escape", "cancel", "Cancel", "change nothing", display="esc"),
    Action("offer.review", "y", "accept", "Review", "review the change for running containers"),
    Action("offer.later", "n,escape", "decline", "Not now", "keep the rules as they are",
           display="n"),
    Action("clean.confirm", "y", "clean", "Clean", "remove exactly the listed items"),
    Action("clean.cancel", "n,escape", "cancel", "Cancel", "remove nothing", display="n"),
    Action("quit.confirm", "y", "quit_now", "Quit",
           "quit now: the running job stops between two steps"),
    Action("quit.cancel", "n,escape", "cancel", "Keep running", "stay", display="n"),
    Action("help.close", "escape,question_mark,q", "close", "Close", "close the help",
           display="esc"),
    Action("flows.close", "escape", "close", "Close", "close the flows", display="esc"),
)

BY_ID = {a.id: a for a in ACTIONS}


def actions_for(where: str) -> tuple[Action, ...]:
    return tuple(a for a in ACTIONS if a.where == where)


def bindings(where: str) -> list[BindingType]:
    """The key bindings of one place, from the table."""
    return [Binding(a.keys, a.action, a.label, show=a.footer, key_display=a.display, id=a.id,
                    priority=a.priority) for a in actions_for(where)]


def keys_shown(action: Action, keymap: Mapping[str, str]) -> str:
    """The key as the user has it (remapped or not), as the footer would show it."""
    if action.id in keymap:
        return keymap[action.id].split(",")[0]
    return action.display or action.keys.split(",")[0]


def checked_keymap(keys: Mapping[str, str]) -> dict[str, str]:
    """`[keys]` of coi-tui's own settings: action id -> keys. An unknown id is an error, so a
    typo never silently leaves the old key."""
    for action_id, key in keys.items():
        if action_id not in BY_ID:
            raise BadInput(f"[keys]: unknown action {action_id!r} (the README lists the ids)")
        if not key.strip():
            raise BadInput(f"[keys]: {action_id} has an empty key")
    return dict(keys)
