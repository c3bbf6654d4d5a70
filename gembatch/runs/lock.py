"""One driver per run directory at a time, across threads, Run objects and processes (flock)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["driver_lock"]

LOCK_FILE = "driver.lock"


@contextmanager
def driver_lock(run_dir: Path) -> Iterator[bool]:
    """Yield True holding the run's driver lock, or False at once if someone else holds it.

    Two drivers could otherwise both find a chunk in ``submitting`` and disagree about it. The
    lock is released by the OS if the holder dies, so a SIGKILLed runner never blocks the next.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one driver per run is then the user's job
        yield True
        return
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
