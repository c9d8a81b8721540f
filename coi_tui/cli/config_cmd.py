"""`coi-tui config get|set|add|remove|validate`: COI's [network] settings, edited in place.

`--config PATH` (global) picks the file to edit and counts as the top layer, as $COI_CONFIG.
Invalid input exits 2 with a one-line reason on stderr and writes nothing.

Lists (`allowed_domains`, `dns_servers`, `allowed_ports`) take `add`/`remove` of one entry.
`[[network.hosts]]` is an array of tables: `add network.hosts '192.168.1.50 nas nas.lan'` or
`add network.hosts '{ ip = "192.168.1.50", hostnames = ["nas"], ports = [443] }'` appends a
table; `remove network.hosts 192.168.1.50` removes every table with that ip.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from coi_tui import wiring as settings
from coi_tui.cli.output import print_json
from coi_tui.services.config import (
    DEFAULTS,
    ConfigEditor,
    ConfigError,
    Locations,
    load_effective,
    problems,
)
from coi_tui.services.config.layers import read_config_text
from coi_tui.services.config.schema import KEYS, as_toml, key_named
from coi_tui.services.config.validate import parse_toml


def register(sub: Any) -> None:
    parser = sub.add_parser("config", help="read and edit COI's [network] settings")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    get = verbs.add_parser("get", help="effective value and the file it comes from")
    get.add_argument("key", nargs="?", help="e.g. network.mode (every key if left out)")
    get.add_argument("--json", action="store_true")
    for verb, help_text in (("set", "set a key"), ("add", "add a list entry"),
                            ("remove", "remove a list entry")):
        edit = verbs.add_parser(verb, help=f"{help_text} in the edited file")
        edit.add_argument("key", help="e.g. network.mode, network.allowed_domains, "
                                       "network.allowed_ports, network.hosts")
        edit.add_argument("value", help="for network.hosts: 'IP NAME...' or an inline table "
                                        "{ ip = ..., hostnames = [...], ports = [...] }; "
                                        "remove takes the IP")
    validate = verbs.add_parser("validate", help="check every config file COI would read")
    validate.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verb == "get":
        return get(args)
    if args.verb == "validate":
        return validate(args)
    return edit(args)


def _locations(args: argparse.Namespace) -> Locations:
    return settings.locations_from_env().with_top(getattr(args, "config", None))


def _same_file(source: str, path: Path) -> bool:
    return source != DEFAULTS and os.path.realpath(source) == os.path.realpath(path)


def edit(args: argparse.Namespace) -> int:
    locations, path = _locations(args), settings.edit_target(args)
    name = key_named(args.key).name
    # a list the file lacks starts from the one in force below it (COI's lists replace)
    inherited = load_effective(locations, below=path) if args.verb != "set" else None
    editor = ConfigEditor.load(path, inherited=inherited)
    getattr(editor, args.verb)(name, args.value)
    if not editor.changed():
        print(f"{path}: unchanged, {name} = {as_toml(editor.get(name))}")
        return 0
    real = editor.save()
    print(f"{real}: {name} = {as_toml(editor.get(name))}")
    try:
        effective = load_effective(locations)
    except ConfigError as error:
        print(f"coi-tui: note: saved, but COI cannot read its config: {error}", file=sys.stderr)
        return 0
    if not _same_file(source := effective.sources[name], real):
        print(f"coi-tui: note: {name} in effect is {as_toml(effective.values[name])}, "
              f"from {source}", file=sys.stderr)
    return 0


def get(args: argparse.Namespace) -> int:
    effective = load_effective(_locations(args))
    names = [key_named(args.key).name] if args.key else list(KEYS)
    for note in effective.ignored:
        print(f"coi-tui: note: {note}", file=sys.stderr)
    if args.json:
        print_json({n: {"value": effective.values[n], "source": effective.sources[n]}
                    for n in names})
        return 0
    for name in names:
        print(f"{name} = {as_toml(effective.values[name])}  # {effective.sources[name]}")
    return 0


def _file_problems(path: Path) -> list[str]:
    try:
        text = read_config_text(path)
        if text is None:
            return [f"{path}: no such config file"]
        return [f"{path}: {p}" for p in problems(parse_toml(text, str(path)).unwrap())]
    except ConfigError as error:
        return [str(error)]


def validate(args: argparse.Namespace) -> int:
    """Every file COI would read, and the edited one; problems on stderr, exit 2 if any."""
    locations, target = _locations(args), settings.edit_target(args)
    files: dict[str, Path] = {}  # by real path: a layer may be the edited file or a link to it
    for path in [f for f in locations.files() if f.exists()] + [target]:
        if path.exists() or getattr(args, "config", None):
            files.setdefault(os.path.realpath(path), path)
    found = [problem for path in files.values() for problem in _file_problems(path)]
    if args.json:
        print_json({"ok": not found, "files": [str(f) for f in files.values()],
                    "problems": found})
    else:
        for problem in found:
            print(f"coi-tui: {problem}", file=sys.stderr)
        if not found:
            checked = ", ".join(map(str, files.values())) or "no files, COI's built-in defaults"
            print(f"valid: {checked}")
    return 2 if found else 0
