"""Actual + desired rules -> an ordered, fail-closed plan. Pure.

Order (docs/design.md §3.1): add new REJECTs, remove old ACCEPTs, add new ACCEPTs, remove old
REJECTs; rules in both sets stay untouched. COI's "remove everything, then re-add" instead
opens the LAN for about a second per refresh (docs/exposure-window.md).

Why it is safe: for a NEW flow, adding a REJECT or removing an ACCEPT can only take
destinations away, and adding an ACCEPT or removing a REJECT can only give them, whatever the
priorities, and also with firewalld's unspecified order within one priority. So the plan first
passes through states that allow a subset of the old policy, then through states that allow a
subset of the new one: never more than the more permissive of the two, also when a failed step
stops it halfway. Precondition: each rule's target decides like ACCEPT (ACCEPT, or RETURN, which
falls through to the trusted zone's accept) or like REJECT (REJECT, DROP), or decides nothing
(no -j, LOG). A jump into another chain cannot be classified; COI never writes one.

Of the 24 orders of the four groups exactly five are safe, those where new REJECTs go in before
any new ACCEPT and before any old REJECT comes out, and old ACCEPTs come out before old REJECTs
(tests/unit/test_planner.py has a counterexample for each of the other 19).
"""

from __future__ import annotations

from collections.abc import Iterable

from coi_tui.eras.firewalld.policy import BASE_RULE
from coi_tui.eras.firewalld.rules import DirectRule, Step, StepAction, rule_steps
from coi_tui.plans import Plan, PlanStep

_CLOSING_TARGETS = frozenset({"REJECT", "DROP"})


def _closes(rule: DirectRule) -> bool:
    return rule.verdict in _CLOSING_TARGETS


def plan_transition(
    actual: Iterable[DirectRule],
    desired: Iterable[DirectRule],
    *,
    container: str | None = None,
    keep: Iterable[DirectRule] = (BASE_RULE,),
    present: Iterable[DirectRule] = (),
    title: str = "",
) -> Plan:
    """The steps from `actual` (the rules the container owns now) to `desired`.

    `keep`: shared rules (COI's base rule). A plan towards a non-empty set adds those that
    are missing, first (they decide nothing for a NEW flow, and COI adds them before any mode);
    no plan removes them. `present`: every rule in firewalld now, to tell whether the shared
    rules are already there (the container does not own them)."""
    desired = tuple(dict.fromkeys(desired))
    shared = tuple(dict.fromkeys(keep))
    before = set(actual) | (set(present) & set(shared))
    after = set(desired)
    ensure = [r for r in shared if r not in before] if after else []
    add = [r for r in desired if r not in before and r not in ensure]
    remove = sorted(before - after - set(shared))

    def steps(action: StepAction, rules: Iterable[DirectRule], why: str) -> list[Step]:
        return [Step(action, r, container, why) for r in rules]

    return Plan(
        tuple(
            steps(StepAction.ADD, ensure, "shared rule, missing")
            + steps(StepAction.ADD, [r for r in add if _closes(r)], "new reject, first")
            + steps(StepAction.REMOVE, [r for r in remove if not _closes(r)], "old accept")
            + steps(StepAction.ADD, [r for r in add if not _closes(r)], "new accept")
            + steps(StepAction.REMOVE, [r for r in remove if _closes(r)], "old reject, last")
        ),
        title,
    )


def plan_removal(
    actual: Iterable[DirectRule],
    *,
    container: str | None = None,
    keep: Iterable[DirectRule] = (BASE_RULE,),
    title: str = "",
) -> Plan:
    """Remove a container's rules, ACCEPTs first: until they are gone the container only loses
    destinations, so a removal that stops halfway leaves it more closed than its policy rather
    than more open. The shared rules stay (other containers rely on them)."""
    return plan_transition(actual, (), container=container, keep=keep, title=title)


def plan_many(plans: Iterable[Plan], title: str = "") -> Plan:
    """Per-container plans one after the other. A rule that several of them add (the shared
    base rule, when it was missing) is added once, by the first."""
    steps: list[PlanStep] = []
    added: set[DirectRule] = set()
    for step in (s for plan in plans for s in rule_steps(plan)):
        if step.action is StepAction.ADD:
            if step.rule in added:
                continue
            added.add(step.rule)
        else:
            added.discard(step.rule)
        steps.append(step)
    return Plan(tuple(steps), title)
