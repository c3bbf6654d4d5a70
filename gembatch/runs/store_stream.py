"""Store operations of runs over streamed inputs and of paged results: articles written batch by
batch, repeated requests found by SQL, results read one range of articles at a time."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

__all__ = ["StreamStore"]

_BLOCK = 500  # ids per IN (...) list: well under SQLite's variable limit

#: the whole-run results query of ``store_figures`` for a range of input positions: each article's
#: latest answer (its representative's) found through the results key, so a page costs its own rows
_PAGE_SQL = """
SELECT a.article_id, a.status, r.output_text, r.output_json,
       CASE WHEN a.article_id = a.rep_id THEN r.prompt_tokens ELSE 0 END,
       CASE WHEN a.article_id = a.rep_id THEN r.output_tokens ELSE 0 END,
       CASE WHEN a.article_id = a.rep_id THEN r.thoughts_tokens ELSE 0 END,
       CASE WHEN a.article_id != a.rep_id THEN 0 WHEN r.rowid IS NULL THEN NULL
            ELSE (SELECT SUM(cost_usd) FROM results WHERE article_id = a.rep_id) END,
       r.finish_reason, a.error, a.chunk_id, a.attempts
FROM articles a
LEFT JOIN results r ON r.rowid = (
    SELECT rowid FROM results WHERE article_id = a.rep_id ORDER BY attempt DESC LIMIT 1
)
WHERE a.seq >= ? AND a.seq < ?
ORDER BY a.seq
"""

#: the first article (by input order) of every identical request becomes its representative
_REPS_SQL = """
UPDATE articles SET rep_id = firsts.rep FROM (
    SELECT article_id AS aid,
           FIRST_VALUE(article_id) OVER (PARTITION BY request_hash, content_hash ORDER BY seq) AS rep
    FROM articles
) AS firsts
WHERE firsts.aid = articles.article_id AND firsts.rep != articles.rep_id
"""

_ARTICLE_COLS = ("article_id", "seq", "content_hash", "request_hash", "rep_id", "est_input_tokens",
                 "est_output_tokens", "est_cost_usd", "chunk_id")  # fmt: skip


def _blocks(values: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), _BLOCK):
        yield values[start : start + _BLOCK]


class StreamStore:
    """Mixed into :class:`~gembatch.runs.store.RunStore`."""

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def add_planned_articles(self, rows: Iterable[Sequence[Any]]) -> None:
        """Insert articles (``article_id, seq, content_hash, request_hash, rep_id, est_input_tokens,
        est_output_tokens, est_cost_usd, chunk_id``) with the chunk the plan put them in."""
        marks = ", ".join("?" * len(_ARTICLE_COLS))
        with self._tx() as db:
            db.executemany(f"INSERT INTO articles({', '.join(_ARTICLE_COLS)}) VALUES ({marks})", rows)

    def known_ids(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the store already holds."""
        found: set[str] = set()
        for block in _blocks(ids):
            sql = f"SELECT article_id FROM articles WHERE article_id IN ({', '.join('?' * len(block))})"
            found.update(r[0] for r in self._rows(sql, tuple(block)))
        return found

    def first_seq_of(self, article_id: str) -> int:
        rows = self._rows("SELECT seq FROM articles WHERE article_id=?", (article_id,))
        return int(rows[0][0]) if rows else -1

    def mark_representatives(self) -> int:
        """Point every article at the first with the same request and text; returns how many follow one."""
        with self._tx() as db:
            db.execute("CREATE INDEX IF NOT EXISTS articles_seq ON articles(seq)")
            db.execute("CREATE INDEX IF NOT EXISTS articles_chunk ON articles(chunk_id)")
            db.execute(_REPS_SQL)
            return int(db.execute("SELECT COUNT(*) FROM articles WHERE article_id != rep_id").fetchone()[0])

    def planned_representatives(self, chunk_id: str) -> tuple[list[str], int, int, float]:
        """The representatives the plan put in ``chunk_id`` (input order) and their estimates' sums."""
        rows = self._rows(
            "SELECT article_id, est_input_tokens, est_output_tokens, est_cost_usd FROM articles "
            "WHERE chunk_id=? AND article_id = rep_id ORDER BY seq",
            (chunk_id,),
        )
        return ([r[0] for r in rows], sum(int(r[1]) for r in rows), sum(int(r[2]) for r in rows),
                sum(float(r[3]) for r in rows))  # fmt: skip

    def unplan_followers(self) -> None:
        """Articles that follow a representative belong to no chunk (as in a run made from a frame)."""
        with self._tx() as db:
            db.execute("UPDATE articles SET chunk_id=NULL WHERE article_id != rep_id")

    def seqs_of(self, ids: Sequence[str]) -> dict[str, int]:
        """Input positions of ``ids``."""
        out: dict[str, int] = {}
        for block in _blocks(ids):
            sql = f"SELECT article_id, seq FROM articles WHERE article_id IN ({', '.join('?' * len(block))})"
            out.update((r[0], int(r[1])) for r in self._rows(sql, tuple(block)))
        return out

    def article_span(self) -> tuple[int, int]:
        """(lowest, highest + 1) input position: the range :meth:`result_rows_between` pages over."""
        row = self._rows("SELECT COALESCE(MIN(seq), 0), COALESCE(MAX(seq) + 1, 0) FROM articles")[0]
        return int(row[0]), int(row[1])

    def result_rows_between(self, lo: int, hi: int) -> list[tuple[Any, ...]]:
        """:meth:`result_rows` for the articles at input positions ``lo`` ≤ seq < ``hi``."""
        return [tuple(r) for r in self._rows(_PAGE_SQL, (lo, hi))]
