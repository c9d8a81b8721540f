"""`?`: coi-tui's own help for the view at hand: its keys, then what its words mean, one line
each, from the action table (so it shows the keys as the user remapped them)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from textual.app import ComposeResult
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from coi_tui.ui.actions import TITLES, Action, actions_for, bindings, keys_shown

KEY_WIDTH = 9


def help_lines(view: str, legend: Sequence[tuple[str, str]], places: Sequence[str],
               keymap: Mapping[str, str]) -> list[tuple[str, str]]:
    """(kind, text) rows: "head" for a heading, "line" for a key or a word. The view's own
    keys and words come first: at 80x24 they are what shows without scrolling."""
    rows: list[tuple[str, str]] = []

    def keys_of(place: str) -> None:
        actions = actions_for(place)
        if actions:
            rows.append(("head", f"keys {TITLES[place]}"))
            rows.extend(("line", key_line(a, keymap)) for a in actions)

    keys_of(view)
    if legend:
        rows.append(("head", "what the words mean"))
        rows.extend(("line", f"{word:<12} {meaning}") for word, meaning in legend)
    for place in places:
        keys_of(place)
    return rows


def key_line(action: Action, keymap: Mapping[str, str]) -> str:
    return f"{keys_shown(action, keymap):<{KEY_WIDTH}} {action.help}"


class HelpScreen(ModalScreen[None]):
    BINDINGS = bindings("help")

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen #help-dialog { width: 100%; max-width: 110; height: 100%; max-height: 40;
        border: round $primary; background: $surface; padding: 0 1; }
    HelpScreen #help-title { text-style: bold; }
    HelpScreen #help-body { height: 1fr; }
    HelpScreen #help-body Static { text-wrap: nowrap; text-overflow: ellipsis; }
    HelpScreen .help-head { color: $accent; text-style: bold; }
    HelpScreen #help-hint { color: $text-muted; height: 1; }
    """

    def __init__(self, title: str, view: str, legend: Sequence[tuple[str, str]] = (),
                 places: Sequence[str] = ("app", "views"),
                 keymap: Mapping[str, str] | None = None) -> None:
        super().__init__()
        self.title_text = title
        self.rows = help_lines(view, legend, places, keymap or {})

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog"):
            yield Label(f"coi-tui help: {self.title_text}", id="help-title")
            with VerticalScroll(id="help-body"):
                for kind, text in self.rows:
                    yield Static(text, classes=f"help-{kind}", markup=False)
            yield Label("arrows scroll · esc or ? closes · : every action by name",
                        id="help-hint")

    def on_mount(self) -> None:
        self.query_one("#help-body").focus()

    def action_close(self) -> None:
        self.dismiss(None)
