"""The run store (``ledger.sqlite``, WAL): the one module that speaks SQL; every query is named."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gembatch.errors import GembatchError
from gembatch.runs.log import log_event
from gembatch.runs.states import check_transition
from gembatch.runs.store_cleanup import CleanupStore
from gembatch.runs.store_figures import StoreFigures, WorkLeft
from gembatch.runs.store_schema import SCHEMA, SCHEMA_VERSION, TALLIES_FILL, TALLIES_TABLE, TRIGGERS
from gembatch.runs.store_stream import StreamStore

__all__ = ["SCHEMA_VERSION", "Ledger", "LedgerError", "RunStore", "WorkLeft"]


class LedgerError(GembatchError):
    """The ledger file is unreadable, from a newer gembatch, or not a gembatch ledger."""


class RunStore(StoreFigures, CleanupStore, StreamStore):
    """Named operations on ``ledger.sqlite``; every public write is one committed transaction.

    Safe to share between the driving thread and readers (one connection behind a lock);
    other processes may read concurrently (WAL).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._ratio: float | None = None
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            with self._tx():
                for stmt in SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
                self._tallies()
                row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
                    )
                elif int(row[0]) > SCHEMA_VERSION:
                    raise LedgerError(
                        f"{self.path} was written by a newer gembatch (schema {row[0]} > {SCHEMA_VERSION}); "
                        "upgrade gembatch to open it"
                    )
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{self.path} is not a readable gembatch ledger: {exc}") from None

    def _tallies(self) -> None:
        """Running totals: made (and filled from the data) once, then kept by triggers."""
        known = self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='tallies'")
        fresh = known.fetchone() is None
        self._db.execute(TALLIES_TABLE)
        for stmt in TRIGGERS:
            self._db.execute(stmt)
        if fresh:
            self._db.execute(TALLIES_FILL)

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Make the named operations inside one atomic unit (``BEGIN IMMEDIATE`` … ``COMMIT``).

        Nests by joining the outer one; an exception rolls everything back.
        """
        with self._tx():
            yield

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self._tx() as db:
            db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, json.dumps(value)))

    # -- articles and chunks --------------------------------------------------------------
    def add_articles(self, rows: Iterable[Mapping[str, Any]]) -> None:
        cols = (
            "article_id",
            "seq",
            "content_hash",
            "request_hash",
            "rep_id",
            "est_input_tokens",
            "est_output_tokens",
            "est_cost_usd",
        )
        with self._tx() as db:
            db.executemany(
                f"INSERT INTO articles({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                ([r[c] for c in cols] for r in rows),
            )

    def add_chunk(
        self,
        chunk_id: str,
        *,
        attempt: int,
        wave: int,
        model: str,
        display_name: str,
        article_ids: Sequence[str],
        est_input_tokens: int,
        est_output_tokens: int,
        est_cost_usd: float,
    ) -> None:
        """Insert a planned chunk and point its articles at it (joins an open transaction)."""
        with self._tx() as db:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM chunks").fetchone()[0]
            db.execute(
                "INSERT INTO chunks(chunk_id, seq, attempt, wave, state, model, display_name, articles, "
                "est_input_tokens, est_output_tokens, est_cost_usd, created_at) "
                "VALUES (?, ?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?)",
                (
                    chunk_id,
                    seq,
                    attempt,
                    wave,
                    model,
                    display_name,
                    len(article_ids),
                    int(est_input_tokens),
                    int(est_output_tokens),
                    float(est_cost_usd),
                    time.time(),
                ),
            )
            db.executemany(
                "INSERT INTO chunk_articles(chunk_id, article_id) VALUES (?, ?)",
                ((chunk_id, a) for a in article_ids),
            )
            db.executemany(
                "UPDATE articles SET chunk_id=?, attempts=?, requeue=0 WHERE article_id=?",
                ((chunk_id, attempt, a) for a in article_ids),
            )

    def chunk(self, chunk_id: str) -> sqlite3.Row:
        rows = self._rows("SELECT * FROM chunks WHERE chunk_id=?", (chunk_id,))
        if not rows:
            raise LedgerError(f"no chunk {chunk_id!r} in {self.path}")
        return rows[0]

    def chunks_in(self, *states: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" * len(states))
        return self._rows(f"SELECT * FROM chunks WHERE state IN ({marks}) ORDER BY seq", states)

    def chunk_article_ids(self, chunk_id: str) -> list[str]:
        rows = self._rows(
            "SELECT ca.article_id FROM chunk_articles ca JOIN articles a USING (article_id) "
            "WHERE ca.chunk_id=? ORDER BY a.seq",
            (chunk_id,),
        )
        return [r[0] for r in rows]

    def transition(self, chunk_id: str, new: str, **fields: Any) -> None:
        """Move a chunk to ``new`` (checked against the life cycle) and set ``fields`` atomically."""
        with self._tx() as db:
            row = db.execute("SELECT state FROM chunks WHERE chunk_id=?", (chunk_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no chunk {chunk_id!r} in {self.path}")
            check_transition(chunk_id, row[0], new)
            self._update(db, chunk_id, {"state": new, **fields})

    def update_chunk(self, chunk_id: str, **fields: Any) -> None:
        """Set non-state fields of a chunk (use :meth:`transition` to change its state)."""
        if "state" in fields:
            raise LedgerError("update_chunk cannot change state; use transition()")
        with self._tx() as db:
            self._update(db, chunk_id, fields)

    @staticmethod
    def _update(db: sqlite3.Connection, chunk_id: str, fields: Mapping[str, Any]) -> None:
        if fields:
            sets = ", ".join(f"{k}=?" for k in fields)
            db.execute(f"UPDATE chunks SET {sets} WHERE chunk_id=?", (*fields.values(), chunk_id))

    # -- outcomes -------------------------------------------------------------------------
    def record_collection(
        self,
        chunk_id: str,
        results: Sequence[Sequence[Any]],
        articles: Sequence[tuple[str, int, str | None, str]],
    ) -> None:
        """Write a collected chunk's result rows and each article's (status, requeue, error, id).

        An article's outcome also applies to every identical article (same request, sent once).
        """
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO results({', '.join(RESULT_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(RESULT_FIELDS))})",
                results,
            )
            db.executemany("UPDATE articles SET status=?, requeue=?, error=? WHERE rep_id=?", articles)

    def record_answer(
        self, result: Sequence[Any], label_prefix: str, decide: Callable[[int], tuple[str, int, str | None]]
    ) -> tuple[str, int, str | None]:
        """Write one real-time answer (a results row labelled ``label_prefix<attempt>``) and its outcome.

        ``decide(tries)`` — tries counted over this article's ``label_prefix`` results, this one
        included — returns the article's (status, requeue, error), applied to its identical articles.
        """
        row = dict(zip(RESULT_FIELDS, result, strict=True))
        aid = row["article_id"]
        with self._tx() as db:
            db.execute(
                f"INSERT INTO results({', '.join(RESULT_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(RESULT_FIELDS))})",
                tuple(result),
            )
            tries = int(
                db.execute(
                    "SELECT COUNT(*) FROM results WHERE article_id=? AND chunk_id LIKE ?",
                    (aid, f"{label_prefix}%"),
                ).fetchone()[0]
            )
            status, requeue, error = decide(tries)
            db.execute(
                "UPDATE articles SET status=?, requeue=?, error=?, attempts=?, chunk_id=? WHERE rep_id=?",
                (status, requeue, error, row["attempt"], row["chunk_id"], aid),
            )
        return status, requeue, error

    def release_unsent(self, chunk_id: str) -> None:
        """A chunk that will never be sent: its pending articles wait again, that attempt unused."""
        with self._tx() as db:
            db.execute(
                "UPDATE articles SET attempts=MAX(attempts - 1, 0), requeue=1 "
                "WHERE chunk_id=? AND status='pending'",
                (chunk_id,),
            )

    def requeue_pending(self, chunk_id: str) -> None:
        """The pending articles of ``chunk_id`` wait for another attempt."""
        with self._tx() as db:
            db.execute(
                "UPDATE articles SET requeue=1 WHERE status='pending' AND article_id IN "
                "(SELECT article_id FROM chunk_articles WHERE chunk_id=?)",
                (chunk_id,),
            )

    def unblock_budget(self) -> None:
        """Chunks held back by the budget may be scheduled again."""
        with self._tx() as db:
            db.execute("UPDATE chunks SET blocked=NULL WHERE blocked='budget'")

    def requeue_failed(self) -> tuple[int, int]:
        """Every failed article pending again (representatives re-queued); (how many, most attempts)."""
        with self._tx() as db:
            n = db.execute(
                "UPDATE articles SET status='pending', requeue=1, error=NULL "
                "WHERE status='failed' AND article_id=rep_id"
            ).rowcount
            db.execute("UPDATE articles SET status='pending' WHERE status='failed' AND article_id!=rep_id")
            top = int(db.execute("SELECT COALESCE(MAX(attempts), 0) FROM articles").fetchone()[0])
        return int(n), top

    def record_cached(self, results: Sequence[Sequence[Any]], label: str) -> None:
        """Articles answered from the response cache: their result rows (``RESULT_FIELDS`` order),
        each article and its identical ones succeeded, ``chunk_id`` = ``label`` (joins a transaction)."""
        with self._tx() as db:
            db.executemany(
                f"INSERT OR REPLACE INTO results({', '.join(RESULT_FIELDS)}) "
                f"VALUES ({', '.join('?' * len(RESULT_FIELDS))})",
                results,
            )
            db.executemany(
                "UPDATE articles SET status='succeeded', requeue=0, error=NULL, chunk_id=? WHERE rep_id=?",
                ((label, r[0]) for r in results),
            )

    def answers_after(self, rowid: int, skip_label: str) -> list[sqlite3.Row]:
        """Succeeded result rows written after ``rowid`` (``rowid`` column included), except those
        labelled ``skip_label``: what the response cache has not been given yet."""
        return self._rows(
            "SELECT rowid, * FROM results WHERE rowid > ? AND status='succeeded' AND chunk_id != ? "
            "ORDER BY rowid",
            (rowid, skip_label),
        )

    def event(self, kind: str, message: str = "", chunk_id: str | None = None) -> None:
        """Append an event with the figures the charts need (joins an open transaction)."""
        with self._tx() as db:
            enq, _, _ = self.in_flight()
            actual, committed = self.spend()
            c = self.counts()
            db.execute(
                "INSERT INTO events(time, kind, chunk_id, message, enqueued_tokens, spend_usd, actual_usd, "
                "succeeded, failed, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), kind, chunk_id, message, enq, committed, actual, *c.values()),
            )
        log_event(self.path.parent.name, kind, message, chunk_id)  # and to the `gembatch` logger


#: Older name of :class:`RunStore`.
Ledger = RunStore

#: The columns of a results row, in the order :meth:`RunStore.record_collection` expects them.
RESULT_FIELDS = (
    "article_id", "chunk_id", "attempt", "status", "output_text", "output_json", "prompt_tokens",
    "output_tokens", "thoughts_tokens", "cost_usd", "finish_reason", "error", "time",
)  # fmt: skip
