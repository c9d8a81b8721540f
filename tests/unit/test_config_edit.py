"""Editing COI's config in place: only the intended lines change, comments survive, the save is
atomic (temp file, .bak, mode, owner, symlink) and a plain load-and-save changes no byte."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest
import tomlkit

from coi_tui.services.config import ConfigEditor, ConfigError, Locations, load_effective
from coi_tui.services.config.template import TEMPLATE

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
    editor = ConfigEditor.load(config)
    assert not editor.changed()
    editor.save()
    assert config.read_bytes() == before


def test_crlf_line_endings_survive_an_edit(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(SAMPLE.read_bytes().replace(b"\n", b"\r\n"))
    editor = ConfigEditor.load(path)
    editor.set("network.mode", "open")
    editor.save()
    data = path.read_bytes()
    assert b'mode = "open"  # restricted | open | allowlist\r\n' in data
    assert data.count(b"\n") == data.count(b"\r\n")


def test_set_changes_only_that_value_and_keeps_its_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.set("network.mode", "allowlist")
    editor.save()
    assert changed_lines(before, config.read_text()) == [
        '-mode = "restricted"  # restricted | open | allowlist',
        '+mode = "allowlist"  # restricted | open | allowlist',
    ]


def test_set_parses_booleans_and_integers(config: Path) -> None:
    editor = ConfigEditor.load(config)
    editor.set("network.refresh_interval_minutes", "10")
    editor.set("block_private_networks", "false")
    editor.save()
    network = tomlkit.parse(config.read_text())["network"]
    assert network["refresh_interval_minutes"] == 10
    assert network["block_private_networks"] is False
    assert "# IP refresh interval (0 to disable)" in config.read_text()


def test_a_new_key_is_one_new_line_in_network_not_in_its_subtable(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.set("network.block_private_networks", False)
    editor.save()
    after = config.read_text()
    assert changed_lines(before, after) == ["+block_private_networks = false"]
    parsed = tomlkit.parse(after).unwrap()
    assert parsed["network"]["block_private_networks"] is False
    assert "block_private_networks" not in parsed["network"]["logging"]


def test_a_key_of_a_subtable_changes_only_its_line(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.set("network.logging.enabled", "false")
    editor.save()
    assert changed_lines(before, config.read_text()) == ["-enabled = true", "+enabled = false"]
    assert tomlkit.parse(config.read_text())["monitoring"]["enabled"] is False  # untouched


def test_network_split_around_another_section_is_still_edited_in_place(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[network]\nmode = "open"\n\n[incus]\nproject = "x"\n\n'
                    "[network.logging]\nenabled = true\n")
    before = path.read_text()
    editor = ConfigEditor.load(path)
    editor.set("network.mode", "restricted")
    editor.save()
    assert changed_lines(before, path.read_text()) == ['-mode = "open"', '+mode = "restricted"']


def test_add_appends_one_line_and_keeps_every_other_entry_and_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.add("network.allowed_domains", "github.com")
    editor.save()
    assert changed_lines(before, config.read_text()) == ['+    "github.com",']


def test_remove_drops_exactly_that_entry_with_its_comment(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.remove("network.allowed_domains", "registry.npmjs.org")
    editor.save()
    assert changed_lines(before, config.read_text()) == [
        '-    "registry.npmjs.org",   # npm package registry',
    ]


def test_add_then_remove_gives_back_the_same_bytes(config: Path) -> None:
    before = config.read_bytes()
    editor = ConfigEditor.load(config)
    editor.add("network.allowed_domains", "github.com")
    editor.set("network.mode", "allowlist")
    editor.save()
    editor = ConfigEditor.load(config)
    editor.remove("network.allowed_domains", "github.com")
    editor.set("network.mode", "restricted")
    editor.save()
    assert config.read_bytes() == before


def test_adding_to_a_file_without_the_list_starts_from_the_list_in_force(tmp_path: Path) -> None:
    where = Locations(home=tmp_path / "home", cwd=tmp_path / "work", env={},
                      etc=tmp_path / "etc.toml")
    where.etc.write_text('[network]\nallowed_domains = ["a.example", "b.example"]\n')
    user = where.home / ".coi" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text('[network]\nmode = "allowlist"\n')
    editor = ConfigEditor.load(user, inherited=load_effective(where, below=user))
    editor.add("network.allowed_domains", "c.example")
    editor.save()
    # COI's non-empty list replaces the lower one: without the copy a.example would be lost
    assert load_effective(where).values["network.allowed_domains"] == [
        "a.example", "b.example", "c.example"]
    assert f"# copied from {where.etc}" in user.read_text()


def test_removing_from_a_file_without_the_list_keeps_the_other_entries(tmp_path: Path) -> None:
    where = Locations(home=tmp_path / "home", cwd=tmp_path / "work", env={},
                      etc=tmp_path / "etc.toml")
    user = where.home / ".coi" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[network]\n")
    editor = ConfigEditor.load(user, inherited=load_effective(where, below=user))
    editor.remove("network.allowed_domains", "8.8.8.8")
    editor.save()
    assert load_effective(where).values["network.allowed_domains"] == [
        "1.1.1.1", "registry.npmjs.org", "npm.pkg.github.com", "api.anthropic.com",
        "platform.claude.com"]


def test_a_save_keeps_a_backup_the_mode_and_a_symlink(config: Path, tmp_path: Path) -> None:
    os.chmod(config, 0o640)
    link = tmp_path / "link.toml"
    link.symlink_to(config)
    before = config.read_bytes()
    editor = ConfigEditor.load(link)
    editor.set("network.mode", "open")
    assert editor.save() == config
    assert link.is_symlink() and os.readlink(link) == str(config)
    assert 'mode = "open"' in config.read_text()
    assert (tmp_path / "config.toml.bak").read_bytes() == before
    assert not (tmp_path / "link.toml.bak").exists()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "config.toml", "config.toml.bak", "link.toml"]  # no temp file left


def test_the_backup_holds_the_content_just_before_each_save(config: Path) -> None:
    first = config.read_bytes()
    editor = ConfigEditor.load(config)
    editor.set("network.mode", "open")
    editor.save()
    second = config.read_bytes()
    editor.set("network.mode", "allowlist")
    editor.save()
    assert config.with_name("config.toml.bak").read_bytes() == second != first


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_a_save_keeps_the_owner(config: Path) -> None:
    os.chown(config, 4321, 4322)
    editor = ConfigEditor.load(config)
    editor.set("network.mode", "open")
    editor.save()
    assert (config.stat().st_uid, config.stat().st_gid) == (4321, 4322)


def test_a_missing_file_is_created_from_the_commented_template(tmp_path: Path) -> None:
    path = tmp_path / ".coi" / "config.toml"
    editor = ConfigEditor.load(path)
    editor.set("network.mode", "allowlist")
    editor.save()
    assert path.read_text() == TEMPLATE + 'mode = "allowlist"\n'


def test_the_template_sets_nothing_so_lower_layers_stay_in_force(tmp_path: Path) -> None:
    where = Locations(home=tmp_path / "home", cwd=tmp_path / "work", env={},
                      etc=tmp_path / "etc.toml")
    where.etc.write_text('[network]\nmode = "allowlist"\nallow_local_network_access = true\n')
    editor = ConfigEditor.load(where.default_edit_target())
    editor.set("network.refresh_interval_minutes", 5)
    editor.save()
    effective = load_effective(where)
    assert effective.values["network.mode"] == "allowlist"
    assert effective.values["network.allow_local_network_access"] is True
    assert effective.sources["network.refresh_interval_minutes"] == str(
        where.home / ".coi" / "config.toml")


def test_a_file_changed_on_disk_since_loading_is_not_overwritten(config: Path) -> None:
    editor = ConfigEditor.load(config)
    config.write_text(config.read_text() + "\n# edited by hand meanwhile\n")
    editor.set("network.mode", "open")
    with pytest.raises(ConfigError, match="changed on disk"):
        editor.save()
    assert "# edited by hand meanwhile" in config.read_text()


def test_a_file_created_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    editor = ConfigEditor.load(path)
    path.write_text('[network]\nmode = "open"\n')
    editor.set("network.mode", "allowlist")
    with pytest.raises(ConfigError, match="changed on disk"):
        editor.save()
    assert path.read_text() == '[network]\nmode = "open"\n'
