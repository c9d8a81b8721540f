"""Polling helpers for tests that wait on threads and daemons (no fixed sleeps)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0, what: str = "") -> float:
    """Wait on the event loop until condition() holds; returns the seconds it took."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"not true after {timeout}s: {what or condition}")
        await asyncio.sleep(0.05)
    return time.monotonic() - start
