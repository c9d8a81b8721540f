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
from coi_tui.nft_models import DesiredPolicy, HostEntry, NftSettings, set_name
from coi_tui.nft_rules import NftCoiRule, NftCoiSet, desired_objects, state_of
from coi_tui.services import nft_policy
from coi_tui.services.nft_transaction import (
    NftScript,
    apply_script,
    owned_objects,
    policy_in_force,
    remove_script,
)
from coi_tui.services.planner import plan_many, plan_removal, plan_transition
from coi_tui.services.policy import desired_rules, filter_allowed_ips
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
    hosts = getattr(settings, "hosts", ())
    return NftSettings(
        block_private_networks=settings.block_private_networks,
        block_metadata_endpoint=settings.block_metadata_endpoint,
        allow_local_network_access=settings.allow_local_network_access,
        allowed_domains=settings.allowed_domains,
        dns_servers=tuple(getattr(settings, "dns_servers", ())),
        allowed_ports=tuple(getattr(settings, "allowed_ports", ())),
        hosts=tuple(h if isinstance(h, HostEntry) else HostEntry(*h) for h in hosts),
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
        return nft_policy.infer_mode(container.ipv4, [_Shape(r.args) for r in forward], sets,
                                     drop6)

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
        script = apply_script(state_of(live), policy)
        return self._op(script, lambda: policy_in_force(state_of(self._read()), policy),
                        container.name)

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
        name = set_name("d", container.ipv4)
        return frozenset(e.split()[0] for r in live
                         if isinstance(r, NftCoiSet) and r.name == name for e in r.elements)


@dataclass(frozen=True)
class _Shape:
    canonical: tuple[str, ...]


def allowed_from(ips: Sequence[str], domains: Sequence[str], allow_local: bool) -> Allowed:
    """A flat IP list (the firewalld era's view) as answers for every domain entry."""
    allowed, _refused = filter_allowed_ips(list(ips), allow_local)
    return dict.fromkeys(domains, tuple(allowed))
