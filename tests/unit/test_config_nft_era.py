"""COI's current (nftables era) config: a copy of COI's embedded default config plus
`use_sudo`, `dns_servers`, `allowed_ports`, `[[network.hosts]]` and a `host:port` entry
validates, reads into NetworkSettings, edits in place byte-faithfully, and bad values are
refused in one line without a byte written. A config problem never stops a read-only view."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable, Switch, TextArea

from coi_tui import wiring as settings
from coi_tui.eras.nft.model import HostEntry as NftHostEntry
from coi_tui.main import main
from coi_tui.models import HostEntry, Mode
from coi_tui.services.config import ConfigEditor, ConfigError, Locations, load_effective, problems
from coi_tui.services.config.validate import parse_toml
from coi_tui.services.resolve import resolve_allowlist, without_ports
from coi_tui.ui.screens.config_view import ConfigView
from tests.unit import test_config_cli
from tests.unit.dns_fakes import FakeQuerier
from tests.unit.test_config_cli import write
from tests.unit.test_config_edit import changed_lines
from tests.waiting import wait_until

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_nft_default_config.toml"

Edit = Callable[[ConfigEditor], None]
where = test_config_cli.where  # COI's search paths under tmp_path, as the CLI tests have them


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_bytes(FIXTURE.read_bytes())
    return path


# ------------------------------------------------------------------ reading
def test_coi_s_current_default_config_with_every_nft_key_validates() -> None:
    document = parse_toml(FIXTURE.read_text()).unwrap()
    assert problems(document) == []
    # every other table of COI's file is COI's business and is kept as it is
    assert {"container", "limits", "monitoring", "security", "detection"} <= document.keys()


def test_the_nft_keys_reach_network_settings(where: Locations) -> None:
    home = write(where.home / ".coi/config.toml", FIXTURE.read_text())
    effective = load_effective(where)
    s = effective.settings()
    assert s.mode is Mode.RESTRICTED and s.use_sudo is True
    assert s.allowed_domains == ("registry.npmjs.org:443", "npm.pkg.github.com",
                                 "api.anthropic.com", "platform.claude.com")  # raw, as written
    assert s.dns_servers == ("10.147.0.1",)
    assert s.allowed_ports == (443, 80, 22)
    assert s.hosts == (HostEntry("192.168.77.2", ("lan", "lan.lab.test"), (8080,)),
                       HostEntry("10.9.9.9", ("nas",)))
    assert HostEntry is NftHostEntry  # one class for the config and the nft policy
    assert {effective.sources[k] for k in ("network.use_sudo", "network.dns_servers",
                                           "network.allowed_ports", "network.hosts")} == {str(home)}


def test_defaults_of_the_nft_keys(where: Locations) -> None:
    s = load_effective(where).settings()
    assert (s.use_sudo, s.dns_servers, s.allowed_ports, s.hosts) == (True, (), (), ())


def test_nft_lists_merge_as_coi_does_now_and_only_from_trusted_files(where: Locations) -> None:
    write(where.home / ".coi/config.toml",
          '[network]\nallowed_ports = [443]\ndns_servers = ["10.0.0.53"]\nuse_sudo = false\n'
          '[[network.hosts]]\nip = "10.1.1.1"\nhostnames = ["a"]\n')
    project = write(where.cwd / ".coi/config.toml",
                    "[network]\nallowed_ports = [22]\nuse_sudo = true\n")
    top = write(where.cwd.parent / "top.toml", "[network]\ndns_servers = []\n")
    effective = load_effective(where.with_top(top))
    s = effective.settings()
    assert s.allowed_ports == (443,)  # the project's is ignored: COI strips it (untrusted)
    assert effective.ignored == (
        f"{project}: network.allowed_ports ignored: COI takes it only from trusted files "
        "(~/.coi/config.toml, $COI_CONFIG)",)
    assert s.use_sudo is True  # not a trusted-only key: the project's value wins
    assert s.dns_servers == ()  # a present empty list replaces (COI's mergeSlice)
    assert s.hosts == (HostEntry("10.1.1.1", ("a",)),)


# ------------------------------------------------------------------ editing
def test_a_plain_load_and_save_is_byte_identical(config: Path) -> None:
    editor = ConfigEditor.load(config)
    assert not editor.changed() and editor.save() == config
    assert config.read_bytes() == FIXTURE.read_bytes()


HOST_LAN = ["", "[[network.hosts]]", 'ip = "192.168.77.2"', 'hostnames = ["lan", "lan.lab.test"]',
            "ports = [8080]"]
EDITS: list[tuple[str, Edit, list[str]]] = [
    ("set use_sudo", lambda e: e.set("network.use_sudo", "false"),
     ["-use_sudo = true", "+use_sudo = false"]),
    ("add a port", lambda e: e.add("network.allowed_ports", "8443"),
     ["-allowed_ports = [443, 80, 22]", "+allowed_ports = [443, 80, 22, 8443]"]),
    ("remove a port", lambda e: e.remove("allowed_ports", "80"),
     ["-allowed_ports = [443, 80, 22]", "+allowed_ports = [443, 22]"]),
    ("add a DNS server", lambda e: e.add("network.dns_servers", "10.147.0.53"),
     ['-dns_servers = ["10.147.0.1"]  # the bridge\'s resolver',
      '+dns_servers = ["10.147.0.1", "10.147.0.53"]  # the bridge\'s resolver']),
    ("remove the DNS server", lambda e: e.remove("network.dns_servers", "10.147.0.1"),
     ['-dns_servers = ["10.147.0.1"]  # the bridge\'s resolver',
      "+dns_servers = []  # the bridge's resolver"]),
    ("add a domain with ports", lambda e: e.add("allowed_domains", "github.com:443,8000-8100"),
     ['+    "github.com:443,8000-8100",']),
    ("add a CIDR", lambda e: e.add("allowed_domains", "142.250.0.0/15"),
     ['+    "142.250.0.0/15",']),
    ("remove the host:port entry", lambda e: e.remove("allowed_domains", "registry.npmjs.org:443"),
     ['-    "registry.npmjs.org:443",']),
    ("add a host as an inline table",
     lambda e: e.add("network.hosts", '{ ip = "192.168.1.50", hostnames = ["nas2"], '
                                      "ports = [443] }"),
     ["+", "+[[network.hosts]]", '+ip = "192.168.1.50"', '+hostnames = ["nas2"]',
      "+ports = [443]"]),
    ("add a host as an /etc/hosts line", lambda e: e.add("network.hosts", "192.168.1.51 a b.lan"),
     ["+", "+[[network.hosts]]", '+ip = "192.168.1.51"', '+hostnames = ["a", "b.lan"]']),
    ("remove the first host", lambda e: e.remove("network.hosts", "192.168.77.2"),
     [f"-{line}" for line in HOST_LAN]),
    ("remove the last host", lambda e: e.remove("network.hosts", "10.9.9.9"),
     ["-", "-[[network.hosts]]", '-ip = "10.9.9.9"  # a NAS', '-hostnames = ["nas"]']),
]


@pytest.mark.parametrize(("kind", "edit", "lines"), EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_changes_exactly_the_intended_lines(
    config: Path, kind: str, edit: Edit, lines: list[str]
) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    edit(editor)
    editor.save()
    after = config.read_text()
    assert changed_lines(before, after) == lines
    assert config.with_name("config.toml.bak").read_text() == before
    assert problems(parse_toml(after).unwrap()) == []


def test_removing_every_host_drops_the_key_and_nothing_else(config: Path) -> None:
    before = config.read_text()
    editor = ConfigEditor.load(config)
    editor.remove("network.hosts", "10.9.9.9")
    editor.remove("network.hosts", "192.168.77.2")
    editor.save()
    assert changed_lines(before, config.read_text()) == [
        *(f"-{line}" for line in HOST_LAN),
        "-", "-[[network.hosts]]", '-ip = "10.9.9.9"  # a NAS', '-hostnames = ["nas"]']
    assert ConfigEditor.load(config).get("network.hosts") is None


def test_a_list_the_file_lacks_starts_from_the_one_below(where: Locations) -> None:
    write(where.home / ".coi/config.toml", FIXTURE.read_text())
    mine = write(where.cwd.parent / "mine.toml", '[network]\nmode = "restricted"\n')
    locations = where.with_top(mine)
    editor = ConfigEditor.load(mine, inherited=load_effective(locations, below=mine))
    editor.add("network.hosts", "10.2.2.2 extra")
    editor.add("network.allowed_ports", "8443")
    editor.save()
    s = load_effective(locations).settings()
    assert [h.ip for h in s.hosts] == ["192.168.77.2", "10.9.9.9", "10.2.2.2"]
    assert s.allowed_ports == (443, 80, 22, 8443)


INVALID: list[tuple[str, Edit, str]] = [
    ("port 0", lambda e: e.add("network.allowed_ports", "0"),
     "network.allowed_ports: 0 is out of range (1-65535)"),
    ("port too big", lambda e: e.add("network.allowed_ports", "70000"), "70000 is out of range"),
    ("port not a number", lambda e: e.add("network.allowed_ports", "https"),
     "network.allowed_ports: expected an integer, got 'https'"),
    ("port listed", lambda e: e.add("network.allowed_ports", "443"), "443 is already listed"),
    ("DNS server by name", lambda e: e.add("network.dns_servers", "dns.example"),
     "network.dns_servers: 'dns.example' is not a valid IPv4 address"),
    ("DNS server IPv6", lambda e: e.add("network.dns_servers", "2001:db8::53"), "'2001:db8::53'"),
    ("use_sudo not a boolean", lambda e: e.set("network.use_sudo", "maybe"),
     "network.use_sudo: expected true or false, got 'maybe'"),
    ("set on hosts", lambda e: e.set("network.hosts", "10.0.0.1 x"), "use `add` and `remove`"),
    ("host with a bad ip", lambda e: e.add("network.hosts", "10.0.0.256 nas"),
     "network.hosts: '10.0.0.256 nas': ip '10.0.0.256' is not a valid IPv4 address"),
    ("host without a name", lambda e: e.add("network.hosts", "10.0.0.1"),
     "at least one hostname is required"),
    ("host with a bad name", lambda e: e.add("network.hosts", "10.0.0.1 bad_name"),
     "'bad_name' is not a valid hostname"),
    ("host with a bad port", lambda e: e.add(
        "network.hosts", '{ ip = "10.0.0.1", hostnames = ["x"], ports = [0] }'),
     "port 0 is out of range (1-65535)"),
    ("host with an unknown field", lambda e: e.add(
        "network.hosts", '{ ip = "10.0.0.1", hostname = ["x"] }'), "unknown key hostname"),
    ("host as broken TOML", lambda e: e.add("network.hosts", '{ ip = "10.0.0.1", '),
     "expected an inline table"),
    ("host listed twice", lambda e: e.add("network.hosts", "10.9.9.9 nas2"),
     "network.hosts: 10.9.9.9 is already listed"),
    ("remove a host not there", lambda e: e.remove("network.hosts", "10.0.0.99"),
     "network.hosts: no entry with ip '10.0.0.99'"),
    ("raw: ports as strings",
     lambda e: e.replace_text('[network]\nallowed_ports = ["443"]\n'),
     "network.allowed_ports: '443' is not an integer"),
    ("raw: ports as booleans", lambda e: e.replace_text("[network]\nallowed_ports = [true]\n"),
     "network.allowed_ports: True is not an integer"),
    ("raw: hosts as one table",
     lambda e: e.replace_text('[network.hosts]\nip = "10.0.0.1"\nhostnames = ["x"]\n'),
     "network.hosts: expected an array of tables"),
    ("raw: a host without ip",
     lambda e: e.replace_text('[[network.hosts]]\nhostnames = ["x"]\n'),
     "network.hosts[0]: ip None is not a valid IPv4 address"),
    ("raw: DNS servers in allowlist mode",
     lambda e: e.replace_text('[network]\nmode = "allowlist"\nallowed_domains = ["a.example"]\n'
                              'dns_servers = ["10.0.0.53"]\n'),
     "network.dns_servers: not compatible with allowlist mode"),
    ("raw: a domain with a bad port",
     lambda e: e.replace_text('[network]\nallowed_domains = ["a.example:https"]\n'),
     "network.allowed_domains: 'a.example:https' is a bad port list 'https'"),
]


@pytest.mark.parametrize(("kind", "edit", "named"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_values_are_refused_in_one_line_and_the_file_is_untouched(
    config: Path, kind: str, edit: Edit, named: str
) -> None:
    editor = ConfigEditor.load(config)
    with pytest.raises(ConfigError, match=re.escape(named)) as raised:
        edit(editor)
        editor.save()
    assert "\n" not in str(raised.value)
    assert config.read_bytes() == FIXTURE.read_bytes()  # no byte written, no temp file, no .bak
    assert [p.name for p in config.parent.iterdir()] == ["config.toml"]


# ------------------------------------------------------------------ the CLI
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_get_validate_add_remove_on_the_nft_config(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(where.home / ".coi/config.toml", FIXTURE.read_text())
    assert run(capsys, "config", "validate") == (0, f"valid: {path}\n", "")
    assert run(capsys, "config", "get", "network.hosts") == (0, (
        'network.hosts = [{ ip = "192.168.77.2", hostnames = ["lan", "lan.lab.test"], '
        'ports = [8080] }, { ip = "10.9.9.9", hostnames = ["nas"] }]  # ' f"{path}\n"), "")
    assert run(capsys, "config", "get", "use_sudo")[1] == f"network.use_sudo = true  # {path}\n"
    code, out, err = run(capsys, "config", "add", "network.hosts", "10.3.3.3 build")
    assert (code, err) == (0, "") and out.startswith(f"{path}: network.hosts = [")
    assert run(capsys, "config", "remove", "network.hosts", "10.3.3.3")[0] == 0
    assert path.read_bytes() == FIXTURE.read_bytes()
    assert run(capsys, "config", "add", "allowed_ports", "8443") == (
        0, f"{path}: network.allowed_ports = [443, 80, 22, 8443]\n", "")
    code, out, err = run(capsys, "config", "add", "allowed_ports", "0")
    assert (code, out) == (2, "") and err.count("\n") == 1 and "0 is out of range" in err


def test_cli_get_notes_a_value_coi_ignores(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    project = write(where.cwd / ".coi/config.toml", "[network]\nallowed_ports = [22]\n")
    code, out, err = run(capsys, "config", "get", "allowed_ports")
    assert (code, out) == (0, "network.allowed_ports = []  # built-in defaults\n")
    assert err == (f"coi-tui: note: {project}: network.allowed_ports ignored: COI takes it "
                   "only from trusted files (~/.coi/config.toml, $COI_CONFIG)\n")


# ------------------------------------------------------------------ a broken config
def test_read_only_views_get_defaults_and_one_line_while_changes_still_refuse(
    where: Locations, capsys: pytest.CaptureFixture[str]
) -> None:
    write(where.home / ".coi/config.toml", "[network]\nallowed_ports = [0]\n")
    args = argparse.Namespace(config=None)
    found, problem = settings.settings_or_problem(args)
    assert found == load_effective(Locations(where.home / "none", where.cwd)).settings()
    assert problem is not None and "network.allowed_ports: 0 is out of range" in problem
    assert "\n" not in problem
    assert settings.view_settings(args) == found
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("coi-tui: warning: config not used (")
    assert "showing COI's built-in defaults" in err
    with pytest.raises(ConfigError):  # apply/remove/watch keep refusing it (exit 2)
        settings.settings_from_args(args)


def test_a_good_config_has_no_problem(where: Locations) -> None:
    write(where.home / ".coi/config.toml", FIXTURE.read_text())
    found, problem = settings.settings_or_problem(argparse.Namespace(config=None))
    assert problem is None and found.allowed_ports == (443, 80, 22)


# ------------------------------------------------------------------ resolving host:port
def test_the_firewalld_era_resolver_strips_ports_before_resolving() -> None:
    assert without_ports("registry.npmjs.org:443") == "registry.npmjs.org"
    assert without_ports("203.0.113.0/24:22,80-90") == "203.0.113.0/24"
    assert without_ports("2001:db8::1") == "2001:db8::1"  # IPv6 stays whole (and is refused)
    querier = FakeQuerier({"api.lab.test": (["203.0.113.10"], 300)})
    resolution = resolve_allowlist(
        ["api.lab.test:443", "api.lab.test", "203.0.113.11:80", "203.0.113.0/24:22"],
        resolver=querier, clock=lambda: 1000.0)
    assert [q for q, _ in querier.asked] == ["api.lab.test"]  # once, without the port
    assert list(resolution.records) == ["api.lab.test", "203.0.113.11", "203.0.113.0/24"]
    assert resolution.ips == ("203.0.113.10", "203.0.113.11")
    assert "203.0.113.0/24" in resolution.failed  # a range is no single address to allow


# ------------------------------------------------------------------ the Config view
class ViewApp(App[None]):
    def __init__(self, path: Path, locations: Locations) -> None:
        super().__init__()
        self.path, self.locations = path, locations

    def compose(self) -> ComposeResult:
        yield ConfigView(self.path, self.locations)


async def test_the_config_view_lists_the_nft_keys_and_switches_use_sudo(tmp_path: Path) -> None:
    path = write(tmp_path / "home/.coi/config.toml", FIXTURE.read_text())
    app = ViewApp(path, Locations(home=tmp_path / "home", cwd=tmp_path, env={},
                                  etc=tmp_path / "etc.toml"))
    async with app.run_test(size=(160, 60)) as pilot:
        view = app.query_one(ConfigView)
        await wait_until(lambda: view.effective is not None)
        table = app.query_one("#cfg-effective", DataTable)
        rows = {str(table.get_row_at(i)[0]): str(table.get_row_at(i)[1])
                for i in range(table.row_count)}
        assert rows["network.allowed_ports"] == "[443, 80, 22]"
        assert rows["network.dns_servers"] == '["10.147.0.1"]'
        assert rows["network.use_sudo"] == "true"
        assert rows["network.hosts"].startswith('[{ ip = "192.168.77.2", hostnames = ')
        switch = app.query_one("#cfg-use_sudo", Switch)
        assert switch.value is True
        switch.value = False
        await wait_until(lambda: "use_sudo = false" in app.query_one("#cfg-raw", TextArea).text)
        await pilot.press("ctrl+s")
        await wait_until(lambda: b"use_sudo = false" in path.read_bytes())
        assert changed_lines(FIXTURE.read_text(), path.read_text()) == [
            "-use_sudo = true", "+use_sudo = false"]
