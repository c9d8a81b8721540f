"""Actual + desired rules -> an ordered, fail-closed plan. Pure.

Order (design.md §3.1): add new REJECTs, remove old ACCEPTs, add new ACCEPTs, remove old REJECTs.
At every step the container is allowed no more than the more permissive of its old and new
policy; COI's "remove everything, then re-add" opens a window (exposure-window.md).
"""

from __future__ import annotations

from collections.abc import Iterable

from coi_tui.models import DirectRule, Plan, Step, StepAction
from coi_tui.services.policy import BASE_RULE


def _is_accept(rule: DirectRule) -> bool:
    return rule.verdict == "ACCEPT"


def plan_transition(
    actual: Iterable[DirectRule],
    desired: Iterable[DirectRule],
    *,
    container: str | None = None,
    present: Iterable[DirectRule] = (),
    title: str = "",
) -> Plan:
    """`actual`: the container's own rules now; `present`: every rule in firewalld (to know
    whether the shared base rule is there)."""
    actual_set, desired_set = set(actual), set(desired)
    add = sorted(desired_set - actual_set)
    remove = sorted(actual_set - desired_set - {BASE_RULE})
    steps: list[Step] = []
    if BASE_RULE not in set(present) | actual_set and desired_set:
        steps.append(Step(StepAction.ADD, BASE_RULE, container, "shared RELATED,ESTABLISHED"))
    steps += [Step(StepAction.ADD, r, container, "new reject first") for r in add
              if not _is_accept(r)]
    steps += [Step(StepAction.REMOVE, r, container, "old accept") for r in remove if _is_accept(r)]
    steps += [Step(StepAction.ADD, r, container, "new accept") for r in add if _is_accept(r)]
    steps += [Step(StepAction.REMOVE, r, container, "old reject last") for r in remove
              if not _is_accept(r)]
    return Plan(tuple(steps), title)


def plan_removal(
    actual: Iterable[DirectRule], *, container: str | None = None, title: str = ""
) -> Plan:
    """Remove a container's rules, ACCEPTs first: no intermediate state allows more than before.
    The shared base rule stays (other containers rely on it)."""
    return plan_transition(actual, (), container=container, present=(BASE_RULE,), title=title)


def concat(plans: Iterable[Plan], title: str = "") -> Plan:
    return Plan(tuple(step for plan in plans for step in plan.steps), title)
