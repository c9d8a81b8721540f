"""Old answers: resolved addresses an allowlist still pins after DNS stopped giving them.

COI's nft era never removes a resolved set element (docs/coi-nft-era.md §4.3), so every
address a name ever resolved to stays allowed. coi-tui shows those pins with their age and
can prune them on request (beyond COI: a bounded allowlist). Their age comes from coi-tui's
own ledger (`~/.local/state/coi-tui/dns-pins/<container>.json`: when each pin was first seen
and last answered by DNS), seeded from COI's IP cache (an address in the cache was an answer
when the cache was written). COI's files are only read here.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from coi_tui.services.dns.cache import IpCache, format_rfc3339, parse_rfc3339


@dataclass(frozen=True)
class PinSeen:
    first_seen: datetime
    last_answered: datetime | None = None


@dataclass(frozen=True)
class OldAnswer:
    """A pinned address DNS no longer gives."""

    ip: str
    since: datetime  # the last time DNS gave it, else when coi-tui first saw it pinned
    answered: bool  # since = last answered (False: first seen, never answered since)

    def age(self, now: float) -> int:
        return max(0, int(now - self.since.timestamp()))

    @property
    def since_text(self) -> str:
        return ("last answered " if self.answered else "first seen ") + format_rfc3339(self.since)


def ledger_path(container: str, home: Path) -> Path:
    return home / ".local" / "state" / "coi-tui" / "dns-pins" / f"{container}.json"


def load_ledger(path: Path) -> dict[str, PinSeen]:
    """A missing or unreadable ledger is an empty one (it only dates pins)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        pins = data["pins"]
        return {ip: PinSeen(_time(seen["first_seen"]), _optional(seen.get("last_answered")))
                for ip, seen in pins.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _time(text: object) -> datetime:
    moment = parse_rfc3339(str(text))
    if moment is None:
        raise ValueError("zero time")
    return moment


def _optional(text: object) -> datetime | None:
    return None if text is None else _time(text)


def format_ledger(ledger: Mapping[str, PinSeen]) -> str:
    return json.dumps({"pins": {
        ip: {"first_seen": format_rfc3339(seen.first_seen),
             "last_answered": None if seen.last_answered is None
             else format_rfc3339(seen.last_answered)}
        for ip, seen in sorted(ledger.items())}}, indent=2) + "\n"


def save_ledger(path: Path, ledger: Mapping[str, PinSeen]) -> None:
    text = format_ledger(ledger)
    with contextlib.suppress(OSError):
        if path.read_text(encoding="utf-8") == text:
            return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


def update_ledger(ledger: Mapping[str, PinSeen], pins: Iterable[str], answered: Iterable[str],
                  now: datetime, cache: IpCache | None) -> dict[str, PinSeen]:
    """The ledger for the pins in force now (pruned ones are forgotten): answers now are
    answered now; an address in COI's cache was answered when the cache was written."""
    answered = set(answered)
    out: dict[str, PinSeen] = {}
    for ip in pins:
        seen = ledger.get(ip) or PinSeen(now)
        last = seen.last_answered
        if ip in answered:
            last = now
        elif cache is not None and cache.last_update is not None and ip in cache.ips:
            last = cache.last_update if last is None else max(last, cache.last_update)
        out[ip] = PinSeen(min(seen.first_seen, last) if last else seen.first_seen, last)
    return out


def old_answers(ledger: Mapping[str, PinSeen], old: Iterable[str]) -> tuple[OldAnswer, ...]:
    """The pins DNS no longer gives, oldest first."""
    answers = []
    for ip in old:
        seen = ledger.get(ip)
        if seen is None:
            continue
        if seen.last_answered is not None:
            answers.append(OldAnswer(ip, seen.last_answered, True))
        else:
            answers.append(OldAnswer(ip, seen.first_seen, False))
    return tuple(sorted(answers, key=lambda a: (a.since, a.ip)))
