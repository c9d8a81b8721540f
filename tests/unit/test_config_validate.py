"""Invalid input never reaches the file: a one-line error naming the key and the value, and the
file's bytes unchanged. The validator is fuzzed: it only ever raises ConfigError, and what it
accepts reads back as written."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coi_tui.services.config import ConfigEditor, ConfigError, Locations, load_effective, problems
from coi_tui.services.config.schema import KEYS, allowed_entry_problem
from coi_tui.services.config.validate import check, parse_toml

SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "coi_sample_config.toml"
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Edit = Callable[[ConfigEditor], None]


def raw(text: str) -> Edit:
    return lambda editor: editor.replace_text(text)


INVALID: list[tuple[str, Edit, str]] = [
    ("unknown mode", lambda e: e.set("network.mode", "strict"),
     "network.mode: unknown mode 'strict' (expected open, restricted or allowlist)"),
    ("mode of wrong case", lambda e: e.set("network.mode", "Open"), "'Open'"),
    ("mode not a string", lambda e: e.set("network.mode", True), "network.mode"),
    ("boolean not a boolean", lambda e: e.set("network.block_private_networks", "maybe"),
     "network.block_private_networks: expected true or false, got 'maybe'"),
    ("interval not an integer", lambda e: e.set("network.refresh_interval_minutes", "10m"),
     "network.refresh_interval_minutes: expected an integer, got '10m'"),
    ("interval in non-ASCII digits", lambda e: e.set("network.refresh_interval_minutes", "٣"),
     "'٣'"),
    ("interval beyond 64 bits",
     lambda e: e.set("network.refresh_interval_minutes", str(2**63)), str(2**63)),
    ("wildcard domain", lambda e: e.add("network.allowed_domains", "*.github.com"),
     "network.allowed_domains: '*.github.com' is a wildcard"),
    ("URL", lambda e: e.add("network.allowed_domains", "https://github.com"),
     "'https://github.com'"),
    ("host with port 0", lambda e: e.add("network.allowed_domains", "github.com:0"),
     "network.allowed_domains: 'github.com:0' is a bad port list '0'"),
    ("host with a reversed range", lambda e: e.add("network.allowed_domains", "a.example:90-80"),
     "'a.example:90-80'"),
    ("host with an empty port list", lambda e: e.add("network.allowed_domains", "a.example:"),
     "'a.example:' is an empty port list"),
    ("port without a host", lambda e: e.add("network.allowed_domains", ":443"),
     "':443' is missing its destination"),
    ("IPv6 literal", lambda e: e.add("network.allowed_domains", "2001:db8::1"),
     "'2001:db8::1'"),
    ("bad IPv4", lambda e: e.add("network.allowed_domains", "10.0.0.999"), "'10.0.0.999'"),
    ("a line break inside", lambda e: e.add("network.allowed_domains", "a\n.example"),
     "'a\\n.example' is not a valid hostname"),
    ("bad CIDR", lambda e: e.add("network.allowed_domains", "10.0.0.0/33"),
     "'10.0.0.0/33' is not a valid IPv4 CIDR"),
    ("IPv6 CIDR", lambda e: e.add("network.allowed_domains", "2001:db8::/32"), "IPv6"),
    ("duplicate entry", lambda e: e.add("network.allowed_domains", "1.1.1.1"),
     "'1.1.1.1' is already listed"),
    ("duplicate in another case", lambda e: e.add("network.allowed_domains", "API.anthropic.com"),
     "'API.anthropic.com' is already listed"),
    ("bare word", lambda e: e.add("network.allowed_domains", "localhost"), "'localhost'"),
    ("label with underscore", lambda e: e.add("network.allowed_domains", "bad_host.example"),
     "'bad_host.example'"),
    ("look-alike letter (Kelvin sign)",
     lambda e: e.add("network.allowed_domains", "\u212a.example"), "'\u212a.example'"),
    ("unknown key", lambda e: e.set("network.mdoe", "open"),
     "network.mdoe: unknown key (did you mean network.mode?)"),
    ("set on a list", lambda e: e.set("network.allowed_domains", "x.com"),
     "network.allowed_domains"),
    ("add to a non-list", lambda e: e.add("network.mode", "x.com"), "network.mode"),
    ("remove what is not there", lambda e: e.remove("network.allowed_domains", "nope.example"),
     "'nope.example' is not in the list"),
    ("raw: a typo'd key", raw('[network]\nmdoe = "open"\n'), "network.mdoe"),
    ("raw: a typo'd nft-era key", raw("[network]\nuse_sud = true\n"),
     "network.use_sud: unknown key (did you mean network.use_sudo?)"),
    ("raw: a wrong type", raw("[network]\nmode = 3\n"), "network.mode: expected a string, got 3"),
    ("raw: float interval", raw("[network]\nrefresh_interval_minutes = 1.5\n"), "1.5"),
    ("raw: mode as a table", raw("[network.mode]\nvalue = 'open'\n"),
     "network.mode: expected a string, got {'value': 'open'}"),
    ("raw: boolean as string", raw('[network]\nblock_metadata_endpoint = "false"\n'),
     "network.block_metadata_endpoint: expected a boolean (true/false), got 'false'"),
    ("raw: domains as one string", raw('[network]\nallowed_domains = "a.example"\n'),
     "'a.example'"),
    ("raw: a number in the domains", raw('[network]\nallowed_domains = ["a.example", 7]\n'),
     "network.allowed_domains: 7 is not a string"),
    ("raw: duplicates in the list",
     raw('[network]\nallowed_domains = ["a.example", "a.example"]\n'),
     "'a.example' is listed twice"),
    ("raw: allowlist with an empty list",
     raw('[network]\nmode = "allowlist"\nallowed_domains = []\n'),
     "allowlist mode requires at least one allowed domain"),
    ("raw: logging not a table", raw("[network]\nlogging = true\n"),
     "network.logging: expected a table, got True"),
    ("raw: network not a table", raw('network = "restricted"\n'), "'restricted'"),
    ("raw: TOML syntax error", raw('[network]\nmode = "open\n'), "line 2, column"),
    ("raw: a key defined twice", raw('[network]\nmode = "open"\nmode = "open"\n'),
     'Key "mode" already exists'),
]


@pytest.mark.parametrize(("kind", "edit", "named"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_input_is_refused_and_the_file_is_untouched(
    tmp_path: Path, kind: str, edit: Edit, named: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(SAMPLE.read_bytes())
    before = path.read_bytes()
    editor = ConfigEditor.load(path)
    with pytest.raises(ConfigError) as raised:
        edit(editor)
        editor.save()
    message = str(raised.value)
    assert named in message and "\n" not in message, message
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]  # no temp, no .bak


MALFORMED_ON_DISK: list[tuple[str, bytes, str]] = [
    ("syntax error", b'[network]\nmode = "open"\nallowed_domains = [\n  "a.example",\n  oops\n]\n',
     "line 5, column"),
    ("not UTF-8", b'[network]\nmode = "open\xe9"\n', "not UTF-8"),
    ("duplicate table", b"[network]\n[network]\n", "line 2, column"),
    ("a value that is also a table", b"[network]\nmode = 'x'\n[network.mode]\n", '"mode"'),
]


@pytest.mark.parametrize(("kind", "content", "named"), MALFORMED_ON_DISK,
                         ids=[m[0] for m in MALFORMED_ON_DISK])
def test_a_malformed_file_on_disk_is_reported_and_left_alone(
    tmp_path: Path, kind: str, content: bytes, named: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as raised:
        editor = ConfigEditor.load(path)
        editor.set("network.mode", "open")
        editor.save()
    assert named in str(raised.value) and str(path) in str(raised.value)
    assert "\n" not in str(raised.value)
    assert path.read_bytes() == content


def test_an_invalid_value_already_on_disk_blocks_other_edits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[network]\nmode = "open"\nblock_private_network = false\n')
    before = path.read_bytes()
    editor = ConfigEditor.load(path)
    editor.set("network.mode", "restricted")
    with pytest.raises(ConfigError, match=r"network\.block_private_network: unknown key"):
        editor.save()
    assert path.read_bytes() == before


def test_other_sections_are_coi_s_business_and_not_judged() -> None:
    assert problems({"monitoring": {"whatever": 1}, "network": {"mode": "open"}}) == []


# ------------------------------------------------------------------ fuzzing
toml_scalars = st.one_of(
    st.text(max_size=20), st.booleans(), st.integers(), st.floats(), st.none(),
    st.sampled_from(["open", "restricted", "allowlist", "a.example", "10.0.0.1"]),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
network_keys = st.sampled_from([k.split(".", 1)[1] for k in KEYS] + ["logging", "typo", ""])


@FUZZ
@given(st.dictionaries(network_keys, toml_values) | toml_values)
def test_the_validator_judges_anything_without_crashing(network: Any) -> None:
    document = {"network": network}
    found = problems(document)
    assert all("\n" not in p and p.lstrip("'\"").startswith("network") for p in found)
    if found:
        with pytest.raises(ConfigError):
            check(document)
    else:
        check(document)


@FUZZ
@given(st.text(max_size=200))
def test_any_text_is_either_parsed_or_a_one_line_config_error(text: str) -> None:
    try:
        check(parse_toml(text).unwrap())
    except ConfigError as error:
        assert "\n" not in str(error)


hostnames = st.from_regex(r"\A[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?(\.[a-z]{2,6}){1,3}\Z")
ipv4s = st.ip_addresses(v=4).map(str)


@FUZZ
@given(hostnames | ipv4s | st.text(max_size=40))
def test_accepted_domains_round_trip_through_the_file(
    tmp_path_factory: pytest.TempPathFactory, entry: str
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "config.toml"
    path.write_bytes(SAMPLE.read_bytes())
    editor = ConfigEditor.load(path)
    try:
        editor.add("network.allowed_domains", entry)
        editor.save()
    except ConfigError as error:
        assert "\n" not in str(error)
        assert path.read_bytes() == SAMPLE.read_bytes()
        return
    assert allowed_entry_problem(entry) is None
    assert ConfigEditor.load(path).get("network.allowed_domains")[-1] == entry


@FUZZ
@given(st.sampled_from([k for k, key in KEYS.items() if key.kind is not list]) | st.text(),
       st.text(max_size=30) | st.sampled_from(["open", "allowlist", "true", "off", "-5", "7"]))
def test_any_set_either_saves_a_value_that_reads_back_or_is_refused(
    tmp_path_factory: pytest.TempPathFactory, name: str, value: str
) -> None:
    home = tmp_path_factory.mktemp("fuzz")
    where = Locations(home=home, cwd=home / "work", env={}, etc=home / "etc.toml")
    path = where.default_edit_target()
    path.parent.mkdir()
    path.write_bytes(SAMPLE.read_bytes())
    editor = ConfigEditor.load(path)
    try:
        editor.set(name, value)
        editor.save()
    except ConfigError as error:
        assert "\n" not in str(error)
        assert path.read_bytes() == SAMPLE.read_bytes()
        return
    key = KEYS.get(name) or KEYS[f"network.{name}"]
    written = key.parse(value)
    assert ConfigEditor.load(path).get(key.name) == written
    effective = load_effective(where)
    if written not in (0, ""):  # COI's merge: 0 and "" keep the lower value
        assert effective.values[key.name] == written
