"""In-place edits of one COI config file with tomlkit: comments and layout survive, untouched
lines stay byte-identical, and nothing invalid is ever written."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Table

from coi_tui.services.config.errors import ConfigError
from coi_tui.services.config.layers import Effective, read_config_text
from coi_tui.services.config.save import atomic_write
from coi_tui.services.config.schema import Key, key_named
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
            seed = self.inherited.values[key.name] if self.inherited else []
            array.multiline(key.item is str or bool(seed))  # ports stay on one line
            if seed:
                assert self.inherited is not None
                source = self.inherited.sources[key.name]
                array.add_line(comment=f"copied from {source}: a list here replaces that one")
                array.add_line(*seed)
            table[leaf] = array
        array = table[leaf]
        assert isinstance(array, Array)  # _entries refused anything else
        return array

    def _entry(self, key: Key, text: str) -> Any:
        """One entry of a list from the command line, checked (nothing invalid gets in)."""
        if key.kind is not list:
            raise ConfigError(f"{key.name}: not a list; use `set`")
        try:
            entry = key.parse_entry(text)
        except ValueError as error:
            raise ConfigError(f"{key.name}: {error}") from None
        if (problem := key.entry(entry)) is not None:
            raise ConfigError(f"{key.name}: {text!r}: {problem}" if key.item is dict
                              else f"{key.name}: {entry!r} is {problem}")
        return entry

    def add(self, name: str, value: str) -> None:
        key = key_named(name)
        entry = self._entry(key, value)
        if key.item is dict:
            self._add_table(key, entry)
            return
        if _folded(entry) in (_folded(v) for v in self._entries(key)):
            raise ConfigError(f"{key.name}: {entry!r} is already listed")
        array = self._array(key)
        if len(array) and "\n" in array.as_string():
            array.add_line(entry)
        else:
            array.append(entry)

    def remove(self, name: str, value: str) -> None:
        """Remove a list entry; from `[[network.hosts]]` every table with the value's ip."""
        key = key_named(name)
        if key.item is dict:
            self._remove_tables(key, value)
            return
        entry = self._entry(key, value) if key.item is not str else value
        if entry not in self._entries(key):
            raise ConfigError(f"{key.name}: {entry!r} is not in the list")
        self._array(key).remove(entry)

    # an array of tables ([[network.hosts]]): appended as a table, removed by ip
    def _add_table(self, key: Key, entry: dict[str, Any]) -> None:
        if any(t.get("ip") == entry["ip"] for t in self._entries(key)):
            raise ConfigError(f"{key.name}: {entry['ip']} is already listed; remove it first")
        tables = self._tables(key)
        if isinstance(tables, Array):  # written inline: `hosts = [{ ip = ... }]`
            inline = tomlkit.inline_table()
            inline.update(entry)
            tables.append(inline)
        else:
            tables.append(_table(entry))

    def _remove_tables(self, key: Key, value: str) -> None:
        try:
            ip = key.parse_entry(value)["ip"]
        except (ValueError, KeyError):
            ip = value
        if not any(t.get("ip") == ip for t in self._entries(key)):
            raise ConfigError(f"{key.name}: no entry with ip {ip!r}")
        tables = self._tables(key)
        for i in reversed(range(len(tables))):
            if tables[i].get("ip") == ip:
                del tables[i]
        if not len(tables):  # none left: the file no longer sets the key (an empty
            del self._table(key)[key.name.rsplit(".", 1)[1]]  # [[...]] cannot be written)

    def _tables(self, key: Key) -> AoT | Array:
        table = self._table(key)
        leaf = key.name.rsplit(".", 1)[1]
        if leaf not in table:
            seed = self.inherited.values[key.name] if self.inherited else []
            table[leaf] = tomlkit.aot()
            for entry in seed:  # a list here replaces the one below it: start from that one
                table[leaf].append(_table(entry))
        tables = table[leaf]
        if not isinstance(tables, AoT | Array):
            raise ConfigError(f"{key.name}: expected an array of tables in {self.path}, "
                              f"got {tables!r}")
        return tables

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


def _folded(entry: Any) -> Any:
    """An entry as compared for duplicates: names in any case are one name."""
    return entry.lower() if isinstance(entry, str) else entry


def _table(entry: dict[str, Any]) -> Table:
    """One [[...]] table, with a blank line after it, as COI's own files have."""
    table = tomlkit.table()
    table.update(entry)
    table.add(tomlkit.nl())
    return table
