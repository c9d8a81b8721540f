"""watch's bounded history of attempts: JSON lines, one attempt each, names and never payloads.

`~/.local/state/coi-tui/traffic.jsonl`; each line carries the schema version. Bounded by
count and age: when it grows past twice the count it is cut back in one atomic rewrite."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from coi_tui.services.traffic.attempts import SCHEMA, Attempt

KEEP = 20_000  # lines
MAX_AGE = 7 * 24 * 3600.0  # seconds


def history_path(home: Path) -> Path:
    return home / ".local" / "state" / "coi-tui" / "traffic.jsonl"


def read(path: Path) -> Iterator[Attempt]:
    """The kept attempts, oldest first; lines of another schema or unreadable are skipped."""
    try:
        handle = path.open(encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                raw = json.loads(line)
                if raw.get("schema") == SCHEMA:
                    yield Attempt.from_record(raw)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue


class History:
    def __init__(self, path: Path, keep: int = KEEP, max_age: float = MAX_AGE,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self._clock = clock
        self.keep = keep
        self.max_age = max_age
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lines = sum(1 for _ in read(path))

    def add(self, attempts: Iterable[Attempt]) -> None:
        text = "".join(json.dumps(a.record(), separators=(",", ":")) + "\n" for a in attempts)
        if not text:
            return
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
        self._lines += text.count("\n")
        if self._lines > 2 * self.keep:
            self.trim()

    def trim(self) -> None:
        cutoff = self._clock() - self.max_age
        kept = [a for a in read(self.path) if a.at >= cutoff][-self.keep:]
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".traffic.")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(a.record(), separators=(",", ":")) + "\n" for a in kept)
        os.replace(tmp, self.path)
        self._lines = len(kept)
