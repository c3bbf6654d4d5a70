"""The response cache's database (``responses.sqlite`` in the cache directory): the only SQL of the cache.

Why SQLite in WAL mode: several runs (threads, notebooks, CLI processes, the REST server) share one
cache at the same time. WAL lets them read while one writes, ``BEGIN IMMEDIATE`` plus a busy timeout
queues writers instead of failing them, and ``INSERT OR IGNORE`` on the key makes the first answer
stored for a request the one every later run gets: two runs that paid for the same request
concurrently leave one consistent entry. It is in the standard library, needs no server, and the
whole cache is one file to copy, export or delete.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import Any

from gembatch.cache.keys import CACHE_FILE
from gembatch.errors import GembatchError

__all__ = ["CacheEntry", "CacheError", "CacheInfo", "ResponseCache"]

_SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entries (
    key TEXT PRIMARY KEY,            -- request_key(backend, model, request)
    backend TEXT NOT NULL,           -- gemini | emulator | ...
    model TEXT NOT NULL,
    output_text TEXT,
    output_json TEXT,
    finish_reason TEXT,
    prompt_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    thoughts_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL NOT NULL DEFAULT 0,  -- what the answer cost when it was paid for
    mode TEXT NOT NULL,              -- batch | realtime
    run_id TEXT,                     -- the run that paid for it
    created_at REAL NOT NULL,
    used_at REAL NOT NULL,
    hits INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS entries_used ON entries(used_at);
"""
_BATCH = 500  # keys per IN (...) query: under SQLite's variable limit everywhere


class CacheError(GembatchError):
    """The cache database cannot be opened or read (the message names the file and the fix)."""


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer: what the service returned for a request, with its usage and cost."""

    key: str
    backend: str
    model: str
    output_text: str | None
    output_json: str | None
    finish_reason: str | None
    prompt_tokens: int
    output_tokens: int
    thoughts_tokens: int
    cost_usd: float
    mode: str
    run_id: str | None
    created_at: float


_COLUMNS = tuple(f.name for f in fields(CacheEntry))


@dataclass(frozen=True)
class CacheInfo:
    """What a cache holds: entries, size on disk, entries and cost per model, times, and hits served."""

    path: str
    entries: int
    size_bytes: int
    by_model: dict[str, int]
    cost_usd: float  # what the cached answers cost when paid for
    saved_usd: float  # cost of every answer served from the cache instead of being paid again
    hits: int
    oldest: float | None
    newest: float | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class ResponseCache:
    """Answers to requests, shared by every run that uses the same directory.

    Examples
    --------
    >>> cache = ResponseCache(tmp_path)                    # doctest: +SKIP
    >>> cache.get_many([key])                              # doctest: +SKIP
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)
        self.path = self.directory / CACHE_FILE
        self._lock = threading.RLock()
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._tx() as db:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        db.execute(stmt)
                row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
                if row is None:
                    db.execute(
                        "INSERT INTO meta(key, value) VALUES ('schema_version', ?)", (str(_SCHEMA_VERSION),)
                    )
                elif int(row[0]) > _SCHEMA_VERSION:
                    raise CacheError(
                        f"{self.path} was written by a newer gembatch; upgrade gembatch, or use another "
                        "cache directory (cache_dir= / GEMBATCH_CACHE_DIR)"
                    )
        except OSError as exc:
            raise CacheError(
                f"cannot use the cache directory {self.directory}: {exc.strerror or exc}; pick another "
                "(cache_dir= / --cache-dir / GEMBATCH_CACHE_DIR) or turn the cache off (--no-cache)"
            ) from None
        except sqlite3.DatabaseError as exc:
            raise CacheError(
                f"{self.path} is not a readable gembatch cache ({exc}); delete it or use another "
                "cache directory (--cache-dir / GEMBATCH_CACHE_DIR)"
            ) from None

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ResponseCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ----------------------------------------------------------------------------
    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        """The entries stored under ``keys`` (missing keys are simply absent from the answer)."""
        wanted = list(dict.fromkeys(keys))
        out: dict[str, CacheEntry] = {}
        cols = ", ".join(_COLUMNS)
        for start in range(0, len(wanted), _BATCH):
            part = wanted[start : start + _BATCH]
            marks = ", ".join("?" * len(part))
            for row in self._rows(f"SELECT {cols} FROM entries WHERE key IN ({marks})", part):
                out[row[0]] = CacheEntry(*row)
        return out

    def __len__(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM entries")[0][0])

    def entries(self) -> list[CacheEntry]:
        """Every entry, oldest first (for export)."""
        cols = ", ".join(_COLUMNS)
        return [CacheEntry(*r) for r in self._rows(f"SELECT {cols} FROM entries ORDER BY created_at, key")]

    def info(self) -> CacheInfo:
        n, cost, saved, hits, oldest, newest = self._rows(
            "SELECT COUNT(*), COALESCE(SUM(cost_usd), 0), COALESCE(SUM(cost_usd * hits), 0), "
            "COALESCE(SUM(hits), 0), MIN(created_at), MAX(created_at) FROM entries"
        )[0]
        by_model = {str(m): int(c) for m, c in self._rows(
            "SELECT model, COUNT(*) FROM entries GROUP BY model ORDER BY COUNT(*) DESC")}  # fmt: skip
        size = sum(p.stat().st_size for p in self.directory.glob(CACHE_FILE + "*") if p.is_file())
        return CacheInfo(str(self.path), int(n), size, by_model, float(cost), float(saved), int(hits),
                         oldest, newest)  # fmt: skip

    # -- writing ----------------------------------------------------------------------------
    def put_many(self, entries: Iterable[CacheEntry]) -> int:
        """Store answers; a key already stored keeps its first answer. Returns how many were new."""
        rows = [astuple(e) for e in entries]
        if not rows:
            return 0
        cols = ", ".join((*_COLUMNS, "used_at"))
        marks = ", ".join("?" * (len(_COLUMNS) + 1))
        with self._tx() as db:
            before = db.total_changes
            db.executemany(
                f"INSERT OR IGNORE INTO entries({cols}) VALUES ({marks})", [(*r, r[-1]) for r in rows]
            )
            return db.total_changes - before

    def mark_used(self, keys: Iterable[str], when: float | None = None) -> None:
        """Count one hit on each of ``keys`` and refresh its last use (what ``prune`` goes by)."""
        now = time.time() if when is None else when
        with self._tx() as db:
            db.executemany("UPDATE entries SET hits = hits + 1, used_at = ? WHERE key = ?",
                           [(now, k) for k in keys])  # fmt: skip

    def prune(
        self, *, older_than_s: float | None = None, model: str | None = None, everything: bool = False
    ) -> int:
        """Delete entries unused for ``older_than_s`` seconds and/or of ``model`` (``everything``: all).

        Returns how many were deleted. Without any criterion nothing is deleted.
        """
        where: list[str] = []
        params: list[Any] = []
        if older_than_s is not None:
            where.append("used_at < ?")
            params.append(time.time() - float(older_than_s))
        if model is not None:
            where.append("model = ?")
            params.append(model.removeprefix("models/"))
        if not where and not everything:
            return 0
        sql = "DELETE FROM entries" + (f" WHERE {' AND '.join(where)}" if where else "")
        with self._tx() as db:
            n = db.execute(sql, params).rowcount
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(n)
