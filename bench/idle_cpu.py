"""coi-tui idle in a real terminal (tmux) with the DNS view open and its countdowns ticking, on
the lab: CPU used over a window, as a share of one core, and the resident memory.

Run as root with the lab up:  .venv/bin/python bench/idle_cpu.py [SECONDS]
Targets (docs/design.md §7): idle CPU <= 2 % over 60 s; RSS <= 150 MB.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOCKET = f"coi-tui-bench-{os.getpid()}"
TICK = os.sysconf("SC_CLK_TCK")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                          check=True).stdout


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> int:
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    with tempfile.TemporaryDirectory() as home:
        Path(home, ".coi").mkdir()
        Path(home, ".coi", "config.toml").write_text(
            '[network]\nallowed_domains = ["api.lab.test", "cdn.lab.test", "short.lab.test"]\n')
        command = (f"env HOME={home} COI_TUI_NAMESERVERS=127.0.0.1:5353 "
                   f"{sys.executable} -m coi_tui")
        started = time.monotonic()
        tmux("new-session", "-d", "-s", "b", "-x", "120", "-y", "36", command)
        try:
            while "coi-lab-1" not in tmux("capture-pane", "-p", "-t", "b"):
                time.sleep(0.05)
            first_paint = time.monotonic() - started
            pid = int(tmux("list-panes", "-t", "b", "-F", "#{pane_pid}").strip())
            # the pane runs `env`, which execs python: the same PID
            if os.environ.get("VIEW", "4") != "1":
                tmux("send-keys", "-t", "b", os.environ.get("VIEW", "4"))
            time.sleep(5)  # settle: first DNS resolution, first orphan scan
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            time.sleep(window)
            share = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
            rss = rss_mb(pid)
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    print(f"first paint {first_paint:.2f} s (target <= 1.5 s); idle with the DNS view open: "
          f"{share * 100:.2f} % of one core over {window:.0f} s (target <= 2 %); "
          f"RSS {rss:.0f} MB (target <= 150 MB)")
    return 0 if share <= 0.02 and rss <= 150 else 1


if __name__ == "__main__":
    raise SystemExit(main())
