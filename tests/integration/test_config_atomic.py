"""200 saves, each writer SIGKILLed at a random moment: the file is always old or new, whole."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import tomlkit

SAVER = """
import sys
from pathlib import Path
from coi_tui.services.config.save import atomic_write
path, text = Path(sys.argv[1]), Path(sys.argv[2]).read_text()
print("go", flush=True)
while True:
    atomic_write(path, text)
"""


def test_a_killed_save_never_leaves_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    old = '[network]\nmode = "restricted"\n' + "# padding\n" * 2000
    new = '[network]\nmode = "allowlist"\nallowed_domains = ["a.example"]\n' + "# more\n" * 3000
    (tmp_path / "new.txt").write_text(new)
    path.write_text(old)
    rng = random.Random(1234)
    for _ in range(200):
        writer = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path), str(tmp_path / "new.txt")],
            stdout=subprocess.PIPE, text=True,
        )
        assert writer.stdout is not None and writer.stdout.readline() == "go\n"
        time.sleep(rng.uniform(0, 0.01))
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
        content = path.read_text()
        assert content in (old, new)
        tomlkit.parse(content)
        path.write_text(old)  # start every round from the old content
