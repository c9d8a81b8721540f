"""The one plan model of both eras: a plan is a title and one tuple of steps.

A step is whatever an era (or the orphan review) needs to change: a firewalld direct rule to
add or remove, one `nft -f -` transaction, a link or a file to delete. Every step runs itself,
says line by line what it does (the review, `--dry-run` and the audit show those lines, so
what was reviewed is what runs and what is recorded), and verifies itself afterwards from one
read of the firewall that the engine shares between the steps of a plan.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from coi_tui.backends.base import FirewallBackend
from coi_tui.errors import CoiTuiError
from coi_tui.models import CoiRule

# What a step's verification reads: every COI rule (or nft object) now, read once per plan.
Present = Callable[[], Sequence[CoiRule]]

_SIGNS = {"add": "+", "insert": "+", "delete": "-", "remove": "-", "flush": "-", "set": "="}


@dataclass(frozen=True)
class PlanLine:
    """One line of what a step does: the real action (add, insert, delete, remove, flush),
    the text (a direct rule's argv, an nft script line, an object), and whose it is."""

    action: str
    text: str
    owner: str | None = None

    @property
    def sign(self) -> str:
        return _SIGNS.get(self.action, "~")

    def __str__(self) -> str:
        return f"{self.sign} {self.text}"


class PlanStep(Protocol):
    @property
    def container(self) -> str | None:
        """A label for reports: the container (or containers, or orphan kind) it is for."""
        ...

    @property
    def why(self) -> str: ...

    def lines(self) -> tuple[PlanLine, ...]:
        """What it does, line by line, in the order it does it."""
        ...

    def label(self) -> str:
        """The step on one line, for progress and logs."""
        ...

    def skip_reason(self) -> str:
        """Re-checked just before it runs: a reason to skip it, or "" to run it."""
        ...

    def run(self, firewall: FirewallBackend) -> str:
        """Do it; a short detail ("added", "one transaction, 8 lines"). CoiTuiError on failure."""
        ...

    def verify(self, present: Present) -> tuple[str, ...]:
        """After the plan ran: what is not as this step left it (empty when all is well)."""
        ...


@dataclass(frozen=True)
class Plan:
    steps: tuple[PlanStep, ...] = ()
    title: str = ""

    @property
    def empty(self) -> bool:
        return not self.steps

    def __len__(self) -> int:
        return len(self.steps)

    def lines(self) -> tuple[PlanLine, ...]:
        return tuple(line for step in self.steps for line in step.lines())

    def counts(self) -> dict[str, int]:
        """How many lines add (+), take away (-) and set a value (=)."""
        lines = self.lines()
        return {sign: sum(1 for line in lines if line.sign == sign) for sign in "+-="}


def review_lines(plan: Plan) -> list[str]:
    """What the review and --dry-run list: every line; whose it is when several own them."""
    lines = plan.lines()
    several = len({line.owner for line in lines}) > 1
    return [f"{line}   [{line.owner}]" if several and line.owner else str(line)
            for line in lines]


def plan_summary(plan: Plan) -> str:
    """One line for the review and --dry-run: how many steps, lines, adds and removals, and
    how they run (a multi-line step, an nft transaction, is all or nothing)."""
    if plan.empty:
        return "nothing to change"
    counts, lines = plan.counts(), len(plan.lines())
    changes = f"{counts['+']} to add, {counts['-']} to remove" + (
        f", {counts['=']} to set" if counts["="] else "")
    whole = any(len(step.lines()) > 1 for step in plan.steps)
    if len(plan) == 1 and whole:
        return f"one transaction, {lines} lines: {changes}, all or nothing"
    if whole:
        return f"{len(plan)} steps, {lines} lines: {changes}, each step whole, in order"
    return f"{len(plan)} step(s): {changes}, in fail-closed order"


class Operation(Protocol):
    """A removal that is not a firewall rule (a link, a zone binding, a file, an nft object of
    a dead container), as the orphan review finds them."""

    def __str__(self) -> str: ...

    def run(self) -> str:
        """Do it; a short detail ("deleted"). Raises CoiTuiError on failure."""
        ...

    def still_applies(self) -> bool:
        """Re-checked just before it runs: False skips it (with `skip_reason`)."""
        ...

    @property
    def skip_reason(self) -> str: ...

    def gone(self) -> bool:
        """Verification: what it removes is no longer there."""
        ...


@dataclass(frozen=True)
class OpStep:
    """An Operation as a plan step: one line, a removal."""

    op: Operation
    container: str | None = None
    why: str = ""

    def __str__(self) -> str:
        return str(self.op)

    def lines(self) -> tuple[PlanLine, ...]:
        return (PlanLine("remove", str(self.op), self.container),)

    def label(self) -> str:
        return str(self.lines()[0])

    def skip_reason(self) -> str:
        return "" if self.op.still_applies() else self.op.skip_reason

    def run(self, firewall: FirewallBackend) -> str:
        return self.op.run()

    def verify(self, present: Present) -> tuple[str, ...]:
        try:
            return () if self.op.gone() else (f"still present after removal: {self.op}",)
        except CoiTuiError as error:
            return (f"could not verify {self.op}: {error}",)
