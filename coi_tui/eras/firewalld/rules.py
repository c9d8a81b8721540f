"""A firewalld direct rule and a step that adds or removes one: the firewalld era's data."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, cast

from coi_tui.backends.base import FirewallBackend
from coi_tui.plans import Plan, PlanLine, Present


def _option(args: tuple[str, ...], flag: str) -> str | None:
    for i, token in enumerate(args[:-1]):
        if token == flag:
            return args[i + 1]
    return None


@dataclass(frozen=True, order=True)
class DirectRule:
    """One firewalld direct rule, exactly as firewalld stores it."""

    ipv: str
    table: str
    chain: str
    priority: int
    args: tuple[str, ...]

    @property
    def source(self) -> str | None:
        return _option(self.args, "-s")

    @property
    def destination(self) -> str | None:
        return _option(self.args, "-d")

    @property
    def verdict(self) -> str | None:
        return _option(self.args, "-j")

    def source_ip(self) -> str | None:
        """The `-s` value as a bare address when it names exactly one host (bare or /32)."""
        src = self.source
        if src is None:
            return None
        if src.endswith("/32"):
            return src[:-3]
        return None if "/" in src else src

    def owner_name(self) -> str | None:
        return None  # the firewalld era keys every rule by address

    def cli_args(self) -> list[str]:
        """The argv tail firewall-cmd takes after --add-rule / --remove-rule."""
        return [self.ipv, self.table, self.chain, str(self.priority), *self.args]

    def __str__(self) -> str:
        return shlex.join(self.cli_args())


class StepAction(StrEnum):
    ADD = "add"
    REMOVE = "remove"


class DirectRules(Protocol):
    """firewalld's direct interface, as a step changes it. add/remove are idempotent: a
    duplicate add or a missing remove returns False, not an error."""

    def add_rule(self, rule: DirectRule) -> bool: ...
    def remove_rule(self, rule: DirectRule) -> bool: ...


@dataclass(frozen=True)
class Step:
    """One direct rule added or removed: a plan step of the firewalld era."""

    action: StepAction
    rule: DirectRule
    container: str | None = None  # name of the container the step is for, for reports
    why: str = ""

    def __str__(self) -> str:
        sign = "+" if self.action is StepAction.ADD else "-"
        return f"{sign} {self.rule}"

    def lines(self) -> tuple[PlanLine, ...]:
        return (PlanLine(self.action.value, str(self.rule), self.container),)

    def label(self) -> str:
        return str(self)

    def skip_reason(self) -> str:
        return ""  # add and remove are idempotent: re-checked by firewalld itself

    def run(self, firewall: FirewallBackend) -> str:
        direct = cast(DirectRules, firewall)  # the firewalld era planned it for firewalld
        if self.action is StepAction.ADD:
            return "added" if direct.add_rule(self.rule) else "already present"
        return "removed" if direct.remove_rule(self.rule) else "already gone"

    def verify(self, present: Present) -> tuple[str, ...]:
        there = self.rule in set(present())
        if self.action is StepAction.ADD and not there:
            return (f"missing after apply: {self.rule}",)
        if self.action is StepAction.REMOVE and there:
            return (f"still present after removal: {self.rule}",)
        return ()


def rule_steps(plan: Plan) -> tuple[Step, ...]:
    """A plan's direct-rule steps (the firewalld era's), in order."""
    return tuple(s for s in plan.steps if isinstance(s, Step))
