"""In-place edits of one COI config file with tomlkit: comments and layout survive, untouched
lines stay byte-identical, and nothing invalid is ever written."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array

from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.layers import Effective, read_config_text
from coi_tui.services.config.save import atomic_write
from coi_tui.services.config.schema import Key, hostname_or_ipv4_problem, key_named
from coi_tui.services.config.template import TEMPLATE
from coi_tui.services.config.validate import check, parse_toml, problems


class ConfigEditor:
    """One file being edited; no I/O but `load` and `save`.

    `original` is the text on disk when loaded (None: no file yet, the document starts from the
    commented template). `inherited` is the effective config of the layers below this file: a
    list the file lacks starts from the list in force there, since COI's lists replace.
    """

    def __init__(self, path: Path, original: str | None, text: str | None = None,
                 inherited: Effective | None = None) -> None:
        self.path = path
        self.original = original
        self.inherited = inherited
        self._start = TEMPLATE if original is None else original
        self.document = parse_toml(self._start if text is None else text, str(path))

    @classmethod
    def load(cls, path: Path, create: bool = True,
             inherited: Effective | None = None) -> ConfigEditor:
        original = read_config_text(path)
        if original is None and not create:
            raise ConfigError(f"{path}: no such config file")
        return cls(path, original, inherited=inherited)

    # ------------------------------------------------------------------ reading
    def text(self) -> str:
        return tomlkit.dumps(self.document)

    def get(self, name: str) -> Any:
        """This file's value of the key, None if the file does not set it."""
        node: Any = self.document
        for part in key_named(name).name.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node.unwrap() if hasattr(node, "unwrap") else node

    def problems(self) -> list[str]:
        return problems(self.document.unwrap())

    # ------------------------------------------------------------------ editing
    def _table(self, key: Key) -> MutableMapping[str, Any]:
        node: MutableMapping[str, Any] = self.document
        for part in key.name.split(".")[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            child = node[part]
            if not isinstance(child, MutableMapping):
                raise ConfigError(f"{key.name}: {part} is not a table in {self.path}")
            node = child
        return node

    def set(self, name: str, value: Any) -> None:
        key = key_named(name)
        if key.kind is list:
            raise ConfigError(f"{key.name}: a list; use `add` and `remove` for its entries")
        if isinstance(value, str) and key.kind is not str:
            try:
                value = key.parse(value)
            except ValueError as error:
                raise ConfigError(f"{key.name}: {error}") from None
        self._table(key)[key.name.rsplit(".", 1)[1]] = value

    def _entries(self, key: Key) -> list[Any]:
        """The list as this file would have it: its own, else the one in force below it."""
        if key.kind is not list:
            raise ConfigError(f"{key.name}: not a list; use `set`")
        mine = self.get(key.name)
        if mine is None:
            return list(self.inherited.values[key.name]) if self.inherited else []
        if not isinstance(mine, list):
            raise ConfigError(f"{key.name}: expected an array in {self.path}, got {mine!r}")
        return mine

    def _array(self, key: Key) -> Array:
        table = self._table(key)
        leaf = key.name.rsplit(".", 1)[1]
        if leaf not in table:
            array = tomlkit.array()
            array.multiline(True)
            if self.inherited and (seed := self.inherited.values[key.name]):
                source = self.inherited.sources[key.name]
                array.add_line(comment=f"copied from {source}: a list here replaces that one")
                array.add_line(*seed)
            table[leaf] = array
        array = table[leaf]
        assert isinstance(array, Array)  # _entries refused anything else
        return array

    def add(self, name: str, value: str) -> None:
        key = key_named(name)
        if (problem := hostname_or_ipv4_problem(value)) is not None:
            raise ConfigError(f"{key.name}: {value!r} is {problem}")
        if value.lower() in (str(v).lower() for v in self._entries(key)):
            raise ConfigError(f"{key.name}: {value!r} is already listed")
        array = self._array(key)
        if len(array) and "\n" in array.as_string():
            array.add_line(value)
        else:
            array.append(value)

    def remove(self, name: str, value: str) -> None:
        key = key_named(name)
        if value not in self._entries(key):
            raise ConfigError(f"{key.name}: {value!r} is not in the list")
        self._array(key).remove(value)

    def replace_text(self, text: str) -> None:
        """The raw editor's whole new text (validated like any edit)."""
        self.document = parse_toml(text, str(self.path))

    # ------------------------------------------------------------------ saving
    def validate(self) -> None:
        text = self.text()
        reparsed = parse_toml(text, str(self.path))
        if reparsed.unwrap() != self.document.unwrap():  # tomlkit layout bugs: refuse
            raise ConfigError(f"{self.path}: the edit would not read back as written; not saved")
        check(reparsed.unwrap(), str(self.path))

    def changed(self) -> bool:
        return self.text() != self._start

    def save(self) -> Path:
        """Validate, then write atomically; returns the real path written (a link's target)."""
        self.validate()
        if read_config_text(self.path) != self.original:
            raise ConfigError(f"{self.path}: changed on disk since it was loaded; reload first")
        text = self.text()
        real = atomic_write(self.path, text)
        self.original = self._start = text
        return real
