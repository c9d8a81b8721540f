"""200 saves SIGKILLed at random moments: the config is always whole, old or new, never torn.

A helper process imports coi-tui once and, for each round, forks a writer that loads the config,
toggles it between two versions (mode and one allowed domain) and saves, in a loop. The test
kills that writer by its PID with SIGKILL after a random delay, then checks the file and its
backup byte for byte.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import tomlkit

from coi_tui.services.config import ConfigEditor

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"

WRITERS = """
import os, sys
from pathlib import Path
from coi_tui.services.config import ConfigEditor

path = Path(sys.argv[1])

def toggle_forever():
    while True:
        editor = ConfigEditor.load(path)
        if editor.get("network.mode") == "restricted":
            editor.set("network.mode", "allowlist")
            editor.add("network.allowed_domains", "github.com")
        else:
            editor.remove("network.allowed_domains", "github.com")
            editor.set("network.mode", "restricted")
        editor.save()

for _ in sys.stdin:
    pid = os.fork()
    if pid == 0:
        try:
            toggle_forever()
        finally:
            os._exit(1)
    print(pid, flush=True)
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def toggled(text: str) -> str:
    editor = ConfigEditor(Path("config.toml"), text)
    editor.set("network.mode", "allowlist")
    editor.add("network.allowed_domains", "github.com")
    return editor.text()


def seconds_per_save(path: Path) -> float:
    start = time.monotonic()
    for _ in range(5):
        editor = ConfigEditor.load(path)
        editor.set("network.refresh_interval_minutes", 30 + _ % 2)
        editor.save()
    return (time.monotonic() - start) / 5


def test_a_save_killed_at_any_moment_leaves_the_old_or_the_new_file(tmp_path: Path) -> None:
    old = SAMPLE.read_bytes()
    new = toggled(old.decode()).encode()
    path = tmp_path / "config.toml"
    path.write_bytes(old)
    span = 4 * seconds_per_save(path)  # kills land before, during and between saves
    path.write_bytes(old)
    path.with_name("config.toml.bak").unlink()  # the timing saves' backup is neither old nor new
    rng = random.Random(20261128)
    seen: set[bytes] = set()
    torn_saves = 0  # rounds killed between the temp file's creation and its rename
    writers = subprocess.Popen([sys.executable, "-c", WRITERS, str(path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert writers.stdin is not None and writers.stdout is not None
    try:
        for _ in range(200):
            writers.stdin.write("go\n")
            writers.stdin.flush()
            writer = int(writers.stdout.readline())
            time.sleep(rng.uniform(0, span))
            os.kill(writer, signal.SIGKILL)
            assert writers.stdout.readline() == "reaped\n"

            content = path.read_bytes()
            assert content in (old, new), "a torn config file"
            tomlkit.parse(content.decode())
            backup = path.with_name("config.toml.bak")
            assert not backup.exists() or backup.read_bytes() in (old, new)
            seen.add(content)
            leftovers = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
            assert all(p.name.startswith(".config.toml.") for p in leftovers)
            torn_saves += bool(leftovers)
            for leftover in leftovers:  # a killed writer's temp file, never the config itself
                leftover.unlink()
    finally:
        writers.stdin.close()
        writers.wait(timeout=10)
    assert seen == {old, new}
    assert torn_saves > 0, "no kill landed inside a save: the test proved nothing"
    print(f"\n200 kills: {torn_saves} inside a save (temp file written, not yet renamed)")
