"""The README shows what the screenshot script makes: every image it links exists, and every
view and dialog the script shoots is linked at both sizes."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_linked_screenshot_exists_and_every_shot_is_linked_at_both_sizes() -> None:
    linked = set(re.findall(r"\(?(screenshots/[\w.-]+\.png)\)", README))
    assert linked and all((ROOT / path).is_file() for path in linked), linked
    script = (ROOT / "scripts" / "screenshots.py").read_text()
    names = re.findall(r'^    \("([\w-]+)", \w+\),$', script, re.M)
    assert len(names) >= 10, names
    for name in names:
        for size in ("80x24", "160x48"):
            assert f"screenshots/{name}-{size}.png" in linked, (name, size)
