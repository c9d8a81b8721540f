"""The layers are a contract: nothing below the UI imports Textual, and no import runs up.

From the bottom: data, then the shared backends, the plan model, COI's two eras, the runtime
(engine, audit, writer lock), the services, the change planner, what keeps isolation over time,
the wiring, then the CLI and the UI side by side (neither imports the other), then the entry
point."""

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


LAYERS: tuple[tuple[str, ...], ...] = (
    ("coi_tui.errors",),
    ("coi_tui.models",),
    ("coi_tui.backends",),
    ("coi_tui.plans",),
    ("coi_tui.eras",),
    ("coi_tui.runtime",),
    ("coi_tui.services",),
    ("coi_tui.changes",),
    ("coi_tui.keep",),
    ("coi_tui.wiring",),
    ("coi_tui.cli", "coi_tui.ui"),
    ("coi_tui.main",),
    ("coi_tui.__main__",),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def placed(module: str) -> tuple[int, str] | None:
    for level, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                return level, name
    return None


def test_every_module_has_a_layer_and_no_import_runs_up() -> None:
    unplaced, upward = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        if module == "coi_tui":
            continue
        here = placed(module)
        if here is None:
            unplaced.append(module)
            continue
        for imported in sorted(m for m in imported_modules(path) if m.startswith("coi_tui.")):
            there = placed(imported)
            if there is None:
                unplaced.append(imported)
            elif there[0] > here[0] or (there[0] == here[0] and there[1] != here[1]):
                upward.append(f"{module} -> {imported}")
    assert unplaced == []
    assert upward == []


def test_the_ui_is_imported_lazily_by_the_entry_point() -> None:
    entry = imported_modules(PACKAGE / "main.py")
    assert not any(m.startswith("coi_tui.ui") for m in entry if not m.endswith(".run"))
