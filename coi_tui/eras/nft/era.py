"""COI's nft era as a `CoiEra`: table `ip coi`, rules owned by `comment "coi-<ip>"`, allowlist
sets; every firewall change is ONE `nft -f -` transaction, so no intermediate state exists.

An allowlist blocks DNS (COI ≥ 0.11), so a plan that installs resolved addresses also
rewrites the container's `# BEGIN coi allowlist` block of /etc/hosts (hosts_file.py), after
the transaction: firewall first, file second, as COI's syncResolved does. Resolved elements
are permanent (COI never removes them); `prune` takes old answers out on request."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Protocol, cast

from coi_tui.backends.base import FirewallBackend
from coi_tui.backends.container_exec import IncusExec
from coi_tui.eras.nft import policy as nft_policy
from coi_tui.eras.nft.hosts_file import HostsBlockStep, ShellFactory, allowlist_block, hosts_block
from coi_tui.eras.nft.model import DesiredPolicy, NftSettings, NftState, set_name
from coi_tui.eras.nft.objects import (
    NftCoiRule,
    NftCoiSet,
    desired_objects,
    state_of,
    written_as,
)
from coi_tui.eras.nft.openings import grant_names, opening_hosts, with_openings
from coi_tui.eras.nft.transaction import (
    NftScript,
    apply_script,
    owned_objects,
    policy_in_force,
    prune_script,
    remove_script,
)
from coi_tui.eras.seam import Allowed
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanLine, PlanStep, Present


class ScriptRunner(Protocol):
    def run_script(self, script: str, *, check: bool = False, action: str = ...) -> None: ...


# The first word of an nft script line, as the real action it takes.
_ACTIONS = {"add": "add", "create": "add", "insert": "insert", "delete": "delete",
            "destroy": "delete", "flush": "flush", "replace": "replace"}


def line_action(line: str) -> str:
    word = line.split(" ", 1)[0]
    return _ACTIONS.get(word, word)


@dataclass(frozen=True)
class ScriptPart:
    """One container's lines of a transaction, and what must hold once it ran."""

    owner: str
    lines: tuple[str, ...]
    in_force: Callable[[NftState], str] = field(compare=False)  # "" when it holds, else why


@dataclass(frozen=True)
class NftTransaction:
    """A plan step of the nft era: ONE `nft -f -` script, all of it or nothing, its lines
    exactly those the review showed; verified by reading the table back."""

    parts: tuple[ScriptPart, ...]
    title: str = ""
    why: str = ""

    @property
    def container(self) -> str | None:
        return ", ".join(dict.fromkeys(p.owner for p in self.parts)) or None

    @property
    def script(self) -> NftScript:
        return NftScript(tuple(line for p in self.parts for line in p.lines), self.title)

    def __str__(self) -> str:
        return self.script.text

    def label(self) -> str:
        owner = f"{self.container}: " if self.container else ""
        return f"{owner}one nft transaction, {len(self.script.lines)} line(s)"

    def lines(self) -> tuple[PlanLine, ...]:
        return tuple(PlanLine(line_action(line), line, p.owner)
                     for p in self.parts for line in p.lines)

    def skip_reason(self) -> str:
        return ""  # planned from the state read under the writer lock

    def run(self, firewall: FirewallBackend) -> str:
        script = self.script
        cast(ScriptRunner, firewall).run_script(script.text, action=self.title or "apply")
        return f"one transaction, {len(script.lines)} line(s)"

    def verify(self, present: Present) -> tuple[str, ...]:
        state = state_of(present())
        return tuple(f"{p.owner}: {why}" for p in self.parts if (why := p.in_force(state)))


def nft_settings(settings: NetworkSettings) -> NftSettings:
    return NftSettings(
        block_private_networks=settings.block_private_networks,
        block_metadata_endpoint=settings.block_metadata_endpoint,
        allow_local_network_access=settings.allow_local_network_access,
        allowed_domains=settings.allowed_domains,
        dns_servers=settings.dns_servers,
        allowed_ports=settings.allowed_ports,
        hosts=settings.hosts,
    )


class NftEra:
    name = "nft"
    writes_container_hosts = True  # allowlist: DNS blocked, /etc/hosts is the resolver
    keeps_old_answers = True  # resolved elements are permanent (docs/coi-nft-era.md §4.3)

    def __init__(self, shell: ShellFactory = IncusExec) -> None:
        self._shell = shell  # how the /etc/hosts steps reach into a container

    @staticmethod
    def _policy(container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> DesiredPolicy:
        assert container.ipv4 is not None
        if mode is not Mode.OPEN and not container.veth:
            raise BadInput(f"{container.name}: no host veth known, so no IPv6 drop: COI "
                           f"refuses {mode} without it")
        hosts = (*settings.hosts, *opening_hosts(mode, settings.openings))
        policy = nft_policy.desired_policy(container.ipv4, container.name, mode,
                                           replace(nft_settings(settings), hosts=hosts),
                                           gateway, container.veth, allowed)
        return with_openings(policy, settings.openings, settings.allowed_ports)

    def infer_mode(self, container: Container, mine: Sequence[CoiRule]) -> Mode | None:
        if container.ipv4 is None:
            return None
        forward = [r for r in mine if isinstance(r, NftCoiRule) and r.ipv == "ip"
                   and r.chain == "forward" and r.source_ip() == container.ipv4]
        sets = [r.name for r in mine if isinstance(r, NftCoiSet)]
        drop6 = any(isinstance(r, NftCoiRule) and r.ipv == "ip6" for r in mine)
        return nft_policy.infer_mode(container.ipv4, forward, sets, drop6)

    def desired(self, container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> tuple[CoiRule, ...]:
        return desired_objects(self._policy(container, mode, settings, gateway, allowed))

    @staticmethod
    def _step(script: NftScript, owner: str, in_force: Callable[[NftState], str]) -> Plan:
        if script.empty:
            return Plan((), script.title)
        part = ScriptPart(owner, script.lines, in_force)
        return Plan((NftTransaction((part,), script.title, script.title),), script.title)

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        policy = self._policy(container, mode, settings, gateway, allowed)
        state = state_of(live)
        script = apply_script(state, policy)
        plan = self._step(script, container.name, partial(_not_in_force, policy))
        if mode is not Mode.ALLOWLIST or not _adds_answers(script, policy):
            return plan
        # resolved addresses go in: the container's hosts file names them, file second.
        # Sets created now = COI's setup (allowlist block, then [[network.hosts]]); else a
        # refresh (the allowlist block only, as COI's refresher writes it)
        setup = set_name("d", policy.ip) not in {
            s.name for s in owned_objects(state, policy.ip, policy.name).sets}
        steps = self.hosts_steps(container, settings, allowed, setup=setup)
        return Plan((*plan.steps, *steps), plan.title)

    def hosts_steps(self, container: Container, settings: NetworkSettings, allowed: Allowed,
                    *, setup: bool = False) -> tuple[PlanStep, ...]:
        """The /etc/hosts blocks COI writes for these answers: the allowlist block when the
        allowlist has names (COI writes none for literal addresses only), and at `setup`
        the [[network.hosts]] block when hosts are configured."""
        steps: list[PlanStep] = []
        names = answers_by_name(settings, allowed)
        if names:
            steps.append(HostsBlockStep(container, allowlist_block(names),
                                        "DNS is blocked: /etc/hosts is the resolver",
                                        self._shell))
        granted = grant_names(settings.hosts, settings.openings)
        if granted is not None:
            steps.append(HostsBlockStep(container, hosts_block(granted),
                                        "coi-tui's grants, as `coi hosts add` writes them",
                                        self._shell))
        elif setup and settings.hosts:
            steps.append(HostsBlockStep(container, hosts_block(settings.hosts),
                                        "[[network.hosts]]", self._shell))
        return tuple(steps)

    def resolved_pins(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """The addresses in its `coi_d_` set: every answer DNS ever gave since setup."""
        if container.ipv4 is None:
            return frozenset()
        name = set_name("d", container.ipv4)
        return frozenset(e for r in live if isinstance(r, NftCoiSet) and r.name == name
                         for e in r.elements if "/" not in e and "-" not in e)

    def prune(self, container: Container, live: Sequence[CoiRule], addresses: Iterable[str],
              settings: NetworkSettings, allowed: Allowed) -> Plan:
        """Beyond COI: old answers (`addresses`, which DNS no longer gives) out of the sets in
        one transaction, then the allowlist block rewritten with the current answers."""
        if container.ipv4 is None:
            raise BadInput(f"{container.name} has no IPv4 address: start it first")
        ip = container.ipv4
        gone = tuple(sorted(set(addresses)))
        current = {a for ips in allowed.values() for a in ips}
        if set(gone) & current:
            raise BadInput(f"{', '.join(sorted(set(gone) & current))}: DNS still answers "
                           "with it: not pruned")
        state = state_of(live)
        script = prune_script(state, ip, gone)
        title = f"{container.name}: prune {len(gone)} old answer(s)"
        if script.empty:
            return Plan((), title)

        def pruned(now: NftState) -> str:
            left = {e for s in owned_objects(now, ip, container.name).sets
                    if s.name in (set_name("d", ip), set_name("dp", ip))
                    for e in s.elements if e.split(" . ")[0] in gone}
            return f"still in the sets: {', '.join(sorted(left))}" if left else ""

        part = ScriptPart(container.name, script.lines, pruned)
        steps: tuple[PlanStep, ...] = (NftTransaction((part,), title, title),
                                       *self.hosts_steps(container, settings, allowed))
        return Plan(steps, title)

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan:
        script = remove_script(state_of(live), container.ipv4, container.name)

        def gone(state: NftState) -> str:
            left = owned_objects(state, container.ipv4, container.name)
            return "" if left.empty else "rules or sets still present after removal"

        return self._step(script, container.name, gone)

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        """Every container's script in ONE transaction: the firewall change is all or nothing;
        the /etc/hosts steps follow it, in order."""
        plans = tuple(plans)
        parts = tuple(part for p in plans for step in p.steps
                      if isinstance(step, NftTransaction) for part in step.parts)
        files = tuple(step for p in plans for step in p.steps
                      if not isinstance(step, NftTransaction))
        head = (NftTransaction(parts, title, title),) if parts else ()
        return Plan((*head, *files), title)

    def settle(self, expected: Sequence[CoiRule], live: Sequence[CoiRule]
               ) -> tuple[CoiRule, ...]:
        """A resolved set (`coi_d_`, `coi_dp_`) that holds every expected element and more
        is as expected: the more are old answers COI keeps (permanent elements). Live rules
        in an older COI release's text for the same policy are as expected too."""
        expected = written_as(expected, live)
        by_name = {r.name: r for r in live if isinstance(r, NftCoiSet)}
        settled: list[CoiRule] = []
        for rule in expected:
            have = by_name.get(rule.name) if isinstance(rule, NftCoiSet) else None
            if (isinstance(rule, NftCoiSet) and have is not None and rule.kind in ("d", "dp")
                    and set(rule.elements) <= set(have.elements)):
                settled.append(have)
            else:
                settled.append(rule)
        return tuple(settled)

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        if container.ipv4 is None:
            return frozenset()
        # the addresses in its address sets (answers in coi_d_, literal entries in coi_s_)
        names = {set_name("d", container.ipv4), set_name("s", container.ipv4)}
        return frozenset(e for r in live if isinstance(r, NftCoiSet) and r.name in names
                         for e in r.elements if "/" not in e and "-" not in e)


def answers_by_name(settings: NetworkSettings, allowed: Allowed) -> dict[str, tuple[str, ...]]:
    """Each allowlisted name (COI's parse: no `:ports`, lower case, no trailing dot) with the
    addresses installed for it; literal addresses and CIDRs are not names."""
    names: dict[str, tuple[str, ...]] = {}
    for entry in settings.allowed_domains:
        parsed = nft_policy.parse_allow_entry(entry)
        if not parsed.static:
            names[parsed.dest] = tuple(dict.fromkeys(allowed.get(parsed.dest, ())))
    return names


def _adds_answers(script: NftScript, policy: DesiredPolicy) -> bool:
    """The script puts resolved addresses into the container's `coi_d_` set."""
    d_set = f" {set_name('d', policy.ip)} {{"
    return any(line.startswith("add element ") and d_set in line for line in script.lines)


def _not_in_force(policy: DesiredPolicy, state: NftState) -> str:
    return "" if policy_in_force(state, policy) else "not in force after the transaction"
