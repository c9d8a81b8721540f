"""Editing COI's config in place: only the intended lines change, comments survive."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
import tomlkit

from coi_tui.services.config import ConfigEditor, ConfigError

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(SAMPLE.read_bytes())
    return path


def changed_lines(before: str, after: str) -> list[str]:
    return [
        line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), n=0,
                                              lineterm="")
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_a_plain_load_and_save_is_byte_identical(config: Path) -> None:
    before = config.read_bytes()
    editor = ConfigEditor(config)
    editor.save()
    assert config.read_bytes() == before


def test_set_changes_only_that_value_and_keeps_its_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor(config)
    editor.set("network.mode", "allowlist")
    editor.save()
    assert changed_lines(before, config.read_text()) == [
        '-mode = "restricted"  # restricted | open | allowlist',
        '+mode = "allowlist"  # restricted | open | allowlist',
    ]


def test_set_parses_booleans_and_integers(config: Path) -> None:
    editor = ConfigEditor(config)
    editor.set("network.refresh_interval_minutes", "10")
    editor.set("block_private_networks", "false")
    editor.save()
    network = tomlkit.parse(config.read_text())["network"]
    assert network["refresh_interval_minutes"] == 10
    assert network["block_private_networks"] is False
    assert "# IP refresh interval (0 to disable)" in config.read_text()


def test_add_appends_one_line_and_keeps_every_other_entry_and_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor(config)
    editor.add("network.allowed_domains", "github.com")
    editor.save()
    assert changed_lines(before, config.read_text()) == ['+    "github.com",']


def test_remove_drops_exactly_that_entry_with_its_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor(config)
    editor.remove("network.allowed_domains", "registry.npmjs.org")
    editor.save()
    assert changed_lines(before, config.read_text()) == [
        '-    "registry.npmjs.org",   # npm package registry',
    ]


def test_a_save_keeps_a_backup_the_mode_and_a_symlink(config: Path, tmp_path: Path) -> None:
    os.chmod(config, 0o600)
    link = tmp_path / "link.toml"
    link.symlink_to(config)
    before = config.read_bytes()
    editor = ConfigEditor(link)
    editor.set("network.mode", "open")
    editor.save()
    assert link.is_symlink() and os.readlink(link) == str(config)
    assert 'mode = "open"' in config.read_text()
    assert (tmp_path / "config.toml.bak").read_bytes() == before
    assert oct(config.stat().st_mode & 0o777) == "0o600"


def test_a_missing_file_is_created_from_the_commented_template(tmp_path: Path) -> None:
    path = tmp_path / ".coi" / "config.toml"
    editor = ConfigEditor(path)
    editor.set("network.mode", "allowlist")
    editor.save()
    text = path.read_text()
    assert 'mode = "allowlist"' in text and "# restricted: internet yes" in text


def test_a_file_changed_on_disk_since_loading_is_not_overwritten(config: Path) -> None:
    editor = ConfigEditor(config)
    config.write_text(config.read_text() + "\n# edited by hand meanwhile\n")
    editor.set("network.mode", "open")
    with pytest.raises(ConfigError, match="changed on disk"):
        editor.save()
    assert "# edited by hand meanwhile" in config.read_text()
