"""The seam between COI's two eras: what a container's rules are, should be, and how to get
from one to the other. Everything above (inventory, changes, recovery, the refresher, views)
calls a `CoiEra` and never asks which one it is.

- firewalld era (COI's wiki; coi-network-spec.md): direct rules in `ipv4 filter FORWARD`,
  owned by `-s IP`, changed rule by rule in the fail-closed order (planner.py).
- nft era (COI 0.9+, coi-nft-spec.md): table `ip coi`, rules owned by `comment "coi-<ip>"`,
  allowlist sets; every change is ONE `nft -f -` transaction, so no intermediate state exists.

Pure, but for the nft era's transaction operation, which runs through the runner it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from coi_tui.errors import BadInput
from coi_tui.models import (
    CoiRule,
    Container,
    DirectRule,
    Mode,
    NetworkSettings,
    OpStep,
    Plan,
)
from coi_tui.nft_models import DesiredPolicy, NftSettings, NftState, set_name
from coi_tui.nft_rules import NftCoiRule, NftCoiSet, desired_objects, state_of
from coi_tui.services import nft_policy
from coi_tui.services.nft_transaction import (
    NftScript,
    apply_script,
    owned_objects,
    policy_in_force,
    refresh_script,
    remove_script,
)
from coi_tui.services.planner import plan_many, plan_removal, plan_transition
from coi_tui.services.policy import desired_rules
from coi_tui.services.policy import infer_mode as infer_direct_mode

# An allowlist's answers: domain (or literal entry) -> IPv4 addresses, already filtered.
Allowed = Mapping[str, Sequence[str]]


class CoiEra(Protocol):
    name: str  # "firewalld" or "nft"

    def infer_mode(self, container: Container, mine: Sequence[CoiRule]) -> Mode | None: ...

    def desired(self, container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> tuple[CoiRule, ...]: ...

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        """From the container's live rules (found in `live`, every COI rule) to `mode`."""
        ...

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan: ...

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        """Several containers' plans as one change."""
        ...

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """The resolved addresses an allowlist container has in force now."""
        ...


def owned(container: Container, live: Iterable[CoiRule]) -> list[CoiRule]:
    """Exact ownership in both eras: the rule's address is the container's IPv4 (`-s`, or the
    comment `coi-<ip>`), or, for name-keyed rules, its name."""
    return [r for r in live
            if (container.ipv4 and r.source_ip() == container.ipv4)
            or r.owner_name() == container.name]


def entry_name(entry: str) -> str:
    """An allowed_domains entry as the name its answers are kept under: without `:ports`,
    lower case, no trailing dot (as COI's parser reads it)."""
    return entry.split(":", 1)[0].lower().rstrip(".")


def flat(allowed: Allowed) -> tuple[str, ...]:
    return tuple(sorted({ip for ips in allowed.values() for ip in ips}))


class FirewalldEra:
    name = "firewalld"

    @staticmethod
    def _direct(rules: Iterable[CoiRule]) -> list[DirectRule]:
        return [r for r in rules if isinstance(r, DirectRule)]

    def infer_mode(self, container: Container, mine: Sequence[CoiRule]) -> Mode | None:
        return infer_direct_mode(tuple(self._direct(mine)))

    def desired(self, container: Container, mode: Mode, settings: NetworkSettings,
                gateway: str | None, allowed: Allowed) -> tuple[CoiRule, ...]:
        assert container.ipv4 is not None
        return desired_rules(container.ipv4, mode, settings, gateway, flat(allowed))

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        assert container.ipv4 is not None
        want = desired_rules(container.ipv4, mode, settings, gateway, flat(allowed))
        return plan_transition(self._direct(owned(container, live)), want,
                               container=container.name, present=self._direct(live))

    def removal(self, container: Container, live: Sequence[CoiRule]) -> Plan:
        return plan_removal(self._direct(owned(container, live)), container=container.name)

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        return plan_many(plans, title)

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        """Its priority-1 `-d HOST/32 -j ACCEPT` rules (allow_local's RFC 1918 ACCEPTs at
        priority 1 are networks, not hosts)."""
        return frozenset(
            (r.destination or "")[:-3] for r in self._direct(owned(container, live))
            if r.priority == 1 and r.verdict == "ACCEPT"
            and (r.destination or "").endswith("/32"))


class ScriptRunner(Protocol):
    def run_script(self, script: str, *, check: bool = False, action: str = ...) -> None: ...


@dataclass(frozen=True)
class NftTransaction:
    """An Operation: one `nft -f -` script, all of it or nothing; verified by reading back."""

    script: NftScript
    runner: ScriptRunner = field(compare=False)
    verify: Callable[[], bool] = field(compare=False)

    def __str__(self) -> str:
        lines = self.script.lines
        return f"nft -f - ({len(lines)} line(s)): " + "; ".join(lines)

    def run(self) -> str:
        self.runner.run_script(self.script.text, action=self.script.title or "apply")
        return f"one transaction, {len(self.script.lines)} line(s)"

    def still_applies(self) -> bool:
        return True  # planned from the state read under the writer lock

    @property
    def skip_reason(self) -> str:
        return ""

    def gone(self) -> bool:
        return self.verify()


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

    def __init__(self, runner: ScriptRunner, read: Callable[[], Sequence[CoiRule]]) -> None:
        self._runner = runner  # `nft -f -` (root, or sudo -n nft)
        self._read = read  # every COI object now, for verification

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

    def _op(self, script: NftScript, check: Callable[[], bool], who: str) -> Plan:
        if script.empty:
            return Plan((), script.title)
        step = OpStep(NftTransaction(script, self._runner, check), who, script.title)
        return Plan((), script.title, (step,))

    def transition(self, container: Container, live: Sequence[CoiRule], mode: Mode,
                   settings: NetworkSettings, gateway: str | None, allowed: Allowed) -> Plan:
        policy = self._policy(container, mode, settings, gateway, allowed)
        state = state_of(live)
        script = apply_script(state, policy)
        stale = self._stale_answers(state, policy)
        if stale:  # in the same transaction: what DNS no longer answers goes as the new comes
            script = NftScript((*script.lines, *stale),
                               script.title or f"{container.name}: refresh allowlist")
        return self._op(script, lambda: policy_in_force(state_of(self._read()), policy),
                        container.name)

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

        def gone() -> bool:
            return owned_objects(state_of(self._read()), container.ipv4, container.name).empty

        return self._op(script, gone, container.name)

    def merge(self, plans: Iterable[Plan], title: str) -> Plan:
        """Every container's script in ONE transaction: the change is all or nothing."""
        ops = [s for p in plans for s in p.ops]
        if not ops:
            return Plan((), title)
        txs = [s.op for s in ops if isinstance(s.op, NftTransaction)]
        lines = tuple(line for tx in txs for line in tx.script.lines)
        checks = [tx.verify for tx in txs]
        who = ", ".join(dict.fromkeys(s.container or "" for s in ops))
        merged = NftTransaction(NftScript(lines, title), self._runner,
                                lambda: all(check() for check in checks))
        return Plan((), title, (OpStep(merged, who, title),))

    def pinned_ips(self, container: Container, live: Sequence[CoiRule]) -> frozenset[str]:
        if container.ipv4 is None:
            return frozenset()
        # the addresses in its address sets (answers in coi_d_, literal entries in coi_s_)
        names = {set_name("d", container.ipv4), set_name("s", container.ipv4)}
        return frozenset(e for r in live if isinstance(r, NftCoiSet) and r.name in names
                         for e in r.elements if "/" not in e and "-" not in e)
