"""`coi-tui config get|set|add|remove|validate`: values with their sources, edits of the right
file, exit 2 with one line on stderr and no byte written on invalid input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from coi_tui import wiring as settings
from coi_tui.main import main
from coi_tui.services.config import Locations

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"


@pytest.fixture
def where(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Locations:
    """COI's search paths under tmp_path: the real ~/.coi and /etc/coi are never read."""
    (tmp_path / "project").mkdir()
    monkeypatch.chdir(tmp_path / "project")
    monkeypatch.delenv("COI_CONFIG", raising=False)
    locations = Locations(home=tmp_path / "home", cwd=tmp_path / "project",
                          etc=tmp_path / "etc" / "config.toml")
    monkeypatch.setattr(settings, "locations_from_env",
                        lambda: Locations(locations.home, locations.cwd, dict(os.environ),
                                          locations.etc))
    return locations


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["config", *argv]) if argv[0] != "--config" else main(
        [argv[0], argv[1], "config", *argv[2:]])
    out, err = capsys.readouterr()
    return code, out, err


def test_get_prints_the_effective_value_and_its_source(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    user = write(where.home / ".config/coi/config.toml", '[network]\nmode = "allowlist"\n')
    assert run(capsys, "get", "network.mode") == (
        0, f'network.mode = "allowlist"  # {user}\n', "")
    assert run(capsys, "get", "refresh_interval_minutes") == (
        0, "network.refresh_interval_minutes = 30  # built-in defaults\n", "")


def test_get_json_lists_every_key_with_value_and_source(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(where.cwd / ".coi/config.toml",
                    '[network]\nallowed_domains = ["api.lab.test"]\n')
    code, out, _ = run(capsys, "get", "--json")
    data = json.loads(out)
    assert code == 0 and len(data) == 12  # 8 of the firewalld era, 4 of the nft era
    assert data["network.allowed_domains"] == {"value": ["api.lab.test"], "source": str(project)}
    assert data["network.mode"] == {"value": "restricted", "source": "built-in defaults"}


def test_the_config_option_is_the_top_layer_for_get(
    where: Locations, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(where.cwd / ".coi/config.toml", '[network]\nmode = "allowlist"\n')
    mine = write(tmp_path / "mine.toml", '[network]\nmode = "open"\n')
    assert run(capsys, "--config", str(mine), "get", "mode")[1] == (
        f'network.mode = "open"  # {mine}\n')


def test_set_edits_the_highest_user_file_that_exists(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = write(where.home / ".config/coi/config.toml", '[network]\nmode = "open"\n')
    higher = where.home / ".coi/config.toml"
    higher.parent.mkdir(parents=True)
    higher.write_bytes(SAMPLE.read_bytes())
    code, out, err = run(capsys, "set", "network.mode", "allowlist")
    assert (code, out, err) == (0, f'{higher}: network.mode = "allowlist"\n', "")
    assert 'mode = "allowlist"  # restricted | open | allowlist' in higher.read_text()
    assert lower.read_text() == '[network]\nmode = "open"\n'


def test_set_without_any_file_creates_home_coi_config(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "set", "network.block_private_networks", "false")[0] == 0
    text = (where.home / ".coi/config.toml").read_text()
    assert text.startswith("# code-on-incus configuration")
    assert text.endswith("[network]\nblock_private_networks = false\n")


def test_a_value_coi_s_merge_ignores_is_saved_with_a_note(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    lower = write(where.home / ".config/coi/config.toml",
                  "[network]\nrefresh_interval_minutes = 12\n")
    home = write(where.home / ".coi/config.toml", "[network]\n")
    code, out, err = run(capsys, "--config", str(home), "set", "refresh_interval_minutes", "0")
    assert code == 0 and out == f"{home}: network.refresh_interval_minutes = 0\n"
    assert err == (f"coi-tui: note: network.refresh_interval_minutes in effect is 12, "
                   f"from {lower}\n")


def test_the_config_option_picks_the_file_to_edit(
    where: Locations, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    project = write(where.cwd / ".coi/config.toml", '[network]\nmode = "open"\n')
    mine = tmp_path / "elsewhere" / "mine.toml"
    assert run(capsys, "--config", str(mine), "set", "mode", "allowlist")[0] == 0
    assert mine.read_text().endswith('[network]\nmode = "allowlist"\n')
    assert project.read_text() == '[network]\nmode = "open"\n'


def test_add_and_remove_change_one_line_of_the_list(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    path = where.home / ".coi/config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(SAMPLE.read_bytes())
    assert run(capsys, "add", "network.allowed_domains", "github.com")[0] == 0
    assert '    "github.com",\n]' in path.read_text()
    assert run(capsys, "remove", "allowed_domains", "github.com")[0] == 0
    assert path.read_bytes() == SAMPLE.read_bytes()


def test_unchanged_edits_write_nothing(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(where.home / ".coi/config.toml", '[network]\nmode = "open"\n')
    assert run(capsys, "set", "mode", "open") == (
        0, f'{path}: unchanged, network.mode = "open"\n', "")
    assert not path.with_name("config.toml.bak").exists()


INVALID = [
    (["set", "network.mode", "strict"], "network.mode: unknown mode 'strict'"),
    (["set", "network.mdoe", "open"], "network.mdoe: unknown key (did you mean network.mode?)"),
    (["set", "block_private_networks", "maybe"], "'maybe'"),
    (["set", "refresh_interval_minutes", "ten"], "'ten'"),
    (["set", "allowed_domains", "a.example"], "use `add` and `remove`"),
    (["add", "allowed_domains", "*.example.com"], "'*.example.com'"),
    (["add", "allowed_domains", "http://example.com"], "'http://example.com'"),
    (["add", "allowed_domains", "example.com:70000"], "'example.com:70000'"),
    (["add", "allowed_domains", "::1"], "'::1'"),
    (["add", "allowed_domains", "api.anthropic.com"], "already listed"),
    (["remove", "allowed_domains", "nope.example"], "'nope.example' is not in the list"),
    (["get", "network.nope"], "network.nope: unknown key"),
]


@pytest.mark.parametrize(("argv", "reason"), INVALID, ids=[" ".join(a) for a, _ in INVALID])
def test_invalid_input_exits_2_with_one_line_and_writes_nothing(
    where: Locations, capsys: pytest.CaptureFixture[str], argv: list[str], reason: str
) -> None:
    path = where.home / ".coi/config.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(SAMPLE.read_bytes())
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("coi-tui: ") and err.count("\n") == 1 and reason in err, err
    assert path.read_bytes() == SAMPLE.read_bytes()
    assert sorted(p.name for p in path.parent.iterdir()) == ["config.toml"]


def test_a_malformed_file_is_refused_by_every_verb(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(where.cwd / ".coi/config.toml", '[network]\nmode = "open\n')
    before = path.read_bytes()
    for argv in (["get", "mode"], ["set", "mode", "open"], ["add", "allowed_domains", "a.b.c"],
                 ["validate"]):
        code, _, err = run(capsys, *argv)
        assert code == 2 and "line 2, column" in err and err.count("\n") == 1, (argv, err)
    assert path.read_bytes() == before


def test_validate_checks_every_layer(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(capsys, "validate") == (0, "valid: no files, COI's built-in defaults\n", "")
    good = write(where.home / ".coi/config.toml", '[network]\nmode = "open"\n')
    bad = write(where.etc, "[network]\nmode = \"allowlist\"\nallowed_domains = []\nfoo = 1\n")
    code, out, err = run(capsys, "validate")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        f"coi-tui: {bad}: network.foo: unknown key (known: network.mode, "
        "network.block_private_networks, network.block_metadata_endpoint, "
        "network.allow_local_network_access, network.allowed_domains, "
        "network.refresh_interval_minutes, network.logging.enabled, network.logging.path, "
        "network.use_sudo, network.dns_servers, network.allowed_ports, network.hosts), got 1",
        f"coi-tui: {bad}: network.allowed_domains: allowlist mode requires at least one "
        "allowed domain (the list is empty)",
    ]
    code, out, _ = run(capsys, "validate", "--json")
    assert code == 2
    assert json.loads(out)["files"] == [str(bad), str(good)]
    bad.write_text('[network]\nmode = "open"\n')
    assert run(capsys, "validate") == (0, f"valid: {bad}, {good}\n", "")


def test_validate_a_missing_config_option_file_is_an_error(
    where: Locations, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, err = run(capsys, "--config", str(tmp_path / "missing.toml"), "validate")
    assert code == 2 and "missing.toml: no such config file" in err
