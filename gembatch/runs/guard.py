"""The ledger protects the money: a run directory that shows earlier work is never started afresh
by accident when its ledger is missing, empty or unreadable."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from gembatch.errors import LedgerDamaged
from gembatch.runs.config import ARTICLES_FILE, LEDGER_FILE, MARKER_FILE, RESULTS_FILE
from gembatch.runs.store import LedgerError, RunStore

__all__ = ["open_existing", "set_aside", "write_marker"]

_LEDGER_FILES = (LEDGER_FILE, f"{LEDGER_FILE}-wal", f"{LEDGER_FILE}-shm")


def write_marker(run_dir: Path, run_id: str, model: str) -> None:
    """Record, once the ledger is committed, that a run exists here (atomic write)."""
    tmp = run_dir / f"{MARKER_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps({"run_id": run_id, "model": model, "created_at": time.time()}), "utf-8")
    tmp.replace(run_dir / MARKER_FILE)


def _marker(run_dir: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((run_dir / MARKER_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _evidence(run_dir: Path) -> list[str]:
    """Files that prove a run was created (and may have paid for work) in ``run_dir``."""
    return [name for name in (MARKER_FILE, RESULTS_FILE) if (run_dir / name).exists()]


def open_existing(
    run_dir: Path, *, discard_unfinished: bool = False
) -> tuple[RunStore, dict[str, Any]] | None:
    """The store and stored configuration of the run in ``run_dir``; ``None`` when there is none
    and starting afresh is safe (nothing there, or a create that crashed before its commit).

    Raises :class:`LedgerDamaged` when the directory shows earlier work but the ledger is missing,
    empty or unreadable.
    """
    path = run_dir / LEDGER_FILE
    problem = _file_problem(path)
    if problem is None:
        sides = [run_dir / n for n in _LEDGER_FILES[1:] if not (run_dir / n).exists()]
        try:
            store = RunStore(path)
            stored = store.get_meta("config")
        except (sqlite3.DatabaseError, LedgerError):
            problem = "unreadable (a damaged SQLite file)"
            for side in sides:  # leave the directory as it was found
                side.unlink(missing_ok=True)
        else:
            if stored is not None:
                return store, stored
            store.close()
            problem = "empty"
    evidence = _evidence(run_dir)
    if not evidence:
        if discard_unfinished:  # a create that crashed before committing: start afresh
            for name in _LEDGER_FILES:
                (run_dir / name).unlink(missing_ok=True)
        return None
    marker = _marker(run_dir) or {}
    who = f"run {marker['run_id']}" if marker.get("run_id") else "an earlier run"
    jobs = (
        f" Its batch jobs may still be at the service under display names gembatch/{marker['run_id']}/…;"
        if marker.get("run_id")
        else ""
    )
    raise LedgerDamaged(
        f"{run_dir} holds {who} ({', '.join(evidence)}) but its ledger is {problem}: starting afresh "
        f"could submit and pay for every article again, so nothing was done.{jobs} Restore "
        f"{LEDGER_FILE} from a backup to go on, or start a new run over it with `gembatch run FILE "
        f"--run-dir {run_dir} --force` (Python: force=True), which first moves the old files into "
        "damaged-<time>/"
    )


def _file_problem(path: Path) -> str | None:
    """What is wrong with the ledger file, judged without opening it (opening would write)."""
    if not path.exists():
        return "missing"
    with path.open("rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    if head != b"SQLite format 3\x00":
        return "unreadable (not an SQLite database)"
    return None


def set_aside(run_dir: Path) -> Path | None:
    """Move a damaged run's files into ``run_dir/damaged-<time>/`` (never deleted); where they went."""
    names = [n for n in (*_LEDGER_FILES, MARKER_FILE, RESULTS_FILE, ARTICLES_FILE) if (run_dir / n).exists()]
    if not names:
        return None
    dest = run_dir / time.strftime("damaged-%Y%m%d-%H%M%S")
    dest.mkdir(exist_ok=True)
    for name in names:
        (run_dir / name).replace(dest / name)
    return dest
