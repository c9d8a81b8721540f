"""Real traffic for the tests: a UDP prober inside a container, a counter on a lab host."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests import lab_support as lab

PROBE_DIR = Path(__file__).resolve().parent / "probe"
PROBER_IN_CONTAINER = "/udp_prober"
PORT = 9999


def build_prober(out: Path) -> Path:
    binary = out / "udp_prober"
    if not binary.exists():
        subprocess.run(
            ["gcc", "-O2", "-static", "-o", str(binary), str(PROBE_DIR / "udp_prober.c")],
            check=True,
        )
    return binary


@contextmanager
def counting(netns: str, port: int = PORT) -> Iterator[list[int]]:
    """Counts datagrams arriving in a lab netns while the block runs; the count lands in the
    yielded list when the block ends."""
    process = subprocess.Popen(
        ["ip", "netns", "exec", netns, sys.executable, str(PROBE_DIR / "udp_counter.py"),
         str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "ready"
    result: list[int] = []
    try:
        yield result
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
        result.append(int(out.strip().splitlines()[-1]))


@contextmanager
def probing(container: str, binary: Path, dst: str, seconds: float,
            period_us: int = 1000) -> Iterator[subprocess.Popen[str]]:
    """Runs the prober inside the container for `seconds` (1 ms spacing by default); one
    copy per destination, so several run side by side."""
    assert lab.is_lab_address(dst)
    path = f"{PROBER_IN_CONTAINER}-{dst}"
    lab.incus("file", "push", str(binary), f"{container}{path}", "--mode", "0755")
    process = subprocess.Popen(
        ["incus", "exec", container, "--", path, dst, str(PORT), str(period_us),
         str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        process.wait(timeout=seconds + 30)
