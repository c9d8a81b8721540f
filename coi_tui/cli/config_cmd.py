"""`coi-tui config get|set|add|remove|validate`: COI's [network] settings, edited in place."""

from __future__ import annotations

import argparse
from typing import Any

from coi_tui.cli.output import print_json
from coi_tui.cli.settings import edit_target, locations_from_env
from coi_tui.services.config import ConfigEditor, ConfigError, load_effective, problems
from coi_tui.services.config.schema import KEYS, key_named


def register(sub: Any) -> None:
    parser = sub.add_parser("config", help="read and edit COI's [network] settings")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    get = verbs.add_parser("get", help="effective value and the file it comes from")
    get.add_argument("key", nargs="?", help="e.g. network.mode (all keys if left out)")
    get.add_argument("--json", action="store_true")
    for verb, help_text in (("set", "set a key"), ("add", "add a list entry"),
                            ("remove", "remove a list entry")):
        edit = verbs.add_parser(verb, help=help_text)
        edit.add_argument("key")
        edit.add_argument("value")
    validate = verbs.add_parser("validate", help="check the file (and the effective config)")
    validate.add_argument("--json", action="store_true")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.verb == "get":
        return get(args)
    if args.verb == "validate":
        return validate(args)
    editor = ConfigEditor(edit_target(args))
    getattr(editor, args.verb)(args.key, args.value)
    if not editor.changed():
        print(f"{editor.path}: unchanged")
        return 0
    real = editor.save()
    print(f"{real}: {args.verb} {key_named(args.key).name} {args.value}")
    return 0


def get(args: argparse.Namespace) -> int:
    effective = load_effective(locations_from_env())
    names = [key_named(args.key).name] if args.key else list(KEYS)
    records = {n: {"value": effective.values[n], "source": effective.sources[n]} for n in names}
    if args.json:
        print_json(records)
    elif args.key:
        print(records[names[0]]["value"])
    else:
        for name, record in records.items():
            print(f"{name} = {record['value']!r}    # {record['source']}")
    return 0


def validate(args: argparse.Namespace) -> int:
    path = edit_target(args)
    found: list[str] = []
    try:
        editor = ConfigEditor(path, create=False)
        found = problems(editor.document.unwrap())
        load_effective(locations_from_env())
    except ConfigError as error:
        found = found or [str(error)]
    if args.json:
        print_json({"file": str(path), "ok": not found, "problems": found})
    else:
        for problem in found:
            print(f"{path}: {problem}")
        if not found:
            print(f"{path}: valid")
    return 2 if found else 0
