"""coi-tui in a real terminal (tmux) against the lab: the DNS view counts down by real seconds,
and the Orphans flow (mark, d, y) removes exactly what was reviewed, with progress on screen."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import lab_support as lab
from tests.integration.test_orphans import direct_rule, rule_for, veth_pair

pytestmark = pytest.mark.lab

SOCKET = f"coi-tui-test-{os.getpid()}"  # a tmux server of our own
PAIR = ("vethcoitestT", "vethcoitestU")
IP = "10.147.0.91"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", "-L", SOCKET, *args], capture_output=True, text=True,
                          check=True, timeout=30).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", "coi")


def wait_screen(condition: Callable[[str], bool], timeout: float, what: str) -> str:
    deadline = time.monotonic() + timeout
    while True:
        text = screen()
        if condition(text):
            return text
        assert time.monotonic() < deadline, f"not on screen after {timeout}s: {what}\n{text}"
        time.sleep(0.2)


@pytest.fixture
def tui(tmp_path: Path) -> Iterator[None]:
    lab.require_lab()
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_text('[network]\nallowed_domains = ["api.lab.test"]\n')
    command = (f"env HOME={home} COI_TUI_NAMESERVERS=127.0.0.1:5353 TERM=xterm-256color "
               f"{sys.executable} -m coi_tui")
    tmux("new-session", "-d", "-s", "coi", "-x", "120", "-y", "36", command)
    try:
        wait_screen(lambda s: "coi-lab-1" in s, 30, "the Containers view")
        yield
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "send-keys", "-t", "coi", "q"],
                       capture_output=True)
        time.sleep(0.5)
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)


def seconds_left(text: str) -> int:
    line = next(x for x in text.splitlines() if "api.lab.test" in x)
    minutes, seconds = re.search(r"(\d+)m(\d\d)s", line).groups()  # type: ignore[union-attr]
    return int(minutes) * 60 + int(seconds)


def test_in_tmux_the_dns_countdown_runs_and_orphans_are_reviewed_and_cleaned(tui: None) -> None:
    tmux("send-keys", "-t", "coi", "4")
    first = seconds_left(wait_screen(lambda s: re.search(r"api\.lab\.test.*\d+m\d\ds", s)
                                     is not None, 15, "the DNS view"))
    time.sleep(3)
    later = seconds_left(screen())
    assert 1 <= first - later <= 5, (first, later)  # counted down by real seconds
    with direct_rule(IP), veth_pair(*PAIR):
        tmux("send-keys", "-t", "coi", "5")
        wait_screen(lambda s: "2 orphan(s), 0 marked" in s, 30, "both orphans listed")
        tmux("send-keys", "-t", "coi", "a")
        wait_screen(lambda s: "2 orphan(s), 2 marked" in s, 5, "both marked")
        tmux("send-keys", "-t", "coi", "d")
        review = wait_screen(lambda s: PAIR[0] in s and IP in s and "Cancel" in s, 10,
                             "the review listing exactly both")
        assert review.count("vethcoitest") >= 1
        tmux("send-keys", "-t", "coi", "y")
        wait_screen(lambda s: "[2/2] ok" in s, 30, "the worker's progress")
        assert " ".join(rule_for(IP)) not in lab.direct_rules()
        assert not Path("/sys/class/net", PAIR[0]).exists()
        wait_screen(lambda s: "0 orphan(s)" in s or "No orphans" in s, 30, "a clean list")
