"""Cleanup intents in the run store: what the run uploads or must delete at the service, recorded first.

An intent is written *before* the call it announces (an upload, a delete) and marked done after
it, so a crash in between leaves a pending intent that the next driver start finds and settles.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["CleanupStore"]

#: Kinds of intent: an upload (named by the display name it carries), a file or a job to delete.
KINDS = ("upload", "file", "job")


class CleanupStore:
    """Named operations on the ``cleanup`` table; mixed into :class:`~gembatch.runs.store.RunStore`."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def add_intent(self, kind: str, name: str, chunk_id: str | None, reason: str) -> None:
        """Record (or re-open) the intent to upload ``name`` or delete it (joins an open transaction)."""
        if kind not in KINDS:
            raise ValueError(f"unknown cleanup kind {kind!r}")
        with self._tx() as db:
            db.execute(
                "INSERT INTO cleanup(kind, name, chunk_id, reason, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(kind, name) DO UPDATE SET state='pending', done_at=NULL, "
                "chunk_id=excluded.chunk_id, reason=excluded.reason",
                (kind, name, chunk_id, reason, time.time()),
            )

    def intent_done(self, kind: str, name: str) -> None:
        """The announced call happened (or is no longer needed): nothing is left to do for it."""
        with self._tx() as db:
            db.execute(
                "UPDATE cleanup SET state='done', done_at=? WHERE kind=? AND name=?",
                (time.time(), kind, name),
            )

    def intent_failed(self, kind: str, name: str, error: str, retry_at: float) -> int:
        """A delete failed: try again from ``retry_at``; returns how many times it has failed."""
        with self._tx() as db:
            db.execute(
                "UPDATE cleanup SET tries=tries + 1, next_at=?, last_error=? WHERE kind=? AND name=?",
                (retry_at, error[:300], kind, name),
            )
            row = db.execute("SELECT tries FROM cleanup WHERE kind=? AND name=?", (kind, name)).fetchone()
        return int(row[0]) if row else 0

    def pending_intents(self, *kinds: str, due_at: float | None = None) -> list[sqlite3.Row]:
        """Pending intents of these kinds (all kinds when none), oldest first; ``due_at``: only those due."""
        kinds = kinds or KINDS
        sql = f"SELECT * FROM cleanup WHERE state='pending' AND kind IN ({', '.join('?' * len(kinds))})"
        params: list[Any] = list(kinds)
        if due_at is not None:
            sql += " AND next_at <= ?"
            params.append(due_at)
        return self._rows(sql + " ORDER BY created_at, name", params)

    def leftovers(self) -> int:
        """How many things the run may still hold at the service (pending intents)."""
        rows = self._rows("SELECT COUNT(*) FROM cleanup WHERE state='pending'")
        return int(rows[0][0])

    def chunk_by_display(self, display_name: str) -> list[sqlite3.Row]:
        """The chunk whose job carries ``display_name`` (none or one)."""
        return self._rows("SELECT * FROM chunks WHERE display_name=?", (display_name,))

    def iter_intents(self) -> Iterator[sqlite3.Row]:
        """Every intent, pending or done (for reports)."""
        yield from self._rows("SELECT * FROM cleanup ORDER BY created_at, name")
