"""COI's layered config: search order, merge rules, and the source of every value."""

from __future__ import annotations

from pathlib import Path

import pytest

from coi_tui.models import Mode, NetworkSettings
from coi_tui.services.config import (
    DEFAULTS,
    ConfigError,
    Locations,
    effective_settings,
    load_effective,
)


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


def test_coi_config_may_be_relative_to_the_cwd_or_under_home(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "project"
    relative = Locations(home=home, cwd=cwd, env={"COI_CONFIG": "extra.toml"})
    assert relative.files()[-1] == cwd / "extra.toml"
    tilde = Locations(home=home, cwd=cwd, env={"COI_CONFIG": "~/coi.toml"})
    assert tilde.files()[-1] == home / "coi.toml"


def test_below_a_file_means_the_layers_it_overrides(where: Locations) -> None:
    write(where.etc, '[network]\nmode = "open"\n')
    home = write(where.home / ".coi/config.toml", '[network]\nmode = "allowlist"\n')
    write(where.cwd / ".coi/config.toml", "[network]\nrefresh_interval_minutes = 3\n")
    below = load_effective(where, below=home)
    assert below.values["network.mode"] == "open"
    assert below.values["network.refresh_interval_minutes"] == 30
    assert below.files == (where.etc,)


def test_with_top_puts_a_file_above_every_layer_as_coi_config_does(where: Locations) -> None:
    write(where.cwd / ".coi/config.toml", '[network]\nmode = "allowlist"\n')
    mine = write(where.home / "elsewhere.toml", '[network]\nmode = "open"\n')
    on_top = where.with_top(mine)
    assert load_effective(on_top).sources["network.mode"] == str(mine)
    assert where.including(mine) == on_top
    assert where.including(where.cwd / ".coi/config.toml") == where  # already a layer


def test_effective_settings_are_what_the_engine_gets(where: Locations) -> None:
    write(where.home / ".coi/config.toml",
          '[network]\nmode = "allowlist"\nallowed_domains = ["api.lab.test", "10.0.0.1"]\n'
          "allow_local_network_access = true\nrefresh_interval_minutes = -1\n")
    assert effective_settings(where) == NetworkSettings(
        mode=Mode.ALLOWLIST, allow_local_network_access=True,
        allowed_domains=("api.lab.test", "10.0.0.1"), refresh_interval_minutes=-1)


def test_changed_keys_compare_effective_values(where: Locations) -> None:
    before = load_effective(where)
    write(where.home / ".coi/config.toml", '[network]\nmode = "open"\n'
          "refresh_interval_minutes = 0\n")  # 0 keeps 30: no change
    assert before.changed_keys(load_effective(where)) == ("network.mode",)


@pytest.mark.parametrize(("content", "named"), [
    (b"[network]\nmode = \"open\xff\"\n", "not UTF-8"),
    (b"[network]\nmode = \"open\"\nmode = \"open\"\n", "Key \"mode\" already exists"),
    (b"[network]\nmode = 'x'\n[network.mode]\n", "mode"),
])
def test_an_unreadable_layer_is_a_one_line_error_naming_its_file(
    where: Locations, content: bytes, named: str
) -> None:
    bad = where.home / ".coi/config.toml"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        load_effective(where)
    message = str(raised.value)
    assert str(bad) in message and named in message and "\n" not in message
