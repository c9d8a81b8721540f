"""The README's Keys section, written from the action table (coi_tui/ui/actions.py).

Usage: .venv/bin/python scripts/keys_doc.py [--check]
--check exits 1 when the README's section is not what the table says (a test runs it).
"""

from __future__ import annotations

import sys
from pathlib import Path

from coi_tui.ui.actions import ACTIONS, TITLES

README = Path(__file__).resolve().parents[1] / "README.md"
BEGIN, END = "<!-- KEYS: written by scripts/keys_doc.py -->", "<!-- END KEYS -->"


def section() -> str:
    lines = [BEGIN, "", "| where | key | what it does | id (for `[keys]`) |", "|---|---|---|---|"]
    for action in ACTIONS:
        keys = " ".join(f"`{k}`" for k in action.keys.split(","))
        lines.append(f"| {TITLES[action.where]} | {keys} | {action.help.replace('|', '/')} "
                     f"| `{action.id}` |")
    return "\n".join([*lines, "", END])


def main() -> int:
    text = README.read_text(encoding="utf-8")
    start, end = text.index(BEGIN), text.index(END) + len(END)
    wanted = text[:start] + section() + text[end:]
    if "--check" in sys.argv[1:]:
        if wanted != text:
            print("README.md: the Keys section is not the action table's: run "
                  "scripts/keys_doc.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
