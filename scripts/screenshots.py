"""Real screenshots of coi-tui on the running lab: SVG from Textual, PNG via rsvg-convert.

Usage: .venv/bin/python scripts/screenshots.py [OUTDIR]   (the lab must be up: scripts/lab up)
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from coi_tui.models import NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.wiring import Scope

SIZE = (132, 36)
Shot = tuple[str, Callable[[Pilot[int]], Awaitable[None]]]


async def _containers(pilot: Pilot[int]) -> None:
    await pilot.press("1")


SHOTS: list[Shot] = [("containers", _containers)]


async def take(outdir: Path) -> list[Path]:
    scope = Scope()
    made = []
    for name, drive in SHOTS:
        app = CoiApp(real_wiring(scope, NetworkSettings()))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):
                if app.inventory.containers:
                    break
                await asyncio.sleep(0.1)
            await drive(pilot)
            await pilot.pause(0.5)
            svg = Path(app.save_screenshot(filename=f"{name}.svg", path=str(outdir)))
        png = svg.with_suffix(".png")
        subprocess.run(["rsvg-convert", "-w", "1600", str(svg), "-o", str(png)], check=True)
        made.append(png)
    return made


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots")
    outdir.mkdir(parents=True, exist_ok=True)
    for path in asyncio.run(take(outdir)):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
