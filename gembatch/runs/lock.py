"""One driver per run directory at a time, across threads, Run objects and processes (flock)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["create_lock", "driver_lock"]

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


@contextmanager
def create_lock(run_dir: Path, timeout_s: float = 300.0) -> Iterator[None]:
    """Hold the run directory's creation lock: two processes creating one run take turns, so the
    second finds (and reopens) the first's run instead of writing over its files."""
    import time

    from gembatch.errors import GembatchError

    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(run_dir, os.O_RDONLY)  # the directory itself: no file is added to it
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GembatchError(
                        f"another process is creating the run in {run_dir}; try again when it is done"
                    ) from None
                time.sleep(0.05)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
