"""The Config view: COI's effective [network] settings with their sources, a form and a raw
TOML editor over the same document, live validation, ctrl+s to save.

Mount it as `ConfigView(path, locations)`: `path` is the file to edit, `locations` where COI
looks (a file outside COI's search order counts as the top layer, as `--config` does). File
reads and writes run in a thread worker; after a save that changed the effective settings it
posts `ConfigSaved`.
"""

from __future__ import annotations

from pathlib import Path

from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Input, Label, OptionList, Select, Static, Switch, TextArea

from coi_tui.errors import CoiTuiError
from coi_tui.models import NetworkSettings
from coi_tui.services.config import ConfigEditor, ConfigError, Effective, Locations, load_effective
from coi_tui.services.config.layers import read_config_text
from coi_tui.services.config.schema import MODES, POLICY_KEYS, as_toml
from coi_tui.ui.actions import bindings

SWITCHES = (
    ("network.block_private_networks", "block private networks"),
    ("network.block_metadata_endpoint", "block metadata endpoint"),
    ("network.allow_local_network_access", "allow local network"),
    ("network.use_sudo", "use sudo (nft era)"),
)


class ConfigLoaded(Message):
    """From the load worker: an editor, or the error and the raw text to fix it in."""

    def __init__(self, editor: ConfigEditor | None, effective: Effective | None,
                 inherited: Effective | None, error: str = "", raw: str | None = None,
                 note: str = "") -> None:
        super().__init__()
        self.editor = editor
        self.effective = effective
        self.inherited = inherited
        self.error = error
        self.raw = raw
        self.note = note


class ConfigSaved(Message):
    """A save changed the effective settings: which keys, and the settings around it."""

    def __init__(self, path: Path, changed_keys: tuple[str, ...], before: NetworkSettings,
                 after: NetworkSettings) -> None:
        super().__init__()
        self.path = path
        self.changed_keys = changed_keys
        self.before = before
        self.after = after

    @property
    def policy_changed(self) -> bool:
        """Does it alter any container's rules? (The refresh interval does not.)"""
        return any(key in POLICY_KEYS for key in self.changed_keys)


def policy_changed(before: NetworkSettings, after: NetworkSettings) -> bool:
    """Does the change alter any container's rules? (The refresh interval does not.)"""
    fields = [key.split(".", 1)[1] for key in POLICY_KEYS]
    return any(getattr(before, f) != getattr(after, f) for f in fields)


class ConfigView(Vertical):
    BINDINGS = bindings("config")

    def __init__(self, path: Path, locations: Locations, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.path = path
        self.locations = locations.including(path)
        self.editor: ConfigEditor | None = None
        self.effective: Effective | None = None
        self.inherited: Effective | None = None
        self._on_disk: str | None = None  # a file that did not parse, until it is fixed
        self._syncing = False

    def compose(self) -> ComposeResult:
        yield Static(f"editing {self.path}  (ctrl+s saves)", id="cfg-path")
        with Horizontal(id="cfg-main"):
            with VerticalScroll(id="cfg-form"):
                yield Label("mode")
                yield Select([(m, m) for m in MODES], id="cfg-mode", allow_blank=False,
                             compact=True)
                for key, text in SWITCHES:
                    with Horizontal(classes="cfg-switch"):
                        yield Switch(id=f"cfg-{key.split('.')[-1]}")
                        yield Label(text)
                yield Label("refresh interval (minutes, Enter)")
                yield Input(id="cfg-interval", type="integer", compact=True)
                yield Label("allowed domains (Del removes one)")
                yield OptionList(id="cfg-domains")
                yield Input(placeholder="add a domain or IPv4, Enter", id="cfg-domain-new",
                            compact=True)
            with Vertical(id="cfg-raw-pane"):
                yield TextArea.code_editor("", language="toml", id="cfg-raw")
                yield Static("", id="cfg-status")
        table: DataTable[str] = DataTable(id="cfg-effective", cursor_type="row")
        table.add_columns("effective key", "value", "from")  # the value before a long path
        yield table

    def on_mount(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="config-io", exit_on_error=False)
    def load(self) -> None:
        try:
            inherited = load_effective(self.locations, below=self.path)
            raw = read_config_text(self.path)
        except CoiTuiError as error:
            self.post_message(ConfigLoaded(None, None, None, str(error)))
            return
        try:
            editor = ConfigEditor(self.path, raw, inherited=inherited)
        except ConfigError as error:  # show the text so that it can be fixed here
            self.post_message(ConfigLoaded(None, None, inherited, str(error), raw))
            return
        try:
            effective: Effective | None = load_effective(self.locations)
            error_text = ""
        except ConfigError as error:  # this file is fine, another layer is not
            effective, error_text = None, str(error)
        self.post_message(ConfigLoaded(editor, effective, inherited, error_text))

    def on_config_loaded(self, message: ConfigLoaded) -> None:
        self.inherited = message.inherited
        if message.editor is None:
            self._status(message.error, ok=False)
            if message.raw is not None:
                self._on_disk = message.raw
                self._set_raw(message.raw)
            return
        first = self.editor is None
        self.editor, self.effective, self._on_disk = message.editor, message.effective, None
        self._show_effective()
        self._sync_from_document(raw=True)
        if first:  # open the raw text where the [network] settings are
            lines = self.editor.text().splitlines()
            at = next((i for i, line in enumerate(lines) if line.strip() == "[network]"), 0)
            self.query_one("#cfg-raw", TextArea).scroll_to(y=at, animate=False)
        if message.error:
            self._status(message.error, ok=False)
        elif message.note:
            self._status(message.note)
        else:
            self._status("valid" if self.editor.original is not None
                         else "new file (from the template)")

    # ------------------------------------------------------------------ rendering
    def _status(self, text: str, ok: bool = True) -> None:
        status = self.query_one("#cfg-status", Static)
        status.update(text)
        status.set_class(not ok, "-invalid")

    def _set_raw(self, text: str) -> None:
        self._syncing = True
        try:
            self.query_one("#cfg-raw", TextArea).text = text
        finally:
            self._syncing = False

    def _show_effective(self) -> None:
        table = self.query_one("#cfg-effective", DataTable)
        table.clear()
        if self.effective is None:
            return
        for key, value in self.effective.values.items():
            table.add_row(key, as_toml(value), self.effective.sources[key])

    def _current(self, key: str) -> object:
        """What the form shows for a key: this file's value, else the one it inherits."""
        mine = self.editor.get(key) if self.editor else None
        if mine is None and self.inherited is not None:
            return self.inherited.values.get(key)
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

    def _validate(self) -> bool:
        assert self.editor is not None
        found = self.editor.problems()
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
        self._set_raw(self.editor.text())
        self._validate()

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
            if self.editor is not None:
                self._sync_from_document(raw=False)

    def action_remove_domain(self) -> None:
        domains = self.query_one("#cfg-domains", OptionList)
        if domains.has_focus and domains.highlighted is not None and self.editor is not None:
            entry = str(domains.get_option_at_index(domains.highlighted).prompt)
            self._apply_form("remove", "network.allowed_domains", entry)
            self._sync_from_document(raw=False)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._syncing:
            return
        text = event.text_area.text
        if self.editor is not None and text == self.editor.text():
            return  # the echo of a text we set (Changed arrives after _syncing is over)
        try:
            if self.editor is None:
                if self._on_disk is None:
                    return  # nothing loaded (an unreadable file): nothing to edit
                self.editor = ConfigEditor(self.path, self._on_disk, text=text,
                                           inherited=self.inherited)
            else:
                self.editor.replace_text(text)
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
            before: Effective | None = load_effective(self.locations)
        except ConfigError:  # e.g. this very file was broken: the save fixes it
            before = None
        try:
            real = editor.save()
        except CoiTuiError as error:
            self.app.call_from_thread(self._status, str(error), False)
            return
        try:
            after = load_effective(self.locations)
        except ConfigError as error:  # another layer is broken
            self.post_message(ConfigLoaded(editor, None, self.inherited,
                                           f"saved {real}, but COI cannot read it all: {error}"))
            return
        self.post_message(ConfigLoaded(editor, after, self.inherited, note=f"saved {real}"))
        changed = before.changed_keys(after) if before else POLICY_KEYS
        if changed:
            # COI's defaults stand in for settings that could not be read before
            old = before.settings() if before else NetworkSettings()
            self.post_message(ConfigSaved(real, changed, old, after.settings()))
