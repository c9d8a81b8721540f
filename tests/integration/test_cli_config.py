"""`coi-tui config` as a user runs it: exit codes, one-line errors, bytes on disk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"


def coi_tui(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOME": str(home)}
    env.pop("COI_CONFIG", None)
    return subprocess.run([sys.executable, "-m", "coi_tui", *args], capture_output=True,
                          text=True, timeout=60, env=env, cwd=home)


def test_set_add_remove_get_and_validate(tmp_path: Path) -> None:
    config = tmp_path / ".coi" / "config.toml"
    config.parent.mkdir()
    config.write_bytes(SAMPLE.read_bytes())
    assert coi_tui(tmp_path, "config", "set", "network.mode", "allowlist").returncode == 0
    assert coi_tui(tmp_path, "config", "add", "network.allowed_domains", "api.lab.test")\
        .returncode == 0
    assert coi_tui(tmp_path, "config", "remove", "network.allowed_domains", "1.1.1.1")\
        .returncode == 0
    got = json.loads(coi_tui(tmp_path, "config", "get", "network.mode", "--json").stdout)
    assert got == {"network.mode": {"value": "allowlist", "source": str(config)}}
    text = config.read_text()
    assert '"api.lab.test"' in text and '"1.1.1.1"' not in text
    assert "# Claude API" in text
    assert coi_tui(tmp_path, "config", "validate").returncode == 0


def test_invalid_input_exits_2_with_one_line_and_writes_nothing(tmp_path: Path) -> None:
    config = tmp_path / ".coi" / "config.toml"
    config.parent.mkdir()
    config.write_bytes(SAMPLE.read_bytes())
    for args in (("set", "network.mode", "strict"),
                 ("add", "network.allowed_domains", "*.example.com"),
                 ("set", "network.nope", "1")):
        result = coi_tui(tmp_path, "config", *args)
        assert result.returncode == 2
        assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.stderr
        assert config.read_bytes() == SAMPLE.read_bytes()


def test_a_broken_config_is_a_warning_for_status_and_exit_2_for_changes(tmp_path: Path) -> None:
    config = tmp_path / ".coi" / "config.toml"
    config.parent.mkdir()
    config.write_text('[network]\nmode = "open\n')
    result = coi_tui(tmp_path, "config", "validate")
    assert result.returncode == 2 and "line 2" in result.stderr
    # a read-only view runs on COI's defaults and names the problem in one line
    result = coi_tui(tmp_path, "status")
    assert result.returncode in (0, 1) and "TOML syntax error" in result.stderr
    assert result.stderr.startswith("coi-tui: warning: config not used (")
    # what would change rules refuses it
    result = coi_tui(tmp_path, "apply", "coi-lab-1", "--mode", "open", "--dry-run")
    assert result.returncode == 2 and "TOML syntax error" in result.stderr
