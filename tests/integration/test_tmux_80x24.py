"""End to end in a real 80x24 tmux pane against the lab, as a new user would go: every view,
the help, a mode change with the keys (the review with both buttons on screen, the worker's
progress, the rules then in firewalld), and quit. Asserts on what a person reads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests import lab_support as lab
from tests.integration.test_tmux import SOCKET, screen, tmux, wait_screen

pytestmark = pytest.mark.lab

NAME = "coi-lab-tmux"


def keys(*names: str) -> None:
    tmux("send-keys", "-t", "coi", *names)


@pytest.fixture
def tui(tmp_path: Path) -> Iterator[str]:
    lab.require_lab()
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_text(
        '[network]\nallowed_domains = ["www.lab.test", "nosuch.lab.test"]\n')
    with lab.launched(NAME):
        ip = lab.container_ip(NAME)
        command = (f"env HOME={home} COI_TUI_NAMESERVERS=127.0.0.1:5353 TERM=tmux-256color "
                   f"{sys.executable} -m coi_tui; echo EXITED $?; sleep 60")
        tmux("new-session", "-d", "-s", "coi", "-x", "80", "-y", "24", command)
        try:
            wait_screen(lambda s: NAME in s, 30, "the Containers view with the new container")
            yield ip
        finally:
            subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)
            subprocess.run([sys.executable, "-m", "coi_tui", "remove", NAME],
                           capture_output=True, env={**os.environ, "HOME": str(home)})


def contains(fragment: str, text: str) -> bool:
    return fragment in text


def row_of(text: str, name: str) -> str:
    """The container's row of the table (not the filter line above it)."""
    return next(line for line in text.splitlines() if f" {name} " in line and "Running" in line)


def test_every_view_then_a_mode_change_with_the_keys_then_quit(tui: str) -> None:
    ip = tui
    # the footer is drawn a moment after the table's first rows
    first = wait_screen(lambda s: re.search(r"\bq Quit\b", s) is not None, 10, "the footer")
    assert len(first.splitlines()) <= 24
    assert "UNPROTECTED" in row_of(first, NAME)  # a new container: no rules at all
    assert re.search(r"\bq Quit\b", first) and "? Help" in first  # the footer, whole
    assert "updated" in first  # the status line

    for key, what in (("2", "rules,"), ("3", "editing"), ("4", "www.lab.test"),
                      ("5", "orphan"), ("1", "Name")):
        keys(key)
        wait_screen(partial(contains, what), 15, f"view {key}: {what}")

    keys("?")
    wait_screen(lambda s: "coi-tui help: Containers" in s and "UNPROTECTED" in s, 10,
                "the help with the words of the Containers view")
    keys("Escape")
    wait_screen(lambda s: "coi-tui help" not in s, 5, "the help closed")

    keys("/", *NAME, "Enter")  # the filter takes the cursor to the one row left
    wait_screen(lambda s: re.search(rf"^{NAME} +1/\d+ *$", s, re.M) is not None, 10,
                "filtered to the new container, shown/total")
    keys("m")
    wait_screen(lambda s: "Network mode for " + NAME in s, 10, "the mode picker")
    keys("r")
    review = wait_screen(lambda s: "Cancel [n]" in s and "Apply [y]" in s, 20,
                         "the review with both buttons on screen")
    assert f"restricted for {NAME}" in review
    assert f"-s {ip}" in review  # its rules, line by line
    assert not any(f"-s {ip} " in rule for rule in lab.direct_rules())  # nothing ran yet
    keys("y")
    wait_screen(lambda s: re.search(r"\[\d+/\d+\] ok|done, verified", s) is not None, 20,
                "the worker's progress")
    wait_screen(lambda s: "restricted" in row_of(s, NAME), 20, "the new mode in its row")
    applied = [rule for rule in lab.direct_rules() if f"-s {ip} " in rule]
    assert any("-j REJECT" in rule for rule in applied), applied
    assert "UNPROTECTED" not in row_of(screen(), NAME)

    keys("q")
    wait_screen(lambda s: "EXITED 0" in s, 10, "coi-tui quit")


def test_a_rejected_attempt_let_through_from_the_traffic_view(tui: str, tmp_path: Path) -> None:
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    applied = subprocess.run([sys.executable, "-m", "coi_tui", "apply", NAME, "--mode",
                              "restricted"], capture_output=True, text=True, env=env)
    assert applied.returncode == 0, applied.stderr
    keys("6")
    wait_screen(partial(contains, "blocked/s"), 15, "the Traffic view")
    wait_screen(lambda s: "limited" in s, 15, "the feed reading")
    assert not lab.http_get(NAME, lab.LAN_HOST, timeout=1)
    rows = wait_screen(lambda s: re.search(rf"{NAME} +REJECTED +192\.168\.77\.2:80 +private",
                                           s) is not None, 10, "the REJECTED row")
    assert len(rows.splitlines()) <= 24
    keys("a")
    wait_screen(lambda s: f"Let {NAME} reach 192.168.77.2:80" in s and "Cancel [n]" in s, 10,
                "the allow dialog, Cancel first")
    keys("u")
    review = wait_screen(lambda s: "Cancel [n]" in s and "Apply [y]" in s, 20,
                         "the review with both buttons on screen")
    assert "192.168.77.2" in review
    assert not lab.http_get(NAME, lab.LAN_HOST, timeout=1)  # nothing ran yet
    keys("y")
    wait_screen(lambda s: re.search(r"\[\d+/\d+\] ok|done, verified", s) is not None, 20,
                "the worker's progress")
    assert lab.http_get(NAME, lab.LAN_HOST, timeout=2)
    assert not lab.http_get(NAME, lab.METADATA_HOST, timeout=1)
    keys("q")
    wait_screen(lambda s: "EXITED 0" in s, 10, "coi-tui quit")


def traffic_table() -> bool:
    return subprocess.run(["nft", "list", "table", "inet", "coi_tui_traffic"],
                          capture_output=True).returncode == 0


def test_closing_the_terminal_quits_cleanly_and_takes_its_table_away(tui: str) -> None:
    keys("6")
    wait_screen(lambda s: "attempts" in s and "limited" in s, 15, "the feed reading")
    assert traffic_table()
    subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)  # SIGHUP
    deadline = time.monotonic() + 15
    while traffic_table() and time.monotonic() < deadline:
        time.sleep(0.1)
    # the app quit as `q` would: its feed stopped its readers, and the last reader out
    # took the table (without the SIGHUP handler it stayed, an orphan)
    assert not traffic_table()
