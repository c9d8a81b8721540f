"""Keeps the inventory fresh: a thread that snapshots every few seconds and at once when woken.

Woken by Incus lifecycle events and firewalld signals. It never overlaps two snapshots and stops
promptly (the wait is on an Event, not a sleep).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from coi_tui.models import Inventory
from coi_tui.services.inventory import InventorySource


class InventoryPoller:
    def __init__(
        self,
        source: InventorySource,
        on_snapshot: Callable[[Inventory], None],
        interval: float = 2.0,
    ) -> None:
        self._source = source
        self._on_snapshot = on_snapshot
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._thread = threading.Thread(target=self._run, name="inventory-poller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self, *_: object) -> None:
        """Snapshot now. Safe from any thread; extra arguments let it be an event sink."""
        self._wake.set()

    @property
    def waiting(self) -> tuple[str, float] | None:
        """(backend, since) while a snapshot waits on it; None between snapshots."""
        return self._source.reading

    def pause(self, paused: bool) -> None:
        if paused:
            self._paused.set()
        else:
            self._paused.clear()
            self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._source.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._paused.is_set():
                self._on_snapshot(self._source.snapshot())
            self._wake.wait(self._interval)
            self._wake.clear()
