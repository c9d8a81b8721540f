"""Grants against the lab (firewalld era), on coi-lab-1 in allowlist mode with a COI config
that does not list 203.0.113.20: `coi-tui allow` lets it through for 5 s, the next expiry run
takes it out again (and says so); `--save` adds the entry with every other byte of the config
kept; metadata is refused. HOME is a temp dir; coi-lab-1 is put back (`coi-tui remove`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import lab_support as lab

pytestmark = pytest.mark.lab

NAME = lab.CONTAINERS[0]  # coi-lab-1
TARGET = "203.0.113.20"
CONFIG = """# my COI config: hand-written, with comments everywhere
[network]
mode = "allowlist"   # the agent gets only what is listed
allowed_domains = [
  "api.lab.test",    # the API
]
refresh_interval_minutes = 30
"""


def coi_tui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home), "COI_TUI_NAMESERVERS": "127.0.0.1:5353"}
    env.pop("COI_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=120, env=env)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    lab.require_lab()
    (tmp_path / ".coi").mkdir()
    (tmp_path / ".coi" / "config.toml").write_text(CONFIG)
    applied = coi_tui(tmp_path, "apply", NAME, "--mode", "allowlist")
    assert applied.returncode == 0, applied.stderr
    try:
        yield tmp_path
    finally:
        removed = coi_tui(tmp_path, "remove", NAME)
        assert removed.returncode == 0, removed.stderr


def reaches() -> bool:
    return lab.http_get(NAME, TARGET)


def test_a_timed_grant_lets_it_through_and_goes_when_its_time_is_up(home: Path) -> None:
    assert not reaches()
    granted = coi_tui(home, "allow", NAME, f"{TARGET}:80", "--for", "5s", "--yes")
    started = time.monotonic()
    assert granted.returncode == 0, granted.stderr
    assert f"-d {TARGET}/32 -p tcp --dport 80 -j ACCEPT" in granted.stdout
    assert reaches()
    listed = coi_tui(home, "allow", "--list", "--json")
    assert [g["address"] for g in json.loads(listed.stdout)["grants"]] == [TARGET]
    time.sleep(max(0.0, 5.5 - (time.monotonic() - started)))
    expired = coi_tui(home, "allow", "--list", "--json")  # whoever runs next expires it
    assert expired.returncode == 0, expired.stderr
    assert f"grant for {NAME} to {TARGET}:80 expired" in expired.stderr
    assert json.loads(expired.stdout)["grants"] == []
    assert not any(TARGET in rule for rule in lab.direct_rules())
    assert not reaches()
    audit = (home / ".coi" / "logs" / "coi-tui-audit.jsonl").read_text()
    assert '"action": "expire"' in audit


def test_save_adds_the_entry_and_keeps_every_byte(home: Path) -> None:
    config = home / ".coi" / "config.toml"
    saved = coi_tui(home, "allow", NAME, TARGET, "--save", "--yes")
    assert saved.returncode == 0, saved.stderr
    assert reaches()
    assert config.read_text() == CONFIG.replace(
        '  "api.lab.test",    # the API\n',
        f'  "api.lab.test",    # the API\n    "{TARGET}",\n')
    revoked = coi_tui(home, "allow", "--revoke", NAME, TARGET, "--yes")
    assert revoked.returncode == 0, revoked.stderr
    assert f"grant for {NAME} to {TARGET} revoked" in revoked.stderr
    assert not reaches()  # the grant is gone; the saved entry counts from the next apply
    again = coi_tui(home, "apply", NAME, "--mode", "allowlist")
    assert again.returncode == 0, again.stderr
    assert reaches()


def mine() -> list[str]:
    ip = lab.container_ip(NAME)
    return [rule for rule in lab.direct_rules() if f" -s {ip} " in rule]


def test_metadata_and_dry_run_change_nothing(home: Path) -> None:
    before = mine()
    refused = coi_tui(home, "allow", NAME, "169.254.77.1:80", "--yes")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0 and "never granted" in refused.stderr
    dry = coi_tui(home, "allow", NAME, f"{TARGET}:80", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["applied"] is False
    assert mine() == before
    assert not reaches()
