"""Host-wide locks between coi-tui processes: one writer of rules at a time, one `watch`.

flock(2) on a file in /run/lock: the kernel releases it when the holder dies, so a crashed
process never leaves the host locked. The file holds the holder's PID and what it does, for the
message a waiting process shows. Root and the non-root COI user share the files (mode 0666).
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from coi_tui.errors import CoiTuiError


def lock_dir() -> Path:
    configured = os.environ.get("COI_TUI_LOCK_DIR")
    if configured:
        return Path(configured)
    return Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")


WRITER = "coi-tui-writer.lock"
WATCH = "coi-tui-watch.lock"
BACKSTOP = "coi-tui-backstop.lock"  # held by the one keeper that keeps the backstop


@dataclass(frozen=True)
class Holder:
    pid: int
    what: str

    def __str__(self) -> str:
        return f"PID {self.pid} ({self.what})" if self.what else f"PID {self.pid}"


class Cancelled(CoiTuiError):
    """The wait for a lock was given up."""


def open_lock_file(path: Path) -> int:
    # Without O_CREAT first: Debian's fs.protected_regular refuses O_CREAT on another user's
    # file in a sticky directory such as /run/lock, even when its mode allows writing.
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        pass
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileExistsError:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    os.fchmod(fd, 0o666)  # the umask would narrow it
    return fd


class HostLock:
    """One named lock; re-entrant within a process is not needed (one engine thread uses it)."""

    def __init__(self, name: str, what: str | None = None, directory: Path | None = None) -> None:
        self.path = (directory or lock_dir()) / name
        self.what = what if what is not None else " ".join(
            ["coi-tui", *sys.argv[1:]])[:200]
        self._fd: int | None = None
        self._mutex = threading.Lock()

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        with self._mutex:
            if self._fd is not None:
                return True
            try:
                fd = open_lock_file(self.path)
            except OSError as error:
                raise CoiTuiError(f"cannot open the lock {self.path}: {error.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {self.what}\n".encode(), 0)
            self._fd = fd
            return True

    def acquire(
        self,
        on_wait: Callable[[Holder | None], None] = lambda holder: None,
        cancelled: Callable[[], bool] = lambda: False,
        poll: float = 0.05,
    ) -> None:
        """Block until held; `on_wait` once with the holder; Cancelled if `cancelled()`."""
        told = False
        while not self.try_acquire():
            if not told:
                on_wait(self.holder())
                told = True
            if cancelled():
                raise Cancelled(f"gave up waiting for {self.path}")
            time.sleep(poll)

    def release(self) -> None:
        with self._mutex:
            if self._fd is None:
                return
            fd, self._fd = self._fd, None
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def holder(self) -> Holder | None:
        """Who holds the lock now (None if nobody, or if it is us)."""
        if self._fd is not None:
            return None
        try:
            fd = open_lock_file(self.path)
        except OSError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                text = os.pread(fd, 512, 0).decode(errors="replace").strip()
                pid, _, what = text.partition(" ")
                return Holder(int(pid), what) if pid.isdigit() else Holder(0, "unknown")
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
