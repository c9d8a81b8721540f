"""COI's layered config: search order, merge rules, and the source of every value."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi_tui.models import Mode
from coi_tui.services.config import DEFAULTS, ConfigError, Locations, load_effective


@pytest.fixture
def where(tmp_path: Path) -> Locations:
    return Locations(home=tmp_path / "home", cwd=tmp_path / "project",
                     env={"COI_CONFIG": str(tmp_path / "env.toml")},
                     etc=tmp_path / "etc" / "config.toml")


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_nothing_on_disk_gives_coi_s_defaults(where: Locations) -> None:
    effective = load_effective(where)
    settings = effective.settings()
    assert settings.mode is Mode.RESTRICTED and settings.refresh_interval_minutes == 30
    assert settings.block_private_networks and not settings.allow_local_network_access
    assert set(effective.sources.values()) == {DEFAULTS}


def test_each_later_layer_wins_and_says_where_it_came_from(where: Locations) -> None:
    etc = write(where.etc, '[network]\nmode = "open"\nrefresh_interval_minutes = 5\n')
    user = write(where.home / ".config/coi/config.toml", '[network]\nmode = "allowlist"\n')
    home = write(where.home / ".coi/config.toml", "[network]\nblock_private_networks = false\n")
    project = write(where.cwd / ".coi/config.toml",
                    '[network]\nallowed_domains = ["api.lab.test"]\n')
    env = write(Path(where.env["COI_CONFIG"]), "[network]\nrefresh_interval_minutes = 7\n")
    effective = load_effective(where)
    assert effective.values["network.mode"] == "allowlist"
    assert effective.sources["network.mode"] == str(user)
    assert effective.sources["network.block_private_networks"] == str(home)
    assert effective.values["network.allowed_domains"] == ["api.lab.test"]
    assert effective.sources["network.allowed_domains"] == str(project)
    assert effective.values["network.refresh_interval_minutes"] == 7
    assert effective.sources["network.refresh_interval_minutes"] == str(env)
    assert effective.files == (etc, user, home, project, env)


def test_a_present_false_wins_but_zero_interval_and_empty_list_do_not(where: Locations) -> None:
    write(where.home / ".config/coi/config.toml",
          '[network]\nallowed_domains = ["a.example"]\nrefresh_interval_minutes = 12\n')
    write(where.home / ".coi/config.toml",
          "[network]\nallow_local_network_access = false\nblock_metadata_endpoint = false\n"
          "refresh_interval_minutes = 0\nallowed_domains = []\n")
    values = load_effective(where).values
    assert values["network.block_metadata_endpoint"] is False
    assert values["network.refresh_interval_minutes"] == 12  # COI's quirk: 0 keeps the lower
    assert values["network.allowed_domains"] == ["a.example"]


def test_the_edit_target_is_the_highest_user_file_that_exists(where: Locations) -> None:
    assert where.default_edit_target() == where.home / ".coi" / "config.toml"
    user = write(where.home / ".config/coi/config.toml", "")
    assert where.default_edit_target() == user
    project = write(where.cwd / ".coi/config.toml", "")
    assert where.default_edit_target() == project


def test_an_invalid_layer_is_a_one_line_error_naming_its_file(where: Locations) -> None:
    bad = write(where.home / ".coi/config.toml", '[network]\nmode = "strict"\n')
    with pytest.raises(ConfigError) as raised:
        load_effective(where)
    assert str(bad) in str(raised.value) and "'strict'" in str(raised.value)
