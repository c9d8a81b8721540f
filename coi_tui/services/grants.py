"""coi-tui's active grants, one small JSON file every coi-tui process reads (the TUI, `watch`,
the CLI): `~/.local/state/coi-tui/grants.json`, with a schema version, written atomically.

A grant belongs to the container's name and the IPv4 it had when granted, in the mode it was
granted for: it is in force while the container runs with that address in that mode, until
its time (None: until the container stops). What is in force becomes part of the container's
desired rules (`openings_for`), so the keeper never undoes it.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from coi_tui.errors import CoiTuiError
from coi_tui.models import Container, Mode, Opening

SCHEMA = 1


@dataclass(frozen=True)
class GrantRecord:
    container: str
    ipv4: str  # the container's address when granted: another address ends the grant
    mode: Mode  # the enforced mode it was granted for
    address: str
    port: int | None = None
    name: str | None = None
    until: float | None = None  # epoch seconds; None: until the container stops
    granted_at: float = 0.0

    @property
    def key(self) -> tuple[str, str, int | None]:
        return self.container, self.address, self.port

    @property
    def destination(self) -> str:
        where = f"{self.address}:{self.port}" if self.port else self.address
        return f"{self.name} ({where})" if self.name else where

    def ended(self, container: Container | None, now: float) -> str:
        """Why it no longer holds ("" while it does): its time is up, or the container
        stopped, left its address or changed mode."""
        if self.until is not None and now >= self.until:
            return "its time is up"
        if container is None or container.status != "Running":
            return "the container stopped"
        if container.ipv4 != self.ipv4:
            return "the container's address changed"
        if container.mode_key != self.mode.value:
            return "the container's mode changed"
        return ""

    def opening(self, now: float, *, ended: bool = False) -> Opening:
        left = None if self.until is None else max(1, math.ceil(self.until - now))
        return Opening(self.address, self.port, self.name, left, ended)


class GrantsError(CoiTuiError):
    pass


def grants_path(home: Path) -> Path:
    return home / ".local" / "state" / "coi-tui" / "grants.json"


def load_grants(path: Path) -> tuple[GrantRecord, ...]:
    """A missing file is no grant; an unreadable one is an error (a grant must never be
    forgotten silently, nor a revoked one come back)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return ()
    except (OSError, ValueError) as error:
        raise GrantsError(f"{path}: cannot read coi-tui's grants: {error}") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise GrantsError(f"{path}: not a coi-tui grants file of schema {SCHEMA}")
    try:
        return tuple(GrantRecord(**{**g, "mode": Mode(g["mode"])}) for g in data["grants"])
    except (KeyError, TypeError, ValueError) as error:
        raise GrantsError(f"{path}: a grant does not parse: {error}") from None


def save_grants(path: Path, grants: Iterable[GrantRecord]) -> None:
    records = [{**asdict(g), "mode": g.mode.value} for g in grants]
    text = json.dumps({"schema": SCHEMA, "grants": records}, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def with_grant(grants: Sequence[GrantRecord], grant: GrantRecord) -> tuple[GrantRecord, ...]:
    """`grant` in place of any for the same container, address and port."""
    return (*(g for g in grants if g.key != grant.key), grant)


def without(grants: Sequence[GrantRecord], gone: Iterable[GrantRecord]
            ) -> tuple[GrantRecord, ...]:
    keys = {g.key for g in gone}
    return tuple(g for g in grants if g.key not in keys)


def openings_for(grants: Sequence[GrantRecord], container: Container, mode: Mode,
                 now: float) -> tuple[Opening, ...]:
    """What the container's desired rules hold beyond its mode: its grants in force now."""
    return tuple(g.opening(now) for g in grants
                 if g.container == container.name and g.mode is mode
                 and not g.ended(container, now))
