"""Atomic, faithful writes: never a partly written config (docs/design.md §3.4).

Temp file in the same directory, fsync, os.replace over the real file (through a symlink, so the
link stays a link), the same mode and owner, the previous content kept as `<name>.bak`, and the
directory fsynced so the rename itself survives a crash.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path

from coi_tui.services.config.errors import ConfigWriteError


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_new(directory: Path, name: str, data: bytes, like: os.stat_result | None) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if like is not None:
            os.chmod(tmp, stat.S_IMODE(like.st_mode))
            if os.geteuid() == 0:
                os.chown(tmp, like.st_uid, like.st_gid)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write(path: Path, text: str, backup: bool = True) -> Path:
    """Write text to path (the symlink's target if path is one); returns the real path."""
    try:
        return _atomic_write(path, text, backup)
    except OSError as error:
        raise ConfigWriteError(f"cannot write {path}: {error.strerror or error}") from None


def _atomic_write(path: Path, text: str, backup: bool) -> Path:
    real = Path(os.path.realpath(path))
    real.parent.mkdir(parents=True, exist_ok=True)
    current = real.stat() if real.exists() else None
    if backup and current is not None:
        bak = _write_new(real.parent, real.name, real.read_bytes(), current)
        os.replace(bak, real.with_name(real.name + ".bak"))
    new = _write_new(real.parent, real.name, text.encode("utf-8"), current)
    try:
        os.replace(new, real)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(new)
        raise
    _fsync_dir(real.parent)
    return real
