"""COI 0.13's nft text, case by case (docs/coi-nft-era.md §2, §13), pinned from COI's own Go
sources and tests (coipond/coi internal/network: nft_filter.go, egress.go, egress_ports.go,
policy.go, nftset.go, user_hosts.go and user_hosts_test.go; mensfeld/code-on-incus
nft_filter.go for the older releases): for every configuration COI runs, coi-tui's full rule
text equals COI's; every configuration COI refuses raises BadInput with COI's reason; every
released dialect of COI's rules is recognised as COI's (never drift, never rewritten); a
re-apply after a config change leaves the sets holding exactly what the new config allows, in
one transaction."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence

import pytest

from coi_tui.eras.nft.model import (
    DesiredPolicy,
    HostEntry,
    NftChain,
    NftRule,
    NftSet,
    NftSettings,
    NftState,
    NftTable,
)
from coi_tui.eras.nft.objects import desired_objects, objects_of, written_as
from coi_tui.eras.nft.policy import BASE_RULE, coi_commands, desired_policy, infer_mode
from coi_tui.eras.nft.text import canonical_element, canonical_rule, join_tokens
from coi_tui.eras.nft.transaction import apply_script, policy_in_force
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Mode
from coi_tui.services.config.schema import dns_server_problem

IP, GW, NAME, VETH = "10.147.0.5", "10.147.0.1", "coi-lab-1", "veth1234"
LAN = "192.168.77.2"
P = f"add rule ip coi forward ip saddr {IP}"
I = f"insert rule ip coi forward ip saddr {IP}"  # noqa: E741
C = f'comment "coi-{IP}"'
IP6 = f'add rule ip6 coi forward iifname {VETH} drop comment "coi6-{NAME}"'
S, D, SP, DP = (f"coi_{k}_10_147_0_5" for k in ("s", "d", "sp", "dp"))
SETS = [
    f"add set ip coi {S} {{ type ipv4_addr ; flags interval ; auto-merge ; }}",
    f"add set ip coi {D} {{ type ipv4_addr ; flags timeout ; }}",
    f"add set ip coi {SP} {{ type ipv4_addr . inet_service ; flags interval ; auto-merge ; }}",
    f"add set ip coi {DP} {{ type ipv4_addr . inet_service ; flags interval , timeout ; "
    "auto-merge ; }",
]
BLOCKS = [f"{P} ip daddr {net} reject {C}"
          for net in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16")]
# ApplyAllowlist after the sets: blockDNS (forward, then input), then the batch
ALLOW_HEAD = [
    f"{P} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
    f"add rule ip coi input ip saddr {IP} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
    f"{P} ip daddr {GW}/32 udp dport {{ 67, 68 }} accept {C}",
    *BLOCKS,
]
ALLOW_TAIL = [
    f"{P} meta l4proto {{ tcp, udp }} ip daddr . th dport @{SP} accept {C}",
    f"{P} meta l4proto {{ tcp, udp }} ip daddr . th dport @{DP} accept {C}",
    f"{P} ip daddr @{S} icmp type echo-request limit rate 10/second accept {C}",
    f"{P} ip daddr @{D} icmp type echo-request limit rate 10/second accept {C}",
    f"{P} reject {C}",
]


def policy(mode: Mode, settings: NftSettings,
           resolved: Mapping[str, Sequence[str]] | None = None) -> DesiredPolicy:
    return desired_policy(IP, NAME, mode, settings, GW, VETH, resolved)


def commands(mode: Mode, settings: NftSettings,
             resolved: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    return list(coi_commands(policy(mode, settings, resolved)))


def listed(line: str) -> str:
    """A rule line as `nft list` prints it (no `/32`, `{ 443 }` as `443`), comment dropped."""
    return join_tokens(canonical_rule(line))


# --- the ordinary modes ---


def test_open_is_coi_s_single_accept() -> None:
    # EnsureOpenModeRules
    assert commands(Mode.OPEN, NftSettings()) == [f"{P} accept {C}"]


def test_restricted_default_is_add_restricted_rules() -> None:
    assert commands(Mode.RESTRICTED, NftSettings()) == [
        f"{P} ip daddr {GW}/32 accept {C}", *BLOCKS, f"{P} accept {C}", IP6]


def test_restricted_with_dns_pins_and_a_port_cap() -> None:
    settings = NftSettings(dns_servers=("203.0.113.53",), allowed_ports=(443,))
    assert commands(Mode.RESTRICTED, settings) == [
        f"{P} ip daddr {GW}/32 accept {C}",
        f"{P} ip daddr 203.0.113.53/32 meta l4proto {{ tcp, udp }} th dport 53 accept {C}",
        f"{P} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
        *BLOCKS,
        f"{P} meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {C}",
        f"{P} icmp type echo-request limit rate 10/second accept {C}",
        f"{P} reject {C}",
        IP6,
    ]


def test_allowlist_default_is_apply_allowlist() -> None:
    settings = NftSettings(allowed_domains=("203.0.113.10", "api.lab.test"))
    assert commands(Mode.ALLOWLIST, settings, {"api.lab.test": ["203.0.113.20"]}) == [
        *SETS,
        f"add element ip coi {S} {{ 203.0.113.10/32 }}",
        f"add element ip coi {D} {{ 203.0.113.20 }}",
        f"add element ip coi {SP} {{ 203.0.113.10/32 . 1-65535 }}",
        f"add element ip coi {DP} {{ 203.0.113.20 . 1-65535 }}",
        *ALLOW_HEAD, *ALLOW_TAIL, IP6,
    ]


# --- a host's port scope: its own ports, else allowed_ports, else none ---


def test_restricted_lan_host_without_ports_inherits_allowed_ports() -> None:
    settings = NftSettings(allowed_ports=(443,), hosts=(HostEntry(LAN, ("lan",)),))
    lines = commands(Mode.RESTRICTED, settings)
    scoped = f"{I} ip daddr {LAN}/32 meta l4proto {{ tcp, udp }} th dport {{ 443 }} accept {C}"
    assert lines[-2] == scoped  # COI runs ApplyUserHosts after the restricted batch
    assert f"{I} ip daddr {LAN}/32 accept {C}" not in lines  # never the bare accept
    assert listed(scoped) == (f"ip saddr {IP} ip daddr {LAN} meta l4proto {{ tcp, udp }} "
                              "th dport 443 accept")
    # the inserted rule is first in the chain
    assert policy(Mode.RESTRICTED, settings).forward[0].command() == scoped


def test_host_scope_is_coi_s_container_accept_rule_args() -> None:
    # user_hosts_test.go TestContainerAcceptRuleArgs, container 10.1.2.3, host 192.168.1.50
    def insert(settings: NftSettings) -> str:
        p = desired_policy("10.1.2.3", NAME, Mode.RESTRICTED, settings, GW, VETH)
        return p.forward[0].command()

    host = HostEntry("192.168.1.50", ("h",))
    assert insert(NftSettings(hosts=(host,))) == (
        'insert rule ip coi forward ip saddr 10.1.2.3 ip daddr 192.168.1.50/32 accept '
        'comment "coi-10.1.2.3"')
    assert insert(NftSettings(allowed_ports=(443, 80), hosts=(host,))) == (
        "insert rule ip coi forward ip saddr 10.1.2.3 ip daddr 192.168.1.50/32 "
        'meta l4proto { tcp, udp } th dport { 80, 443 } accept comment "coi-10.1.2.3"')
    # the host's own ports win over allowed_ports
    own = HostEntry("192.168.1.50", ("h",), (8443,))
    assert "th dport { 8443 } accept" in insert(NftSettings(allowed_ports=(443,), hosts=(own,)))


# --- port lists: deduplicated and sorted ---


def test_port_lists_are_deduplicated_and_sorted() -> None:
    settings = NftSettings(allowed_ports=(443, 80, 443),
                           hosts=(HostEntry(LAN, ("lan",), (8443, 443, 8443)),))
    lines = commands(Mode.RESTRICTED, settings)
    assert f"{P} meta l4proto {{ tcp, udp }} th dport {{ 80, 443 }} accept {C}" in lines
    assert f"{I} ip daddr {LAN}/32 meta l4proto {{ tcp, udp }} th dport {{ 443, 8443 }} " \
        f"accept {C}" in lines
    allow = NftSettings(allowed_domains=("203.0.113.10:443,80,443,80-80",))
    # parsePortSpec dedups and sorts; AddStaticTuples then sort.Strings the elements
    assert f"add element ip coi {SP} {{ 203.0.113.10/32 . 443, 203.0.113.10/32 . 80 }}" in \
        commands(Mode.ALLOWLIST, allow)


# --- the same name twice: the last entry wins ---


@pytest.mark.parametrize(("entries", "ports"), [
    (("github.com:443", "github.com:22"), ("22",)),
    (("github.com", "github.com:443"), ("443",)),
    (("github.com:443", "github.com"), ("1-65535",)),
    (("github.com:443,80", "GitHub.com.:8443"), ("8443",)),
])
def test_the_same_name_twice_takes_the_last_entry_s_ports(
        entries: tuple[str, ...], ports: tuple[str, ...]) -> None:
    lines = commands(Mode.ALLOWLIST, NftSettings(allowed_domains=entries),
                     {"github.com": ["140.82.112.3"]})
    assert f"add element ip coi {DP} {{ {', '.join(f'140.82.112.3 . {p}' for p in ports)} }}" \
        in lines
    assert f"add element ip coi {D} {{ 140.82.112.3 }}" in lines


def test_the_same_literal_twice_keeps_both_entries_tuples() -> None:
    # NewAllowPolicy appends a staticTuple per literal entry (no map): both ports
    lines = commands(Mode.ALLOWLIST, NftSettings(allowed_domains=(
        "203.0.113.10:443", "203.0.113.10:22")))
    assert f"add element ip coi {SP} {{ 203.0.113.10/32 . 22, 203.0.113.10/32 . 443 }}" in lines


# --- allowlist + a private host ---


def test_allowlist_lan_host_with_a_scope_gets_a_targeted_insert_at_the_top() -> None:
    for settings, ports in [
        (NftSettings(allowed_domains=("203.0.113.10",),
                     hosts=(HostEntry(LAN, ("lan",), (443,)),)), "{ 443 }"),
        (NftSettings(allowed_domains=("203.0.113.10",), allowed_ports=(8443, 443),
                     hosts=(HostEntry(LAN, ("lan",)),)), "{ 443, 8443 }"),
    ]:
        p = policy(Mode.ALLOWLIST, settings)
        insert = f"{I} ip daddr {LAN}/32 meta l4proto {{ tcp, udp }} th dport {ports} accept {C}"
        assert p.forward[0].command() == insert  # ahead of the DNS block and the LAN reject
        assert coi_commands(p)[-2] == insert  # COI runs it after the rest, as an insert
        assert all(LAN not in e for s in p.sets for e in s.elements)


@pytest.mark.parametrize(("host", "allowed_ports", "reason"), [
    (HostEntry(LAN, ("lan",)), (), "network.hosts: 192.168.77.2 is a private address; "
     "allowlist mode opens a LAN host only on explicit ports"),
    (HostEntry(LAN, ("lan",), (443, 53)), (), "network.hosts: 192.168.77.2 may not be opened "
     "on port 53 in allowlist mode"),
    (HostEntry(LAN, ("lan",)), (53, 443), "may not be opened on port 53"),
])
def test_allowlist_lan_host_without_a_usable_scope_is_refused(
        host: HostEntry, allowed_ports: tuple[int, ...], reason: str) -> None:
    settings = NftSettings(allowed_domains=("203.0.113.10",), allowed_ports=allowed_ports,
                           hosts=(host,))
    with pytest.raises(BadInput, match=reason) as error:
        policy(Mode.ALLOWLIST, settings)
    assert "\n" not in str(error.value)


def test_allowlist_with_local_access_adds_nothing_for_a_lan_host() -> None:
    base = NftSettings(allowed_domains=("203.0.113.10",), allow_local_network_access=True)
    with_host = NftSettings(allowed_domains=("203.0.113.10",), allow_local_network_access=True,
                            hosts=(HostEntry(LAN, ("lan",)),))
    assert commands(Mode.ALLOWLIST, with_host) == commands(Mode.ALLOWLIST, base)
    with pytest.raises(BadInput, match="allow_local_network_access already opens the whole LAN"):
        policy(Mode.ALLOWLIST, NftSettings(
            allowed_domains=("203.0.113.10",), allow_local_network_access=True,
            hosts=(HostEntry(LAN, ("lan",), (443,)),)))


def test_allowlist_public_host_goes_into_both_static_sets_scoped() -> None:
    settings = NftSettings(allowed_domains=("203.0.113.10",), allowed_ports=(443,),
                           hosts=(HostEntry("203.0.113.9", ("web",)),))
    lines = commands(Mode.ALLOWLIST, settings)
    assert f"add element ip coi {S} {{ 203.0.113.10/32, 203.0.113.9 }}" in lines
    assert f"add element ip coi {SP} {{ 203.0.113.10/32 . 443, 203.0.113.9 . 443 }}" in lines


# --- open mode + hosts ---


def test_open_mode_refuses_a_host_with_ports_and_ignores_one_without() -> None:
    with pytest.raises(BadInput, match=r"network.hosts: 192.168.77.2 sets ports=\[443\], but "
                                       "open mode enforces no egress restrictions"):
        policy(Mode.OPEN, NftSettings(hosts=(HostEntry(LAN, ("lan",), (443,)),)))
    assert commands(Mode.OPEN, NftSettings(hosts=(HostEntry(LAN, ("lan",)),))) == [
        f"{P} accept {C}"]


def test_restricted_refuses_ports_on_a_public_host_and_any_metadata_host() -> None:
    with pytest.raises(BadInput, match="is a public address, which restricted mode already "
                                       "reaches on ALL ports"):
        policy(Mode.RESTRICTED, NftSettings(hosts=(HostEntry("1.1.1.1", ("h",), (443,)),)))
    for mode in (Mode.RESTRICTED, Mode.ALLOWLIST):
        with pytest.raises(BadInput, match=r"169.254.169.254 is in the link-local/metadata "
                                           r"range \(169.254.0.0/16\), refused in"):
            policy(mode, NftSettings(allowed_domains=("a.test",),
                                     hosts=(HostEntry("169.254.169.254", ("m",)),)))


# --- dns_servers: net.ParseIP(...).To4() ---


def test_dns_servers_take_an_ipv4_mapped_address_as_ipv4() -> None:
    lines = commands(Mode.RESTRICTED, NftSettings(dns_servers=("::ffff:1.1.1.1", " 1.1.1.1")))
    assert lines[1:3] == [
        f"{P} ip daddr 1.1.1.1/32 meta l4proto {{ tcp, udp }} th dport 53 accept {C}",
        f"{P} meta l4proto {{ tcp, udp }} th dport 53 reject {C}",
    ]


@pytest.mark.parametrize("server", ["dns.example", "2001:db8::1", "::1", "1.1.1", "fe80::1%eth0"])
def test_dns_servers_refuse_hostnames_and_real_ipv6(server: str) -> None:
    with pytest.raises(BadInput, match=f"dns_servers: '{server}' is not a valid IPv4 address"):
        policy(Mode.RESTRICTED, NftSettings(dns_servers=(server,)))


def test_the_config_check_takes_dns_servers_as_coi_does() -> None:
    assert dns_server_problem("::ffff:1.1.1.1") is None
    assert dns_server_problem(" 1.1.1.1") is None
    for bad in ("dns.example", "2001:db8::1", "fe80::1%eth0"):
        assert dns_server_problem(bad) == "not a valid IPv4 address"


# --- released dialects: COI's rules, never drift, never rewritten ---

ALLOWLIST = NftSettings(allowed_domains=("203.0.113.10", "api.lab.test"))
ANSWERS = {"api.lab.test": ["203.0.113.20"]}

# COI before the 0.12 port work (mensfeld/code-on-incus nft_filter.go): the L4 set rules
PRE_L4 = [
    f"{P} ip daddr . th dport @{SP} accept {C}",
    f"{P} ip daddr . th dport @{DP} accept {C}",
]
# COI 0.9-0.10 ApplyAllowlist: per address (sort.Strings), no sets, no DNS block
PER_ADDRESS = [
    f"{P} ip daddr {GW}/32 accept {C}",
    f"{P} ip daddr 203.0.113.10/32 meta l4proto {{ tcp, udp }} accept {C}",
    f"{P} ip daddr 203.0.113.10/32 icmp type echo-request limit rate 10/second accept {C}",
    f"{P} ip daddr 203.0.113.20/32 meta l4proto {{ tcp, udp }} accept {C}",
    f"{P} ip daddr 203.0.113.20/32 icmp type echo-request limit rate 10/second accept {C}",
    *BLOCKS,
    f"{P} reject {C}",
]

_handles = itertools.count(100)


def installed(lines: Sequence[str], sets: Mapping[str, Sequence[str]] = {},
              ) -> NftState:
    """What `nft -j` shows after COI ran `lines` (rules in chain order) and filled `sets`."""
    chains: dict[str, list[NftRule]] = {"forward": [], "input": []}
    ip6: list[NftRule] = []
    for line in [BASE_RULE.command(), *lines]:
        words = line.split(" ", 5)
        family, chain, body = words[2], words[4], words[5]
        rule = NftRule(family, "coi", chain, next(_handles), body.rsplit('"', 2)[1],
                       canonical_rule(body))
        target = ip6 if family == "ip6" else chains[chain]
        target.insert(0, rule) if words[0] == "insert" else target.append(rule)
    nft_sets = tuple(NftSet("ip", "coi", name, (), (), tuple(canonical_element(e) for e in els))
                     for name, els in sets.items())
    return NftState(
        ip=NftTable("ip", "coi", chains=(NftChain("ip", "coi", "forward", hook="forward"),
                                         NftChain("ip", "coi", "input", hook="input")),
                    sets=nft_sets, rules=(*chains["forward"], *chains["input"])),
        ip6=NftTable("ip6", "coi", chains=(NftChain("ip6", "coi", "forward", hook="forward"),),
                     rules=tuple(ip6)))


def mine(state: NftState) -> tuple[CoiRule, ...]:
    """The container's live objects, as the inventory hands them to the era."""
    return tuple(o for o in objects_of(state)
                 if o.source_ip() == IP or o.owner_name() == NAME)


NEWEST_SETS = {S: ["203.0.113.10/32"], D: ["203.0.113.20"], SP: ["203.0.113.10/32 . 1-65535"],
               DP: ["203.0.113.20 . 1-65535"]}


@pytest.mark.parametrize(("lines", "sets"), [
    ([*ALLOW_HEAD, *ALLOW_TAIL, IP6], NEWEST_SETS),  # 0.12+
    ([*ALLOW_HEAD, *PRE_L4, *ALLOW_TAIL[2:], IP6], NEWEST_SETS),  # before the port work
    ([*PER_ADDRESS, IP6], {}),  # 0.9-0.10
], ids=["newest", "pre-l4", "per-address"])
def test_every_released_allowlist_dialect_is_coi_s_rules_never_drift_never_rewritten(
        lines: list[str], sets: dict[str, list[str]]) -> None:
    state = installed(lines, sets)
    want = policy(Mode.ALLOWLIST, ALLOWLIST, ANSWERS)
    forward = state.ip.rules_in("forward") if state.ip else ()
    assert infer_mode(IP, forward, list(sets), ip6_drop=True) is Mode.ALLOWLIST
    assert policy_in_force(state, want)
    assert apply_script(state, want).empty  # a re-apply rewrites nothing
    live = mine(state)
    assert set(written_as(desired_objects(want), live)) == set(live)  # as written: no drift


def test_an_older_dialect_of_another_config_is_drift_and_is_rewritten_newest() -> None:
    state = installed([*PER_ADDRESS, IP6])
    narrowed = policy(Mode.ALLOWLIST, NftSettings(allowed_domains=("203.0.113.10",)))
    assert not policy_in_force(state, narrowed)
    assert set(written_as(desired_objects(narrowed), mine(state))) != set(mine(state))
    script = apply_script(state, narrowed)
    assert f"add rule ip coi forward ip saddr {IP} meta l4proto {{ tcp, udp }} ip daddr . " \
        f"th dport @{SP} accept {C}" in script.lines  # the writer writes the newest dialect
    # and a config 0.9-0.10 could not have run has no per-address reading at all
    ported = policy(Mode.ALLOWLIST, NftSettings(allowed_domains=("203.0.113.10",),
                                                allowed_ports=(443,)), ANSWERS)
    assert len(ported.dialects) == 2


# --- config changes narrow: one transaction, exactly the new elements ---


def _applied(state: NftState, want: DesiredPolicy) -> NftState:
    """The state after `apply_script(state, want)` ran, for the sets (rules unchanged)."""
    assert state.ip is not None
    script = apply_script(state, want)
    elements = {s.name: list(s.elements) for s in state.ip.sets}
    for line in script.lines:
        verb, _, _, _, name, rest = line.split(" ", 5)
        if verb in ("add", "delete") and line.split(" ")[1] == "element":
            items = [canonical_element(e) for e in rest.strip("{} ").split(", ")]
            if verb == "add":
                elements[name] = [*elements[name], *items]
            else:
                elements[name] = [e for e in elements[name] if e not in items]
    return NftState(ip=NftTable("ip", "coi", chains=state.ip.chains, rules=state.ip.rules,
                                sets=tuple(NftSet("ip", "coi", n, (), (), tuple(e))
                                           for n, e in elements.items())), ip6=state.ip6)


def test_narrowing_replaces_static_elements_in_one_transaction() -> None:
    wide = NftSettings(allowed_domains=("203.0.113.10", "203.0.113.20/32"))
    narrow = NftSettings(allowed_domains=("203.0.113.10",), allowed_ports=(443,))
    state = installed([*ALLOW_HEAD, *ALLOW_TAIL, IP6],
                      {S: ["203.0.113.10/32", "203.0.113.20/32"], D: [],
                       SP: ["203.0.113.10/32 . 1-65535", "203.0.113.20/32 . 1-65535"], DP: []})
    want = policy(Mode.ALLOWLIST, narrow)
    assert policy_in_force(state, policy(Mode.ALLOWLIST, wide))
    assert not policy_in_force(state, want)
    script = apply_script(state, want)
    assert script.lines == (
        f"delete element ip coi {S} {{ 203.0.113.20 }}",
        f"delete element ip coi {SP} {{ 203.0.113.10 . 1-65535, 203.0.113.20 . 1-65535 }}",
        f"add element ip coi {SP} {{ 203.0.113.10/32 . 443 }}",
    )  # only element lines: one transaction, no rule touched, no moment wider than before
    after = _applied(state, want)
    assert policy_in_force(after, want) and apply_script(after, want).empty
    assert {s.name: s.elements for s in after.ip.sets if s.elements} == {  # type: ignore[union-attr]
        S: ("203.0.113.10",), SP: ("203.0.113.10 . 443",)}


def test_resolved_elements_follow_the_new_ports_and_go_with_the_last_name() -> None:
    # live: api.lab.test answered .20 before and .21 now (.20 is an old answer COI keeps)
    state = installed([*ALLOW_HEAD, *ALLOW_TAIL, IP6], {
        S: ["203.0.113.10/32"], D: ["203.0.113.20", "203.0.113.21"],
        SP: ["203.0.113.10/32 . 1-65535"],
        DP: ["203.0.113.20 . 1-65535", "203.0.113.21 . 1-65535"]})
    answers = {"api.lab.test": ["203.0.113.21"]}
    same = policy(Mode.ALLOWLIST, ALLOWLIST, answers)
    assert policy_in_force(state, same) and apply_script(state, same).empty  # old answer kept
    narrowed = policy(Mode.ALLOWLIST, NftSettings(allowed_domains=ALLOWLIST.allowed_domains,
                                                  allowed_ports=(443,)), answers)
    after = _applied(state, narrowed)
    sets = {s.name: set(s.elements) for s in after.ip.sets}  # type: ignore[union-attr]
    assert sets[DP] == {"203.0.113.20 . 443", "203.0.113.21 . 443"}
    assert sets[D] == {"203.0.113.20", "203.0.113.21"}
    assert policy_in_force(after, narrowed)
    # the name goes: every resolved element goes with it
    literal_only = policy(Mode.ALLOWLIST, NftSettings(allowed_domains=("203.0.113.10",)))
    gone = _applied(after, literal_only)
    sets = {s.name: set(s.elements) for s in gone.ip.sets}  # type: ignore[union-attr]
    assert sets[D] == set() and sets[DP] == set()
    assert policy_in_force(gone, literal_only)


def test_auto_merged_intervals_are_exactly_what_was_asked_for() -> None:
    settings = NftSettings(allowed_domains=("10.0.0.0/8", "10.1.2.3", "203.0.113.0/25",
                                            "203.0.113.128/25"), allow_local_network_access=True)
    # the kernel folded 10.1.2.3 into 10.0.0.0/8 and the two halves into one /24 (the
    # `addr . port` set is never merged: it holds each tuple, none inside another)
    state = installed([], {S: ["10.0.0.0/8", "203.0.113.0/24"], D: [],
                           SP: ["10.0.0.0/8 . 1-65535", "203.0.113.0/25 . 1-65535",
                                "203.0.113.128/25 . 1-65535"], DP: []})
    want = policy(Mode.ALLOWLIST, settings)
    script = apply_script(state, want)
    assert not any("element" in line for line in script.lines)
