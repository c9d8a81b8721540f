"""Real screenshots of coi-tui on the running lab: SVG from Textual, PNG via rsvg-convert.

Usage (root, lab up):  .venv/bin/python scripts/screenshots.py [OUTDIR] [--only NAME[,NAME]]
Writes OUTDIR/<view>-<cols>x<rows>.svg and .png (OUTDIR: screenshots/) of every view and
dialog at 80x24 and 160x48: containers, rules, config, dns, orphans, plan-review, mode-picker,
orphan-review, apply-offer, help.

The app is the one `coi-tui` starts (coi_tui.ui.run.run_tui, with its own settings, keymap and
config problem line), driven by Textual's pilot. It runs on the demo's COI config
(scripts/lab.d/demo-config.toml: the lab DNS's quick/steady/rotate/nosuch.lab.test, so the DNS
view shows countdowns and a failure), a fresh copy per screenshot so the apply-offer save never
changes it, with a HOME of its own (IP cache, audit log, coi-tui's settings: a clean slate), and
the lab DNS (COI_TUI_NAMESERVERS, default 127.0.0.1:5353).

Set-up, undone at the end even on failure: coi-lab-1 gets the restricted mode, coi-lab-2 the
allowlist, coi-lab-3 none (unprotected); one direct rule of a container that does not exist
(-s 10.147.0.99, firewalld era) is the orphan the Orphans view and the orphan review show.

The apply offer comes from turning the "allow local network" switch in the Config view and
saving (the copy; the offer is never accepted). A view or dialog the app does not have (yet), or
one that does not come up, is skipped with a printed note; the others are still written. Exit 0
when at least one was written (the skipped ones are listed last), else 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO / "scripts" / "lab.d" / "demo-config.toml"
SIZES = ((80, 24), (160, 48))
CONTAINERS = ("coi-lab-1", "coi-lab-2", "coi-lab-3")
ORPHAN = ("ipv4", "filter", "FORWARD", "0", "-s", "10.147.0.99", "-j", "ACCEPT")
OFFER_SWITCH = "allow_local_network_access"  # turned and saved: the apply offer
PNG_ZOOM = "1.25"


class Skip(Exception):
    """This view or dialog is not there (yet): a note, not a crash."""


Drive = Callable[[Any, Any], Awaitable[None]]


# ------------------------------------------------------------------------------ helpers
def screen_name(app: Any) -> str:
    return type(app.screen).__name__


async def until(check: Callable[[], object], seconds: float = 8.0) -> bool:
    for _ in range(int(seconds * 10)):
        try:
            if check():
                return True
        except Exception:  # a widget not mounted yet, an attribute the lead renamed
            pass
        await asyncio.sleep(0.1)
    return False


async def until_screen(app: Any, *names: str, seconds: float = 8.0) -> None:
    if not await until(lambda: any(n in screen_name(app) for n in names), seconds):
        raise Skip(f"no {' / '.join(names)} came up (the screen is {screen_name(app)})")


async def view(app: Any, pilot: Any, key: str, pane: str) -> None:
    """Switch with the number key, and check that the view is there."""
    await pilot.press(key)
    await pilot.pause(0.3)
    try:
        active = app.query_one("#views").active
    except Exception:
        return  # no tab container any more: trust the key
    if active != pane:
        raise Skip(f"key {key} did not open the {pane} view (active: {active!r})")


async def select_container(app: Any, pilot: Any, name: str) -> None:
    """Containers view, cursor on `name` (natural order: 1, 2, 3)."""
    await view(app, pilot, "1", "containers")
    await pilot.press("g")
    for _ in range(CONTAINERS.index(name)):
        await pilot.press("down")
    await pilot.pause(0.2)


# -------------------------------------------------------------------------------- shots
async def containers(app: Any, pilot: Any) -> None:
    await select_container(app, pilot, "coi-lab-2")


async def rules(app: Any, pilot: Any) -> None:
    await view(app, pilot, "2", "rules")


async def config(app: Any, pilot: Any) -> None:
    await view(app, pilot, "3", "config")
    await pilot.pause(0.5)


async def dns(app: Any, pilot: Any) -> None:
    await view(app, pilot, "4", "dns")
    # until the refresher's first state is shown, then one countdown tick
    await until(lambda: app.dns_view.state.records, 10)
    await pilot.pause(1.2)


async def wait_orphans(app: Any) -> None:
    if not await until(lambda: app.orphan_count, 15):
        raise Skip("no orphan found (is the orphan rule there?)")


async def orphans(app: Any, pilot: Any) -> None:
    await wait_orphans(app)
    await view(app, pilot, "5", "orphans")
    await pilot.pause(0.3)


async def orphan_review(app: Any, pilot: Any) -> None:
    await wait_orphans(app)
    await view(app, pilot, "5", "orphans")
    await pilot.pause(0.3)
    await pilot.press("a", "d")  # mark every orphan, review them; never `y`
    await until_screen(app, "OrphanReview", "Clean", "Review")


async def mode_picker(app: Any, pilot: Any) -> None:
    await select_container(app, pilot, "coi-lab-3")
    await pilot.press("m")
    await until_screen(app, "ModePicker", "Mode")


async def plan_review(app: Any, pilot: Any) -> None:
    """An allowlist for the unprotected coi-lab-3: the longest plan (the 80x24 test)."""
    await mode_picker(app, pilot)
    await pilot.press("a")
    await until_screen(app, "PlanReview", "Plan", seconds=15)


async def apply_offer(app: Any, pilot: Any) -> None:
    """Turn a switch in the Config view and save (the copy): the restricted and allowlist
    containers' rules change, so the save offers to apply it (never accepted here). A switch,
    not a domain: the DNS refresher applies a changed allowlist by itself, before any offer."""
    await view(app, pilot, "3", "config")
    try:
        switch = app.screen.query_one(f"#cfg-{OFFER_SWITCH}")
    except Exception as error:
        raise Skip(f"no {OFFER_SWITCH} switch in the Config view ({error})") from None
    await pilot.pause(0.5)  # the file is read by a worker
    switch.value = not switch.value
    await pilot.pause(0.3)
    await pilot.press("ctrl+s")
    await until_screen(app, "ApplyOffer", "Offer", seconds=15)


async def help_screen(app: Any, pilot: Any) -> None:
    await select_container(app, pilot, "coi-lab-2")
    await pilot.press("question_mark")
    await pilot.pause(0.5)
    if "Help" in screen_name(app):
        return
    try:  # an older build: Textual's own key panel, docked on the main screen
        from textual.widgets import HelpPanel

        app.screen.query_one(HelpPanel)
    except Exception:
        raise Skip(f"`?` opened no help (the screen is {screen_name(app)})") from None
    print("  note: help is Textual's generic key panel, not coi-tui's own help screen")


def lab_attempts() -> None:
    """What the Traffic view shows: coi-lab-1 (restricted) tries the LAN host and the
    metadata host and reaches the internet by name; coi-lab-2 (allowlist) asks for a name."""
    for box, url in (("coi-lab-1", "http://192.168.77.2/"), ("coi-lab-1", "http://www.lab.test/"),
                     ("coi-lab-1", "http://169.254.77.1/"), ("coi-lab-2", "http://203.0.113.20/"),
                     ("coi-lab-1", "http://192.168.77.2/")):
        subprocess.run(["incus", "exec", box, "--", "hget", "-T", "1", url],
                       capture_output=True, timeout=20, check=False)


async def traffic(app: Any, pilot: Any) -> None:
    await view(app, pilot, "6", "traffic")
    view_widget = app.query_one("#traffic-view")
    await until(lambda: view_widget.started, seconds=15)
    await asyncio.get_running_loop().run_in_executor(None, lab_attempts)
    await until(lambda: len(view_widget.attempts) >= 5, seconds=8)
    await pilot.pause(2.5)  # one reading of the kernel's counts: blocked/s
    await pilot.press("g")


async def grant_picker(app: Any, pilot: Any) -> None:
    await traffic(app, pilot)
    view_widget = app.query_one("#traffic-view")
    rejected = [k for k, a in view_widget._keys.items() if a.verdict.value == "rejected"]
    if not rejected:
        raise Skip("no rejected attempt to allow")
    view_widget.rows_list.move_to(rejected[0])
    await pilot.pause(0.2)
    await pilot.press("a")
    await until_screen(app, "GrantPicker", seconds=8)


SHOTS: list[tuple[str, Drive]] = [
    ("containers", containers),
    ("rules", rules),
    ("config", config),
    ("dns", dns),
    ("orphans", orphans),
    ("plan-review", plan_review),
    ("mode-picker", mode_picker),
    ("orphan-review", orphan_review),
    ("apply-offer", apply_offer),
    ("help", help_screen),
    ("traffic", traffic),
    ("grant-picker", grant_picker),
]


# ---------------------------------------------------------------------------- the app
class _Built(Exception):
    pass


def build_app(config: Path) -> Any:
    """The app exactly as `coi-tui --config CONFIG` builds it, stopped before it runs."""
    from coi_tui.main import build_parser
    from coi_tui.ui import run as run_module
    from coi_tui.ui.app import CoiApp as app_class

    built: dict[str, Any] = {}

    def capture(self: Any, *args: object, **kwargs: object) -> None:
        built["app"] = self
        raise _Built

    original = app_class.run
    app_class.run = capture  # type: ignore[method-assign]
    try:
        run_module.run_tui(build_parser().parse_args(["--config", str(config)]))
    except _Built:
        pass
    finally:
        app_class.run = original  # type: ignore[method-assign]
    return built["app"]


async def shoot(name: str, drive: Drive, size: tuple[int, int], config: Path,
                outdir: Path) -> Path:
    app = build_app(config)
    stem = f"{name}-{size[0]}x{size[1]}"
    async with app.run_test(size=size) as pilot:
        if not await until(lambda: len(app.inventory.containers) >= len(CONTAINERS), 15):
            raise Skip("the lab's containers did not show up")
        await pilot.pause(0.5)
        await drive(app, pilot)
        await pilot.pause(0.8)
        svg = Path(app.save_screenshot(filename=f"{stem}.svg", path=str(outdir)))
    png = svg.with_suffix(".png")
    subprocess.run(["rsvg-convert", "-z", PNG_ZOOM, str(svg), "-o", str(png)], check=True)
    return svg


async def take(outdir: Path, work: Path, only: set[str]) -> tuple[int, list[str]]:
    written, skipped = 0, []
    for name, drive in SHOTS:
        if only and name not in only:
            continue
        for size in SIZES:
            label = f"{name}-{size[0]}x{size[1]}"
            config = work / "config.toml"  # the path the Config view shows
            shutil.copyfile(DEMO_CONFIG, config)  # afresh: the apply offer saves its copy
            try:
                svg = await shoot(name, drive, size, config, outdir)
            except Skip as why:
                print(f"skipped {label}: {why}")
                skipped.append(label)
            except Exception as error:  # the UI under change: note it, go on
                print(f"skipped {label}: {type(error).__name__}: {error}")
                skipped.append(label)
            else:
                written += 1
                print(f"{svg}  {svg.with_suffix('.png')}")
    return written, skipped


# ----------------------------------------------------------------------- set-up, clean-up
def coi_tui(config: Path, *args: str, check: bool = True) -> None:
    result = subprocess.run([sys.executable, "-m", "coi_tui", "--config", str(config), *args],
                            capture_output=True, text=True)
    if check and result.returncode != 0:
        raise SystemExit(f"coi-tui {' '.join(args)} failed: {result.stderr.strip()}")


def firewall_cmd(action: str) -> bool:
    if shutil.which("firewall-cmd") is None:
        return False
    result = subprocess.run(["firewall-cmd", "--direct", action, *ORPHAN],
                            capture_output=True, text=True)
    return result.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default=str(REPO / "screenshots"))
    parser.add_argument("--only", default="", help="comma-separated shot names")
    args = parser.parse_args()
    only = {n for n in args.only.split(",") if n}
    unknown = only - {name for name, _ in SHOTS}
    if unknown:
        parser.error(f"no such shot: {', '.join(sorted(unknown))}")
    outdir = Path(args.outdir).resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="coi-tui-shots-"))
    os.environ["HOME"] = str(work / "home")  # before coi_tui reads it: own settings, cache
    (work / "home").mkdir()
    os.environ.setdefault("COI_TUI_NAMESERVERS", "127.0.0.1:5353")
    os.environ.pop("NO_COLOR", None)
    os.chdir(work)  # no ./.coi/config.toml of the checkout's
    setup = work / "setup.toml"
    shutil.copyfile(DEMO_CONFIG, setup)
    orphan = False
    try:
        coi_tui(setup, "apply", "coi-lab-1", "--mode", "restricted")
        coi_tui(setup, "apply", "coi-lab-2", "--mode", "allowlist")
        orphan = firewall_cmd("--add-rule")
        if not orphan:
            print("note: no orphan rule added (no firewalld); the orphan shots may be skipped")
        written, skipped = asyncio.run(take(outdir, work, only))
    finally:
        coi_tui(setup, "remove", "coi-lab-1", "coi-lab-2", check=False)
        if orphan:
            firewall_cmd("--remove-rule")
        shutil.rmtree(work, ignore_errors=True)
    print(f"{written} written to {outdir}"
          + (f"; {len(skipped)} skipped: {', '.join(skipped)}" if skipped else ""))
    return 0 if written else 1


if __name__ == "__main__":
    raise SystemExit(main())
