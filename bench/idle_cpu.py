"""coi-tui idle in a real terminal (tmux) with a view open (VIEW=4, the DNS view with its
countdowns ticking, by default; VIEW=6 the Traffic view), on the lab: CPU used over a window, as
a share of one core, of coi-tui alone, of coi-tui with its children (the traffic feed's readers:
nft monitor, tcpdump), and of the whole host's part in it (those plus incusd and firewalld), and
the resident memory.

Run as root with the lab up:  [VIEW=6] .venv/bin/python bench/idle_cpu.py [SECONDS]
Targets (docs/design.md §7): idle CPU <= 2 % over 60 s; RSS <= 150 MB.
"""

from __future__ import annotations

import contextlib
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
    # utime + stime, and cutime + cstime: the short-lived children it waited for (nft reads)
    return sum(int(f) for f in fields[11:15]) / TICK


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        here = todo.pop()
        for task in Path(f"/proc/{here}/task").iterdir():
            kids = (task / "children").read_text().split()
            found += [int(k) for k in kids]
            todo += [int(k) for k in kids]
    return found


def daemons() -> list[int]:
    """incusd and firewalld (the lab's), by the lab's recorded PIDs; read only."""
    pids = []
    for name in ("incusd", "firewalld"):
        path = Path("/run/coi-lab") / f"{name}.pid"
        if path.exists():
            pids.append(int(path.read_text().split()[0]))
    return [p for p in pids if Path(f"/proc/{p}").exists()]


def total(pids: list[int]) -> float:
    seconds = 0.0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            seconds += cpu_seconds(pid)
    return seconds


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
            children, hosts = descendants(pid), daemons()
            cpu0, t0 = cpu_seconds(pid), time.monotonic()
            kids0, hosts0 = total(children), total(hosts)
            time.sleep(window)
            elapsed = time.monotonic() - t0
            share = (cpu_seconds(pid) - cpu0) / elapsed
            with_kids = share + (total(children) - kids0) / elapsed
            host = with_kids + (total(hosts) - hosts0) / elapsed
            rss = rss_mb(pid)
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
    print(f"first paint {first_paint:.2f} s (target <= 1.5 s); idle with view "
          f"{os.environ.get('VIEW', '4')} open, over {window:.0f} s, share of one core: "
          f"coi-tui {share * 100:.2f} %, with its children {with_kids * 100:.2f} %, "
          f"with incusd and firewalld {host * 100:.2f} % (target <= 2 %); "
          f"RSS {rss:.0f} MB (target <= 150 MB)")
    return 0 if share <= 0.02 and rss <= 150 else 1


if __name__ == "__main__":
    raise SystemExit(main())
