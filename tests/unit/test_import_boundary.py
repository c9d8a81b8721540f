"""Nothing below the UI imports Textual: the CLI and services work without it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "coi_tui"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_outside_ui_imports_textual() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if "ui" not in path.relative_to(PACKAGE).parts[:1]
        and any(m == "textual" or m.startswith("textual.") for m in imported_modules(path))
    ]
    assert offenders == []


def test_ui_is_imported_lazily_by_the_cli() -> None:
    cli = imported_modules(PACKAGE / "cli" / "__init__.py")
    assert not any(m.startswith("coi_tui.ui") for m in cli if not m.endswith(".run"))
