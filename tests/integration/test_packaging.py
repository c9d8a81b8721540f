"""The wheel carries the stylesheets: the installed package runs without the checkout."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

FIRST_PAINT = """
import asyncio, coi_tui
from coi_tui.errors import BackendUnavailable
from coi_tui.keep.keeper import KeeperParts
from coi_tui.services.inventory import InventorySource
from coi_tui.ui.app import CoiApp, Wiring
from coi_tui.ui.paths import styles_dir

def down():
    raise BackendUnavailable("not in this test")

async def main():
    app = CoiApp(Wiring(KeeperParts(lambda: InventorySource(down, down, dict))))
    async with app.run_test() as pilot:
        await pilot.pause(0.3)
        print(coi_tui.__file__)
        print(styles_dir())
        print(app.query_one("#banner").styles.background)

asyncio.run(main())
"""


def test_an_installed_wheel_finds_its_stylesheets(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("coi_tui-*.whl")
    assert "coi_tui/styles/app.tcss" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target),
         str(wheel)],
        check=True,
        capture_output=True,
    )
    result = subprocess.run(
        [sys.executable, "-c", FIRST_PAINT],
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    package_file, styles, _background = result.stdout.splitlines()
    assert package_file.startswith(str(target))
    assert styles == str(target / "coi_tui" / "styles")
