"""Where the Textual stylesheets are: inside the package when installed, styles/ in a checkout."""

from __future__ import annotations

from pathlib import Path, PurePath

_PACKAGE = Path(__file__).resolve().parent.parent


def styles_dir() -> Path:
    for candidate in (_PACKAGE / "styles", _PACKAGE.parent / "styles"):
        if (candidate / "app.tcss").is_file():
            return candidate
    raise FileNotFoundError(f"coi-tui stylesheets not found beside {_PACKAGE}")


def stylesheets() -> list[str | PurePath]:
    return sorted(styles_dir().glob("*.tcss"))
