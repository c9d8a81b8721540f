"""`coi-tui status` and `rules` against the lab with a config written for current COI (the nft
era's keys), and with a broken one: a config problem never stops a read-only view. HOME is a
temporary directory: the real ~/.coi is never read or written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import lab_support as lab

pytestmark = pytest.mark.lab

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_nft_default_config.toml"
REPO = Path(__file__).resolve().parents[2]


def coi_tui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COI_CONFIG"}
    work = home / "work"  # no ./.coi/config.toml here
    work.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "coi_tui", *args], capture_output=True, text=True, timeout=60,
        cwd=work, env={**env, "HOME": str(home), "PYTHONPATH": str(REPO)},
    )


def home_with(tmp_path: Path, config: bytes) -> Path:
    home = tmp_path / "home"
    (home / ".coi").mkdir(parents=True)
    (home / ".coi" / "config.toml").write_bytes(config)
    return home


def test_status_runs_with_coi_s_current_config(tmp_path: Path) -> None:
    lab.require_lab()
    home = home_with(tmp_path, FIXTURE.read_bytes())
    validate = coi_tui(home, "config", "validate")
    assert validate.returncode == 0, validate.stderr
    assert validate.stdout == f"valid: {home / '.coi' / 'config.toml'}\n"
    get = coi_tui(home, "config", "get", "--json")
    values = json.loads(get.stdout)
    assert values["network.allowed_ports"]["value"] == [443, 80, 22]
    assert values["network.hosts"]["value"][0]["ip"] == "192.168.77.2"
    result = coi_tui(home, "status", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    names = {c["name"] for c in json.loads(result.stdout)["containers"]}
    assert set(lab.CONTAINERS) <= names
    assert (home / ".coi" / "config.toml").read_bytes() == FIXTURE.read_bytes()


@pytest.mark.parametrize("command", ["status", "rules"])
def test_a_broken_config_is_one_warning_and_the_view_still_runs(
    tmp_path: Path, command: str
) -> None:
    lab.require_lab()
    good = coi_tui(home_with(tmp_path / "good", FIXTURE.read_bytes()), command, "--json")
    broken = FIXTURE.read_bytes().replace(b"allowed_ports = [443, 80, 22]",
                                          b"allowed_ports = [443, 80, 70000]")
    home = home_with(tmp_path / "bad", broken)
    result = coi_tui(home, command, "--json")
    assert result.returncode == good.returncode, result.stderr  # the warning changes no exit
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("coi-tui: warning: config not used (")
    assert "network.allowed_ports: 70000 is out of range (1-65535)" in result.stderr
    assert "COI's built-in defaults" in result.stderr
    json.loads(result.stdout)
    # what changes rules still refuses the broken config, with exit 2 and one line
    refused = coi_tui(home, "apply", lab.CONTAINERS[0], "--mode", "restricted", "--dry-run")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert (home / ".coi" / "config.toml").read_bytes() == broken
