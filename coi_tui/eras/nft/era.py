"""COI's nft era as a `CoiEra`: table `ip coi`, rules owned by `comment "coi-<ip>"`, allowlist
sets; every change is ONE `nft -f -` transaction, so no intermediate state exists."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Protocol, cast

from coi_tui.backends.base import FirewallBackend
from coi_tui.eras.nft import policy as nft_policy
from coi_tui.eras.nft.model import DesiredPolicy, NftSettings, NftState, set_name
from coi_tui.eras.nft.objects import NftCoiRule, NftCoiSet, desired_objects, state_of
from coi_tui.eras.nft.transaction import (
    NftScript,
    apply_script,
    owned_objects,
    policy_in_force,
    refresh_script,
    remove_script,
)
from coi_tui.eras.seam import Allowed
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule, Container, Mode, NetworkSettings
from coi_tui.plans import Plan, PlanLine, Present


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

    @staticmethod
    def _policy(container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> DesiredPolicy:
        assert container.ipv4 is not None
        if mode is not Mode.OPEN and not container.veth:
            raise BadInput(f"{container.name}: no host veth known, so no IPv6 drop: COI "
                           f"refuses {mode} without it")
        return nft_policy.desired_policy(container.ipv4, container.name, mode,
                                         nft_settings(settings), gateway, container.veth,
                                         allowed)

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
        stale = self._stale_answers(state, policy)
        if stale:  # in the same transaction: what DNS no longer answers goes as the new comes
            script = NftScript((*script.lines, *stale),
                               script.title or f"{container.name}: refresh allowlist")
        return self._step(script, container.name, partial(_not_in_force, policy))

    @staticmethod
    def _stale_answers(state: NftState, policy: DesiredPolicy) -> tuple[str, ...]:
        """Resolved addresses (`coi_d_`, `coi_dp_`) that the new answers no longer hold. Only
        ever called with the full set to pin: a domain that failed keeps its IPs in it."""
        dynamic = {s.name: s.elements for s in policy.sets if s.kind in ("d", "dp")}
        live = {s.name for s in owned_objects(state, policy.ip, policy.name).sets}
        if not dynamic or not set(dynamic) <= live:
            return ()
        script = refresh_script(state, policy.ip, dynamic, remove_stale=True)
        return tuple(line for line in script.lines if line.startswith("delete element"))

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan:
        script = remove_script(state_of(live), container.ipv4, container.name)

        def gone(state: NftState) -> str:
            left = owned_objects(state, container.ipv4, container.name)
            return "" if left.empty else "rules or sets still present after removal"

        return self._step(script, container.name, gone)

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        """Every container's script in ONE transaction: the change is all or nothing."""
        parts = tuple(part for p in plans for step in p.steps
                      if isinstance(step, NftTransaction) for part in step.parts)
        if not parts:
            return Plan((), title)
        return Plan((NftTransaction(parts, title, title),), title)

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        if container.ipv4 is None:
            return frozenset()
        # the addresses in its address sets (answers in coi_d_, literal entries in coi_s_)
        names = {set_name("d", container.ipv4), set_name("s", container.ipv4)}
        return frozenset(e for r in live if isinstance(r, NftCoiSet) and r.name in names
                         for e in r.elements if "/" not in e and "-" not in e)


def _not_in_force(policy: DesiredPolicy, state: NftState) -> str:
    return "" if policy_in_force(state, policy) else "not in force after the transaction"
