"""In-place edits of one COI config file with tomlkit: comments and layout survive, untouched
lines stay byte-identical, and nothing invalid is ever written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import Array, Table

from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.save import atomic_write
from coi_tui.services.config.schema import Key, hostname_or_ipv4_problem, key_named
from coi_tui.services.config.template import TEMPLATE
from coi_tui.services.config.validate import check, parse_toml


class ConfigEditor:
    def __init__(self, path: Path, create: bool = True) -> None:
        self.path = path
        if path.exists():
            self.original = path.read_bytes().decode("utf-8")
        elif create:
            self.original = ""
        else:
            raise ConfigError(f"{path}: no such config file")
        self.document = parse_toml(self.original or TEMPLATE, str(path))

    # ------------------------------------------------------------------ reading
    def text(self) -> str:
        return tomlkit.dumps(self.document)

    def get(self, name: str) -> Any:
        key = key_named(name)
        node: Any = self.document
        for part in key.name.split("."):
            if part not in node:
                return None
            node = node[part]
        return node.unwrap() if hasattr(node, "unwrap") else node

    # ------------------------------------------------------------------ editing
    def _table(self, key: Key) -> Table:
        node: Any = self.document
        for part in key.name.split(".")[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
        if not isinstance(node, Table | tomlkit.TOMLDocument):
            raise ConfigError(f"{key.name}: its table is not a table in {self.path}")
        return node  # type: ignore[return-value]

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

    def _array(self, key: Key, create: bool) -> Array | None:
        if key.kind is not list:
            raise ConfigError(f"{key.name}: not a list; use `set`")
        table = self._table(key)
        leaf = key.name.rsplit(".", 1)[1]
        if leaf not in table:
            if not create:
                return None
            array = tomlkit.array()
            array.multiline(True)
            table[leaf] = array
        array = table[leaf]
        if not isinstance(array, Array):
            raise ConfigError(f"{key.name}: expected an array in {self.path}")
        return array

    def add(self, name: str, value: str) -> None:
        key = key_named(name)
        if (problem := hostname_or_ipv4_problem(value)) is not None:
            raise ConfigError(f"{key.name}: {value!r} is {problem}")
        array = self._array(key, create=True)
        assert array is not None
        if value.lower() in (str(v).lower() for v in array):
            raise ConfigError(f"{key.name}: {value!r} is already listed")
        if len(array) and "\n" in array.as_string():
            array.add_line(value)
        else:
            array.append(value)

    def remove(self, name: str, value: str) -> None:
        key = key_named(name)
        array = self._array(key, create=False)
        if array is None or value not in array:
            raise ConfigError(f"{key.name}: {value!r} is not in the list")
        array.remove(value)

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
        return self.text() != self.original

    def save(self) -> Path:
        self.validate()
        on_disk = self.path.read_bytes().decode("utf-8") if self.path.exists() else ""
        if on_disk != self.original:
            raise ConfigError(f"{self.path}: changed on disk since it was loaded; reload first")
        real = atomic_write(self.path, self.text())
        self.original = self.text()
        return real
