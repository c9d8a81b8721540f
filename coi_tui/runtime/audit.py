"""The audit log: one JSON line per firewall step, beside COI's logs."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path("~/.coi/logs/coi-tui-audit.jsonl")


class AuditLog:
    def __init__(self, path: Path | None = None) -> None:
        self.path = (path or DEFAULT_PATH).expanduser()
        self._lock = threading.Lock()

    def write(self, **fields: Any) -> None:
        record = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **fields}
        line = json.dumps(record, sort_keys=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # O_APPEND: one write per line, so concurrent writers never interleave within a line
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode())
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]
