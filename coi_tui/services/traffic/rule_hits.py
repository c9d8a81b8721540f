"""coi-tui's own count per rule where the kernel keeps none: COI's nft rules carry no
`counter`, so the Rules view's Hits for them are the attempts the feed saw each rule decide.
A sample (the feed is rate-limited), said so in the view's legend; the exact totals per
container are the feed's blocked/s."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence

from coi_tui.eras.firewalld.counters import CounterReading, RuleCounter
from coi_tui.eras.nft.objects import NftCoiRule
from coi_tui.models import CoiRule
from coi_tui.services.traffic.attempts import Attempt, Verdict

_HANDLE = re.compile(r"# handle (\d+)$")


class DecidingRules:
    def __init__(self) -> None:
        self._hits: dict[tuple[str, str, int], int] = {}  # (family, table, handle) -> attempts
        self._lock = threading.Lock()  # added to on the UI thread, read in a worker

    def add(self, attempts: Iterable[Attempt]) -> None:
        with self._lock:
            for attempt in attempts:
                found = _HANDLE.search(attempt.rule or "")
                if attempt.verdict is Verdict.REACHED or found is None or not attempt.where:
                    continue
                family, table, *_chain = attempt.where.split()
                key = (family, table, int(found[1]))
                self._hits[key] = self._hits.get(key, 0) + 1

    def counts(self, rules: Sequence[CoiRule]) -> CounterReading:
        with self._lock:
            found: dict[CoiRule, RuleCounter] = {
                r: RuleCounter(r.handle, hits, 0) for r in rules
                if isinstance(r, NftCoiRule) and r.handle is not None
                and (hits := self._hits.get((r.ipv, r.table, r.handle)))}
        return CounterReading(found)


def with_deciding(reader: Callable[[Sequence[CoiRule]], CounterReading] | None,
                  deciding: DecidingRules) -> Callable[[Sequence[CoiRule]], CounterReading]:
    """The kernel's counters where it keeps them, the feed's own count for the others."""

    def read(rules: Sequence[CoiRule]) -> CounterReading:
        kernel = reader(rules) if reader is not None else CounterReading()
        return CounterReading({**deciding.counts(rules).counts, **kernel.counts},
                              kernel.problem)

    return read
