"""The Config view: COI's effective [network] settings with their sources, a form and a raw
TOML editor over the same document, live validation, ctrl+s to save."""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static, Switch, TextArea

from coi_tui.errors import CoiTuiError
from coi_tui.models import NetworkSettings
from coi_tui.services.config import ConfigEditor, Effective, Locations, load_effective, problems
from coi_tui.services.config.schema import MODES

SWITCHES = (
    ("network.block_private_networks", "block private networks"),
    ("network.block_metadata_endpoint", "block metadata endpoint"),
    ("network.allow_local_network_access", "allow local network"),
)


class ConfigLoaded(Message):
    def __init__(self, editor: ConfigEditor | None, effective: Effective | None,
                 error: str = "") -> None:
        super().__init__()
        self.editor = editor
        self.effective = effective
        self.error = error


class ConfigSaved(Message):
    """A save changed the file; `before`/`after` are the effective settings around it."""

    def __init__(self, path: Path, before: NetworkSettings, after: NetworkSettings) -> None:
        super().__init__()
        self.path = path
        self.before = before
        self.after = after


class ConfigView(Vertical):
    BINDINGS = [
        Binding("ctrl+s", "save", "Save config", id="config.save"),
        Binding("delete", "remove_domain", "Remove domain", show=False, id="config.remove"),
    ]

    def __init__(self, path: Path, locations: Locations, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.path = path
        self.locations = locations
        self.editor: ConfigEditor | None = None
        self.effective: Effective | None = None
        self._syncing = False

    def compose(self) -> ComposeResult:
        yield Static(f"editing {self.path}  (ctrl+s saves)", id="cfg-path")
        with Horizontal(id="cfg-main"):
            with VerticalScroll(id="cfg-form"):
                yield Label("mode")
                yield Select([(m, m) for m in MODES], id="cfg-mode", allow_blank=False)
                for key, text in SWITCHES:
                    with Horizontal(classes="cfg-switch"):
                        yield Switch(id=f"cfg-{key.split('.')[-1]}")
                        yield Label(text)
                yield Label("refresh interval (minutes, Enter)")
                yield Input(id="cfg-interval", type="integer")
                yield Label("allowed domains (Del removes one)")
                yield OptionList(id="cfg-domains")
                yield Input(placeholder="add a domain or IPv4, Enter", id="cfg-domain-new")
            with Vertical(id="cfg-raw-pane"):
                yield TextArea.code_editor("", id="cfg-raw")
                yield Static("", id="cfg-status")
        table: DataTable[str] = DataTable(id="cfg-effective", cursor_type="row")
        table.add_columns("effective key", "from", "value")
        yield table

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="config-io", exit_on_error=False)
    def load(self) -> None:
        try:
            editor = ConfigEditor(self.path)
            effective = load_effective(self.locations)
        except CoiTuiError as error:
            self.post_message(ConfigLoaded(None, None, str(error)))
            return
        self.post_message(ConfigLoaded(editor, effective))

    def on_config_loaded(self, message: ConfigLoaded) -> None:
        if message.editor is None:
            self._status(message.error, ok=False)
            return
        self.editor, self.effective = message.editor, message.effective
        self._show_effective()
        self._sync_from_document(raw=True)
        self._status("valid" if self.editor.path.exists() else "new file (from the template)")

    # ------------------------------------------------------------------ rendering
    def _status(self, text: str, ok: bool = True) -> None:
        status = self.query_one("#cfg-status", Static)
        status.update(text)
        status.set_class(not ok, "-invalid")

    def _show_effective(self) -> None:
        table = self.query_one("#cfg-effective", DataTable)
        table.clear()
        if self.effective is None:
            return
        for key, value in self.effective.values.items():
            table.add_row(key, self.effective.sources[key], repr(value))

    def _current(self, key: str) -> object:
        """What the form shows for a key: this file's value, else the effective one."""
        mine = self.editor.get(key) if self.editor else None
        if mine is None and self.effective is not None:
            return self.effective.values.get(key)
        return mine

    def _sync_from_document(self, raw: bool) -> None:
        """Form (and, when asked, the raw text) from the edited document."""
        assert self.editor is not None
        self._syncing = True
        try:
            value = self._current
            mode = value("network.mode")
            if mode in MODES:
                self.query_one("#cfg-mode", Select).value = str(mode)
            for key, _text in SWITCHES:
                self.query_one(f"#cfg-{key.split('.')[-1]}", Switch).value = bool(value(key))
            self.query_one("#cfg-interval", Input).value = str(
                value("network.refresh_interval_minutes")
            )
            domains = self.query_one("#cfg-domains", OptionList)
            domains.clear_options()
            listed = value("network.allowed_domains")
            domains.add_options([str(d) for d in listed] if isinstance(listed, list) else [])
            if raw:
                self.query_one("#cfg-raw", TextArea).text = self.editor.text()
        finally:
            self._syncing = False

    def _edited(self) -> None:
        """After a form edit: the raw text follows, the status says if it is still valid."""
        assert self.editor is not None
        self._syncing = True
        try:
            self.query_one("#cfg-raw", TextArea).text = self.editor.text()
        finally:
            self._syncing = False
        self._validate()

    def _validate(self) -> bool:
        assert self.editor is not None
        found = problems(self.editor.document.unwrap())
        if found:
            self._status(found[0] + (f" (+{len(found) - 1} more)" if len(found) > 1 else ""),
                         ok=False)
        else:
            self._status("valid, unsaved changes" if self.editor.changed() else "valid")
        return not found

    def _apply_form(self, action: str, *args: object) -> None:
        if self._syncing or self.editor is None:
            return
        if action == "set" and self._current(str(args[0])) == args[1]:
            return  # a widget echoing what it shows back: nothing changed
        try:
            getattr(self.editor, action)(*args)
        except CoiTuiError as error:
            self._status(str(error), ok=False)
            return
        self._edited()

    # ------------------------------------------------------------------ form events
    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "cfg-mode" and isinstance(event.value, str):
            self._apply_form("set", "network.mode", event.value)

    def on_switch_changed(self, event: Switch.Changed) -> None:
        key = next(k for k, _ in SWITCHES if event.switch.id == f"cfg-{k.split('.')[-1]}")
        self._apply_form("set", key, event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "cfg-interval":
            self._apply_form("set", "network.refresh_interval_minutes", event.value)
        elif event.input.id == "cfg-domain-new" and event.value.strip():
            self._apply_form("add", "network.allowed_domains", event.value.strip())
            event.input.value = ""
            self._sync_from_document(raw=False)

    def action_remove_domain(self) -> None:
        domains = self.query_one("#cfg-domains", OptionList)
        if domains.has_focus and domains.highlighted is not None:
            entry = str(domains.get_option_at_index(domains.highlighted).prompt)
            self._apply_form("remove", "network.allowed_domains", entry)
            self._sync_from_document(raw=False)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._syncing or self.editor is None:
            return
        try:
            self.editor.replace_text(event.text_area.text)
        except CoiTuiError as error:
            self._status(str(error), ok=False)
            return
        if self._validate():
            self._sync_from_document(raw=False)

    # ------------------------------------------------------------------ saving
    def action_save(self) -> None:
        if self.editor is None or not self._validate():
            self.app.bell()
            return
        if not self.editor.changed():
            self._status("nothing to save")
            return
        self.save()

    @work(thread=True, exclusive=True, group="config-io", exit_on_error=False)
    def save(self) -> None:
        editor = self.editor
        assert editor is not None
        try:
            before = load_effective(self.locations).settings()
            real = editor.save()
            effective = load_effective(self.locations)
        except CoiTuiError as error:
            self.app.call_from_thread(self._status, str(error), False)
            return
        self.post_message(ConfigLoaded(editor, effective))
        self.post_message(ConfigSaved(real, before, effective.settings()))
        self.app.call_from_thread(self._status, f"saved {real}")


def policy_changed(before: NetworkSettings, after: NetworkSettings) -> bool:
    """Does the change alter any running container's rules? (The interval does not.)"""
    fields = ("mode", "block_private_networks", "block_metadata_endpoint",
              "allow_local_network_access", "allowed_domains")
    return any(getattr(before, f) != getattr(after, f) for f in fields)

