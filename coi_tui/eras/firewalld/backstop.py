"""The backstop: an nft table of coi-tui's own that blocks what each recorded mode blocks, so
that firewalld stopping (it flushes COI's direct rules) lets nothing through those modes block.

firewalld never touches a table it did not make, so the backstop outlives it. It is always in
force beside firewalld's rules while a keeper (the TUI or `coi-tui watch`) runs: each
container's chain is its own desired direct rules, in priority order, made into nft (ACCEPT
ends the chain, REJECT rejects), so it blocks exactly what the mode blocks and never more. Every
change replaces the whole table in one `nft -f` transaction (atomic: no packet sees a state in
between). During a plan a container may hold two chains, the old mode's and the new one's: a
packet either rejects is rejected (the union of both modes' blocks, the fail-closed way); the
plan's last step leaves the new one only.

A chain's name carries a digest of its rules (`c_10_147_0_5_1a2b3c4d`), so the live table says
what it holds: `check`, `status` and the orphan review read it without the keeper.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from coi_tui.backends.base import FirewallBackend
from coi_tui.eras.firewalld.rules import DirectRule, Step, StepAction, rule_steps
from coi_tui.eras.nft.cli import NftCli
from coi_tui.errors import BadInput
from coi_tui.models import CoiRule
from coi_tui.plans import Plan, PlanLine, PlanStep, Present

TABLE = "coi_tui_backstop"  # family ip: the firewalld era's rules are IPv4 only
PRIORITY = -10  # before firewalld's filter chains; a reject anywhere on the hook is final
_VERDICTS = {"ACCEPT": "return", "REJECT": "reject", "DROP": "drop"}

# ip -> the rule sets it holds (one; two while a plan moves it from one mode to another)
Held = Mapping[str, tuple[tuple[DirectRule, ...], ...]]


def direct(rules: Iterable[CoiRule]) -> tuple[DirectRule, ...]:
    return tuple(r for r in rules if isinstance(r, DirectRule))


def statements(rules: Iterable[DirectRule]) -> tuple[str, ...]:
    """A container's direct rules as the statements of its backstop chain, by priority (the
    order firewalld decides in). BadInput for a rule coi-tui cannot say the same of in nft."""
    lines = []
    for rule in sorted(rules, key=lambda r: r.priority):
        args = list(rule.args)
        verdict = _VERDICTS.get(rule.verdict or "")
        known = {"-s", "-d", "-j", "-p", "--dport"}  # a grant's `-p tcp --dport N` too
        if verdict is None or any(a.startswith("-") and a not in known for a in args):
            raise BadInput(f"the backstop cannot hold this rule: {rule}")
        match = f"ip daddr {rule.destination} " if rule.destination else ""
        protocol = _value(args, "-p")
        port = _value(args, "--dport")
        if port is not None and protocol not in ("tcp", "udp"):
            raise BadInput(f"the backstop cannot hold this rule: {rule}")
        if protocol is not None:
            match += f"{protocol} dport {port} " if port else f"meta l4proto {protocol} "
        lines.append(f"{match}{verdict}")
    return tuple(lines)


def _value(args: list[str], flag: str) -> str | None:
    return args[args.index(flag) + 1] if flag in args[:-1] else None


def chain_name(ip: str, rules: Iterable[DirectRule]) -> str:
    digest = hashlib.sha256("\n".join(statements(rules)).encode()).hexdigest()[:8]
    return f"c_{ip.replace('.', '_')}_{digest}"


def chain_ip(name: str) -> str | None:
    """The address a chain of the backstop is for (None: not one of its chains)."""
    parts = name.split("_")
    if len(parts) != 6 or parts[0] != "c" or not all(p.isdigit() for p in parts[1:5]):
        return None
    return ".".join(parts[1:5])


def script(held: Held) -> str:
    """The whole table for `held`, replacing whatever is there, as one transaction."""
    out = [f"table ip {TABLE} {{}}", f"delete table ip {TABLE}", f"table ip {TABLE} {{",
           f"  chain forward {{ type filter hook forward priority {PRIORITY}; policy accept;",
           "    ct state established,related accept"]
    chains: list[str] = []
    for ip in sorted(held):
        for rules in held[ip]:
            name = chain_name(ip, rules)
            out.append(f"    ip saddr {ip} jump {name}")
            chains += [f"  chain {name} {{", *(f"    {s}" for s in statements(rules)), "  }"]
    return "\n".join([*out, "  }", *chains, "}", ""])


def live_chains(nft: NftCli | None = None) -> frozenset[str] | None:
    """The backstop's chains in the kernel now; None when there is no backstop table."""
    table = (nft or NftCli()).list_table("ip", TABLE)
    return None if table is None else frozenset(c.name for c in table.chains if chain_ip(c.name))


@dataclass(eq=False)  # one per keeper: plan steps refer to it by identity
class Backstop:
    """What this keeper holds, kept in the kernel. The engine thread (plans) and the poller
    thread (snapshots) both change it: each reads, decides and applies under one lock, so a
    snapshot never writes back a state a plan step has just replaced."""

    nft: NftCli = field(default_factory=NftCli)
    held: dict[str, tuple[tuple[DirectRule, ...], ...]] = field(default_factory=dict)
    moving: set[str] = field(default_factory=set)  # held for a plan that runs now
    applied: bool = False
    # this process keeps the backstop (the keeper's lock): else plans leave it to the keeper
    # that does, and nothing here touches the table
    active: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _apply(self, held: dict[str, tuple[tuple[DirectRule, ...], ...]]) -> None:
        self.nft.run_script(script(held), action="update the backstop")
        self.held, self.applied = held, True

    def hold(self, ip: str, rules: tuple[DirectRule, ...]) -> None:
        """While a plan moves `ip`: the new rules beside the old (both block)."""
        if not self.active:
            return
        with self.lock:
            sets = self.held.get(ip, ())
            self.moving.add(ip)
            if rules and rules not in sets:
                self._apply({**self.held, ip: (*sets, rules)})

    def settle(self, ip: str, rules: tuple[DirectRule, ...]) -> None:
        """After the plan: `ip` holds its rules now, and nothing else."""
        with self.lock:
            self.moving.discard(ip)
            if not self.active:
                return
            held = {k: v for k, v in self.held.items() if k != ip}
            if rules:
                held[ip] = (rules,)
            if held != self.held or not self.applied:
                self._apply(held)

    def follow(self, desired: Mapping[str, tuple[CoiRule, ...] | None]) -> None:
        """The recorded modes of the containers now (None: not known, keep what is held);
        an address no recorded mode has is held by nothing."""
        with self.lock:
            held = {ip: self.held[ip] for ip in self.moving if ip in self.held}
            for ip, wanted in desired.items():
                if ip in held:
                    continue
                if wanted is None:
                    if ip in self.held:
                        held[ip] = self.held[ip]
                elif rules := direct(wanted):
                    held[ip] = (rules,)
            if held != self.held or not self.applied:
                self._apply(held)

    def holds(self, ip: str, rules: Sequence[CoiRule]) -> bool:
        return direct(rules) in self.held.get(ip, ())

    def remove(self) -> None:
        # made first, so that deleting it never fails on a table that is not there
        with self.lock:
            self.nft.run_script(f"table ip {TABLE} {{}}\ndelete table ip {TABLE}\n",
                                action="remove the backstop")
            self.held, self.applied = {}, False


@dataclass(frozen=True)
class BackstopStep:
    """A plan step on the backstop: `hold` (the new rules beside the old, first) or settle
    (the rules then in firewalld, last). The rules come from firewalld when it runs, so the
    backstop follows what the plan really did."""

    backstop: Backstop
    ip: str
    changes: tuple[Step, ...]  # the plan's direct-rule steps for this address
    settling: bool
    container: str | None = None

    @property
    def why(self) -> str:
        return "backstop, last" if self.settling else "backstop, first"

    def lines(self) -> tuple[PlanLine, ...]:
        what = (f"{self.ip} keeps only the rules then in firewalld" if self.settling
                else f"{self.ip}'s new rules beside its old ones (both block)")
        return (PlanLine("update", f"backstop: {what}", self.container),)

    def label(self) -> str:
        return self.lines()[0].text

    def skip_reason(self) -> str:
        return ""

    def _owned(self, firewall: FirewallBackend) -> tuple[DirectRule, ...]:
        return tuple(r for r in firewall.list_rules()
                     if isinstance(r, DirectRule) and r.source_ip() == self.ip)

    def run(self, firewall: FirewallBackend) -> str:
        now = self._owned(firewall)
        if self.settling:
            self.backstop.settle(self.ip, now)
            return "settled"
        after = [r for r in now if not any(s.rule == r and s.action is StepAction.REMOVE
                                           for s in self.changes)]
        after += [s.rule for s in self.changes
                  if s.action is StepAction.ADD and s.rule not in after]
        self.backstop.hold(self.ip, tuple(after))
        return "held"

    def verify(self, present: Present) -> tuple[str, ...]:
        return ()


def with_backstop(plan: Plan, backstop: Backstop) -> Plan:
    """The plan, with the backstop first held for each address it changes and settled last."""
    by_ip: dict[str, list[Step]] = {}
    names: dict[str, str | None] = {}
    for step in rule_steps(plan):
        ip = step.rule.source_ip()
        if ip is not None:
            by_ip.setdefault(ip, []).append(step)
            names.setdefault(ip, step.container)
    if not by_ip:
        return plan
    first: list[PlanStep] = [BackstopStep(backstop, ip, tuple(steps), False, names[ip])
                             for ip, steps in by_ip.items()]
    last: list[PlanStep] = [BackstopStep(backstop, ip, tuple(steps), True, names[ip])
                            for ip, steps in by_ip.items()]
    return Plan((*first, *plan.steps, *last), plan.title)
