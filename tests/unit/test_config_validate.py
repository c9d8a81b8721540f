"""Invalid input never reaches the file: a one-line error naming the key and the value."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coi_tui.services.config import ConfigEditor, ConfigError, problems
from coi_tui.services.config.schema import hostname_or_ipv4_problem

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"

Edit = Callable[[ConfigEditor], None]

INVALID: list[tuple[str, Edit, str]] = [
    ("unknown mode", lambda e: e.set("network.mode", "strict"), "'strict'"),
    ("mode of wrong case", lambda e: e.set("network.mode", "Open"), "'Open'"),
    ("boolean not a boolean", lambda e: e.set("network.block_private_networks", "maybe"),
     "'maybe'"),
    ("interval not an integer", lambda e: e.set("network.refresh_interval_minutes", "10m"),
     "'10m'"),
    ("wildcard domain", lambda e: e.add("network.allowed_domains", "*.github.com"),
     "'*.github.com'"),
    ("URL", lambda e: e.add("network.allowed_domains", "https://github.com"),
     "'https://github.com'"),
    ("host with port", lambda e: e.add("network.allowed_domains", "github.com:443"),
     "'github.com:443'"),
    ("IPv6 literal", lambda e: e.add("network.allowed_domains", "2001:db8::1"),
     "'2001:db8::1'"),
    ("bad IPv4", lambda e: e.add("network.allowed_domains", "10.0.0.999"), "'10.0.0.999'"),
    ("duplicate entry", lambda e: e.add("network.allowed_domains", "1.1.1.1"), "'1.1.1.1'"),
    ("bare word", lambda e: e.add("network.allowed_domains", "localhost"), "'localhost'"),
    ("label with underscore", lambda e: e.add("network.allowed_domains", "bad_host.example"),
     "'bad_host.example'"),
    ("unknown key", lambda e: e.set("network.mdoe", "open"), "network.mdoe"),
    ("set on a list", lambda e: e.set("network.allowed_domains", "x.com"),
     "network.allowed_domains"),
    ("remove what is not there", lambda e: e.remove("network.allowed_domains", "nope.example"),
     "'nope.example'"),
    ("raw text with a typo'd key", lambda e: e.replace_text('[network]\nmdoe = "open"\n'),
     "network.mdoe"),
    ("raw text with a wrong type", lambda e: e.replace_text("[network]\nmode = 3\n"), "3"),
    ("raw text: allowlist with an empty list",
     lambda e: e.replace_text('[network]\nmode = "allowlist"\nallowed_domains = []\n'),
     "allowlist mode requires"),
    ("raw text: TOML syntax error", lambda e: e.replace_text('[network]\nmode = "open\n'),
     "line 2"),
]


@pytest.mark.parametrize(("kind", "edit", "named"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_input_is_refused_and_the_file_is_untouched(
    tmp_path: Path, kind: str, edit: Edit, named: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(SAMPLE.read_bytes())
    before = path.read_bytes()
    editor = ConfigEditor(path)
    with pytest.raises(ConfigError) as raised:
        edit(editor)
        editor.save()
    message = str(raised.value)
    assert named in message and "\n" not in message, message
    assert path.read_bytes() == before
    assert not list(tmp_path.glob("*.tmp")) and not (tmp_path / "config.toml.bak").exists()


def test_a_malformed_file_on_disk_is_reported_with_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[network]\nmode = "open"\nallowed_domains = [\n  "a.example",\n  oops\n]\n')
    before = path.read_bytes()
    with pytest.raises(ConfigError) as raised:
        ConfigEditor(path)
    assert "line 5" in str(raised.value) and "column" in str(raised.value)
    assert path.read_bytes() == before


def test_other_sections_are_coi_s_business_and_not_judged() -> None:
    assert problems({"monitoring": {"whatever": 1}, "network": {"mode": "open"}}) == []


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(
    st.sampled_from(["mode", "block_private_networks", "allowed_domains",
                     "refresh_interval_minutes", "typo", "allow_local_network_access"]),
    st.one_of(st.text(max_size=20), st.booleans(), st.integers(), st.none(),
              st.lists(st.text(max_size=30), max_size=4)),
))
def test_the_validator_judges_anything_without_crashing(network: dict[str, object]) -> None:
    found = problems({"network": network})
    assert all(isinstance(p, str) and "\n" not in p and p.startswith("network") for p in found)


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=40))
def test_accepted_domains_round_trip_through_the_file(tmp_path_factory: pytest.TempPathFactory,
                                                      entry: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "config.toml"
    path.write_bytes(SAMPLE.read_bytes())
    editor = ConfigEditor(path)
    try:
        editor.add("network.allowed_domains", entry)
        editor.save()
    except ConfigError:
        assert path.read_bytes() == SAMPLE.read_bytes()
        return
    assert hostname_or_ipv4_problem(entry) is None
    assert entry in ConfigEditor(path).get("network.allowed_domains")
