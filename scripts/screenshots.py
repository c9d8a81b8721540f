"""Real screenshots of coi-tui on the running lab: SVG from Textual, PNG via rsvg-convert.

Usage (root, lab up):  .venv/bin/python scripts/screenshots.py [OUTDIR]
It gives coi-lab-1 the restricted mode and coi-lab-2 an allowlist first, and leaves one rule of
a gone container (an orphan), so the views have something to show; it removes all of that again
at the end.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from textual.pilot import Pilot

from coi_tui.models import NetworkSettings
from coi_tui.ui.app import CoiApp
from coi_tui.ui.run import real_wiring
from coi_tui.ui.screens.plan_review import PlanReview
from coi_tui.wiring import Scope, locations_from_env

SIZE = (132, 38)
DOMAINS = ("api.lab.test", "cdn.lab.test", "rebind.lab.test", "198.51.100.7")
ORPHAN = ("ipv4", "filter", "FORWARD", "0", "-s", "10.147.0.99", "-j", "ACCEPT")
Drive = Callable[[CoiApp, Pilot[int]], Awaitable[None]]


def coi_tui(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "coi_tui", *args], check=True, capture_output=True)


async def containers(app: CoiApp, pilot: Pilot[int]) -> None:
    await pilot.press("1", "down")


async def rules(app: CoiApp, pilot: Pilot[int]) -> None:
    await pilot.press("2")


async def config(app: CoiApp, pilot: Pilot[int]) -> None:
    await pilot.press("3")
    await pilot.pause(0.5)


async def dns(app: CoiApp, pilot: Pilot[int]) -> None:
    await pilot.press("4")
    for _ in range(50):
        if app.dns_view.state.records:
            return
        await asyncio.sleep(0.1)


async def orphans(app: CoiApp, pilot: Pilot[int]) -> None:
    for _ in range(100):
        if app.orphan_count:
            break
        await asyncio.sleep(0.1)
    await pilot.press("5", "down", "enter")


async def plan_review(app: CoiApp, pilot: Pilot[int]) -> None:
    await pilot.press("1", "down", "down", "m", "r")
    for _ in range(50):
        if isinstance(app.screen, PlanReview):
            return
        await asyncio.sleep(0.1)


SHOTS: list[tuple[str, Drive]] = [
    ("containers", containers),
    ("rules", rules),
    ("config", config),
    ("dns", dns),
    ("orphans", orphans),
    ("plan-review", plan_review),
]


async def take(outdir: Path, home: Path) -> list[Path]:
    made = []
    config_file = home / ".coi" / "config.toml"
    for name, drive in SHOTS:
        locations = locations_from_env()
        settings = NetworkSettings(allowed_domains=DOMAINS)
        app = CoiApp(real_wiring(Scope(), settings, (config_file, locations)))
        async with app.run_test(size=SIZE) as pilot:
            for _ in range(100):
                if len(app.inventory.containers) >= 3:
                    break
                await asyncio.sleep(0.1)
            await drive(app, pilot)
            await pilot.pause(0.8)
            svg = Path(app.save_screenshot(filename=f"{name}.svg", path=str(outdir)))
        png = svg.with_suffix(".png")
        subprocess.run(["rsvg-convert", "-w", "1600", str(svg), "-o", str(png)], check=True)
        svg.unlink()
        made.append(png)
    return made


def main() -> int:
    outdir = Path(sys.argv[1] if len(sys.argv) > 1 else "screenshots").resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    home = Path(os.environ["HOME"])
    os.environ.setdefault("COI_TUI_NAMESERVERS", "127.0.0.1:5353")
    coi_tui("apply", "coi-lab-1", "--mode", "restricted")
    coi_tui("apply", "coi-lab-2", "--mode", "allowlist",
            *(a for d in DOMAINS for a in ("--allow", d)))
    subprocess.run(["firewall-cmd", "--direct", "--add-rule", *ORPHAN], check=True,
                   capture_output=True)
    try:
        for path in asyncio.run(take(outdir, home)):
            print(path)
    finally:
        coi_tui("remove", "coi-lab-1", "coi-lab-2")
        subprocess.run(["firewall-cmd", "--direct", "--remove-rule", *ORPHAN],
                       capture_output=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
