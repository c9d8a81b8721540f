"""In a real 80x24 tmux pane, COI's nft era: the plan review of a mode change shows the lines
of the transaction that would run, in order, one row each, with Cancel and Apply on screen;
Cancel leaves the rules as they were."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import lab_support as lab
from tests.integration.test_tmux import SOCKET, tmux, wait_screen
from tests.nft_era.test_nft_era import coi_tui, lines_of

pytestmark = pytest.mark.lab


@pytest.fixture
def tui(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_text('[network]\nallowed_domains = ["www.lab.test"]\n')
    monkeypatch.setenv("HOME", str(home))
    command = (f"env HOME={home} COI_TUI_NAMESERVERS=127.0.0.1:5353 TERM=xterm-256color "
               f"{sys.executable} -m coi_tui")
    tmux("new-session", "-d", "-s", "coi", "-x", "80", "-y", "24", command)
    try:
        wait_screen(lambda s: "coi-lab-" in s, 30, "the Containers view")
        yield home
    finally:
        subprocess.run(["tmux", "-L", SOCKET, "send-keys", "-t", "coi", "q"],
                       capture_output=True)
        subprocess.run(["tmux", "-L", SOCKET, "kill-server"], capture_output=True)


def test_in_an_80x24_tmux_pane_the_review_shows_the_transaction_and_its_buttons(tui: Path) -> None:
    tmux("send-keys", "-t", "coi", "m")
    wait_screen(lambda s: "llowlist" in s, 10, "the mode picker")
    tmux("send-keys", "-t", "coi", "a")  # allowlist: a transaction of many lines
    review = wait_screen(lambda s: "Cancel" in s and "Apply" in s and "lines:" in s, 20,
                         "the plan review, its buttons on screen")
    selected = re.search(r"allowlist for (coi-lab-\d+)", review)
    assert selected is not None, review
    ip = lab.container_ip(selected.group(1))
    before = lines_of(ip)
    planned = coi_tui("apply", selected.group(1), "--mode", "allowlist", "--dry-run")
    expected = [line.strip() for line in planned.stdout.splitlines()[1:]]
    # the rules in one transaction, then (names resolved) the /etc/hosts block
    count = re.search(r"2 steps, (\d+) lines:", review)
    assert count is not None and int(count.group(1)) == len(expected) >= 8
    # each row the review shows is the next line of the plan, elided to the width, in order
    rows = [m.group(1).rstrip() for m in re.finditer(r"█  ([+~-] .*?)\s*█", review)]
    assert len(rows) >= 8, review
    for row, line in zip(rows, expected, strict=False):
        assert line.startswith(row.removesuffix("…")), (row, line)
    tmux("send-keys", "-t", "coi", "n")
    wait_screen(lambda s: "Cancel" not in s, 10, "the review closed")
    assert lines_of(ip) == before  # nothing ran
