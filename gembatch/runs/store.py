"""The run ledger: one SQLite file (WAL) that is the single source of truth of a run."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gembatch.errors import GembatchError
from gembatch.runs.states import ACTIVE, check_transition

__all__ = ["SCHEMA_VERSION", "Ledger", "LedgerError"]

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS articles (
    article_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    rep_id TEXT NOT NULL,            -- the article whose identical request is actually sent
    est_input_tokens INTEGER NOT NULL,
    est_output_tokens INTEGER NOT NULL,
    est_cost_usd REAL NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',   -- pending | succeeded | failed (derived from results)
    attempts INTEGER NOT NULL DEFAULT 0,
    chunk_id TEXT,                   -- chunk of the latest attempt
    requeue INTEGER NOT NULL DEFAULT 0,       -- 1: waits for a retry chunk
    error TEXT
);
CREATE INDEX IF NOT EXISTS articles_status ON articles(status);
CREATE INDEX IF NOT EXISTS articles_rep ON articles(rep_id);
CREATE TABLE IF NOT EXISTS chunks (
    chunk_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    wave INTEGER NOT NULL,
    state TEXT NOT NULL,
    model TEXT NOT NULL,
    display_name TEXT NOT NULL UNIQUE,
    batch_name TEXT,
    remote_state TEXT,
    stats TEXT,                      -- raw batchStats JSON from the last sweep
    source TEXT,
    input_file TEXT,
    output_file TEXT,
    articles INTEGER NOT NULL,
    est_input_tokens INTEGER NOT NULL,
    est_output_tokens INTEGER NOT NULL,
    est_cost_usd REAL NOT NULL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    thoughts_tokens INTEGER,
    cost_usd REAL,
    succeeded INTEGER,
    failed INTEGER,
    retried INTEGER,
    create_tries INTEGER NOT NULL DEFAULT 0,
    blocked TEXT,
    error TEXT,
    created_at REAL NOT NULL,
    intent_at REAL,
    submitted_at REAL,
    finished_at REAL,
    collected_at REAL,
    cancel_reason TEXT
);
CREATE INDEX IF NOT EXISTS chunks_state ON chunks(state);
CREATE TABLE IF NOT EXISTS chunk_articles (
    chunk_id TEXT NOT NULL,
    article_id TEXT NOT NULL,
    PRIMARY KEY (chunk_id, article_id)
);
CREATE TABLE IF NOT EXISTS results (
    article_id TEXT NOT NULL,
    chunk_id TEXT NOT NULL,
    attempt INTEGER NOT NULL,
    status TEXT NOT NULL,            -- succeeded | retryable | failed
    output_text TEXT,
    output_json TEXT,
    prompt_tokens INTEGER,
    output_tokens INTEGER,
    thoughts_tokens INTEGER,
    cost_usd REAL,
    finish_reason TEXT,
    error TEXT,
    time REAL NOT NULL,
    PRIMARY KEY (article_id, chunk_id)
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    kind TEXT NOT NULL,
    chunk_id TEXT,
    message TEXT,
    enqueued_tokens INTEGER,
    spend_usd REAL,                  -- committed: actual + estimates in flight
    actual_usd REAL,                 -- settled so far
    succeeded INTEGER,
    failed INTEGER,
    pending INTEGER
);
"""


class LedgerError(GembatchError):
    """The ledger file is unreadable, from a newer gembatch, or not a gembatch ledger."""


class Ledger:
    """Typed access to ``ledger.sqlite``; every public write is one committed transaction.

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
            with self.transaction():
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        self._db.execute(stmt)
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

    # -- plumbing -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic unit of work (``BEGIN IMMEDIATE`` … ``COMMIT``); nests by joining the outer one."""
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

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- meta -----------------------------------------------------------------------------
    def get_meta(self, key: str) -> Any:
        rows = self.query("SELECT value FROM meta WHERE key=?", (key,))
        return json.loads(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: Any) -> None:
        with self.transaction() as db:
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
        with self.transaction() as db:
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
        with self.transaction() as db:
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
        rows = self.query("SELECT * FROM chunks WHERE chunk_id=?", (chunk_id,))
        if not rows:
            raise LedgerError(f"no chunk {chunk_id!r} in {self.path}")
        return rows[0]

    def chunks_in(self, *states: str) -> list[sqlite3.Row]:
        marks = ", ".join("?" * len(states))
        return self.query(f"SELECT * FROM chunks WHERE state IN ({marks}) ORDER BY seq", states)

    def chunk_article_ids(self, chunk_id: str) -> list[str]:
        rows = self.query(
            "SELECT ca.article_id FROM chunk_articles ca JOIN articles a USING (article_id) "
            "WHERE ca.chunk_id=? ORDER BY a.seq",
            (chunk_id,),
        )
        return [r[0] for r in rows]

    def transition(self, chunk_id: str, new: str, **fields: Any) -> None:
        """Move a chunk to ``new`` (checked against the life cycle) and set ``fields`` atomically."""
        with self.transaction() as db:
            row = db.execute("SELECT state FROM chunks WHERE chunk_id=?", (chunk_id,)).fetchone()
            if row is None:
                raise LedgerError(f"no chunk {chunk_id!r} in {self.path}")
            check_transition(chunk_id, row[0], new)
            self._update(db, chunk_id, {"state": new, **fields})

    def update_chunk(self, chunk_id: str, **fields: Any) -> None:
        """Set non-state fields of a chunk (use :meth:`transition` to change its state)."""
        if "state" in fields:
            raise LedgerError("update_chunk cannot change state; use transition()")
        with self.transaction() as db:
            self._update(db, chunk_id, fields)

    @staticmethod
    def _update(db: sqlite3.Connection, chunk_id: str, fields: Mapping[str, Any]) -> None:
        if fields:
            sets = ", ".join(f"{k}=?" for k in fields)
            db.execute(f"UPDATE chunks SET {sets} WHERE chunk_id=?", (*fields.values(), chunk_id))

    # -- figures --------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Articles per final status: ``{"succeeded": n, "failed": n, "pending": n}``."""
        out = {"succeeded": 0, "failed": 0, "pending": 0}  # this order is the events' column order
        for status, n in self.query("SELECT status, COUNT(*) FROM articles GROUP BY status"):
            out[status] = n
        return out

    def in_flight(self) -> tuple[int, int, float]:
        """(enqueued tokens, jobs, estimated cost) of chunks that may hold quota.

        Tokens are the plan's estimates times :meth:`token_ratio` (measured on collected articles).
        """
        states = tuple(str(s) for s in ACTIVE)
        row = self.query(
            "SELECT COALESCE(SUM(est_input_tokens), 0), COUNT(*), COALESCE(SUM(est_cost_usd), 0) "
            f"FROM chunks WHERE state IN ({', '.join('?' * len(states))})",
            states,
        )[0]
        return round(int(row[0]) * self.token_ratio()), int(row[1]), float(row[2])

    def token_ratio(self) -> float:
        """Measured prompt tokens / estimated input tokens (1.0 until measured); see :meth:`calibrate`."""
        if self._ratio is None:
            self._ratio = float(self.get_meta("token_ratio") or 1.0)
        return self._ratio

    def calibrate(self, min_articles: int = 20, margin: float = 1.02) -> float:
        """Re-measure :meth:`token_ratio` from collected usage, with a small safety ``margin``.

        Estimates made before any job ran are rough; the service's own counts are not. Clamped
        to [0.25, 4] so one odd chunk cannot make the scheduler reckless.
        """
        n, actual, est = self.query(
            "SELECT COUNT(*), COALESCE(SUM(r.prompt_tokens), 0), COALESCE(SUM(a.est_input_tokens), 0) "
            "FROM results r JOIN articles a USING (article_id) WHERE r.prompt_tokens > 0"
        )[0]
        if n >= min_articles and est > 0:
            ratio = min(4.0, max(0.25, actual / est * margin))
            self.set_meta("token_ratio", ratio)
            self._ratio = ratio
        return self.token_ratio()

    def spend(self) -> tuple[float, float]:
        """(actual USD settled, committed USD = actual + estimates of everything in flight)."""
        actual = float(self.query("SELECT COALESCE(SUM(cost_usd), 0) FROM results")[0][0])
        return actual, actual + self.in_flight()[2]

    def chunk_state_counts(self) -> dict[str, int]:
        """Chunks per state: ``{"collected": 3, "submitted": 1, ...}``."""
        return {r[0]: int(r[1]) for r in self.query("SELECT state, COUNT(*) FROM chunks GROUP BY state")}

    def planned_totals(self) -> tuple[int, int, float]:
        """(input tokens, output tokens, cost) the plan estimated for the first attempts."""
        row = self.query(
            "SELECT COALESCE(SUM(est_input_tokens), 0), COALESCE(SUM(est_output_tokens), 0), "
            "COALESCE(SUM(est_cost_usd), 0) FROM chunks WHERE attempt = 1"
        )[0]
        return int(row[0]), int(row[1]), float(row[2])

    def usage_totals(self) -> tuple[int, int, int]:
        """(prompt, output, thoughts) tokens the service reported, summed over every result."""
        row = self.query(
            "SELECT COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(output_tokens), 0), "
            "COALESCE(SUM(thoughts_tokens), 0) FROM results"
        )[0]
        return int(row[0]), int(row[1]), int(row[2])

    def first_intent_at(self) -> float | None:
        """When the first job (or real-time slice) was about to be sent; None before that."""
        value = self.query("SELECT MIN(intent_at) FROM chunks")[0][0]
        return None if value is None else float(value)

    def last_event_at(self) -> float | None:
        value = self.query("SELECT MAX(time) FROM events")[0][0]
        return None if value is None else float(value)

    def last_problem(self) -> tuple[str, str, float] | None:
        """(kind, message, time) of the newest error, refusal or failure event, if any."""
        rows = self.query(
            "SELECT kind, message, time FROM events WHERE kind IN ('error', 'transient_error') "
            "OR kind LIKE '%\\_refused' ESCAPE '\\' OR kind LIKE '%\\_failed' ESCAPE '\\' "
            "ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        return str(rows[0][0]), str(rows[0][1] or ""), float(rows[0][2])

    def failure_reasons(self, limit: int = 10) -> dict[str, int]:
        """Failed articles grouped by their error (the most common first)."""
        rows = self.query(
            "SELECT COALESCE(error, 'unknown'), COUNT(*) AS n FROM articles WHERE status = 'failed' "
            "GROUP BY 1 ORDER BY n DESC LIMIT ?",
            (limit,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    def event(self, kind: str, message: str = "", chunk_id: str | None = None) -> None:
        """Append an event with the figures the charts need (joins an open transaction)."""
        with self.transaction() as db:
            enq, _, _ = self.in_flight()
            actual, committed = self.spend()
            c = self.counts()
            db.execute(
                "INSERT INTO events(time, kind, chunk_id, message, enqueued_tokens, spend_usd, actual_usd, "
                "succeeded, failed, pending) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), kind, chunk_id, message, enq, committed, actual, *c.values()),
            )
