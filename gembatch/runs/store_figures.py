"""Read-only figures and frame rows of a run store: counts, in-flight tokens, spend, work left, history."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gembatch.runs.states import ACTIVE, FINISHED, State

__all__ = ["StoreFigures", "WorkLeft"]

_ACTIVE = tuple(str(s) for s in ACTIVE)
_BUSY = tuple(str(s) for s in (*ACTIVE, *FINISHED))

_RESULTS_SQL = """
WITH latest AS (
    SELECT *, ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY attempt DESC) AS rn,
           SUM(cost_usd) OVER (PARTITION BY article_id) AS total_cost
    FROM results
)
SELECT a.article_id, a.status, r.output_text, r.output_json,
       CASE WHEN a.article_id = a.rep_id THEN r.prompt_tokens ELSE 0 END,
       CASE WHEN a.article_id = a.rep_id THEN r.output_tokens ELSE 0 END,
       CASE WHEN a.article_id = a.rep_id THEN r.thoughts_tokens ELSE 0 END,
       CASE WHEN a.article_id = a.rep_id THEN r.total_cost ELSE 0 END,
       r.finish_reason, a.error, a.chunk_id, a.attempts
FROM articles a LEFT JOIN latest r ON r.article_id = a.rep_id AND r.rn = 1
ORDER BY a.seq
"""


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


@dataclass(frozen=True)
class WorkLeft:
    """What still keeps a run going: chunks not yet collected, jobs in flight, articles re-queued."""

    busy_chunks: int  # in flight, finished but uncollected, or planned and sendable
    in_flight: int  # submitting or submitted
    requeued: int  # pending articles waiting for a retry (or for real time)


class StoreFigures:
    """Queries that change nothing; mixed into :class:`~gembatch.runs.store.RunStore`."""

    _ratio: float | None

    def _rows(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        raise NotImplementedError

    def get_meta(self, key: str) -> Any:
        raise NotImplementedError

    def set_meta(self, key: str, value: Any) -> None:
        raise NotImplementedError

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._rows(sql, params)[0][0]

    # -- articles -------------------------------------------------------------------------
    def article_count(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM articles"))

    def unique_requests(self) -> int:
        """Articles whose request is actually sent (the others repeat one of them)."""
        return int(self._one("SELECT COUNT(*) FROM articles WHERE article_id = rep_id"))

    def tallies(self) -> dict[str, float]:
        """The running totals the triggers keep (article counts per status, results, cost, usage)."""
        return {str(r[0]): float(r[1]) for r in self._rows("SELECT name, value FROM tallies")}

    def counts(self) -> dict[str, int]:
        """Articles per final status: ``{"succeeded": n, "failed": n, "pending": n}``."""
        out = {"succeeded": 0, "failed": 0, "pending": 0}  # this order is the events' column order
        for name, n in self._rows("SELECT name, value FROM tallies WHERE name LIKE 'status:%'"):
            out[str(name).removeprefix("status:")] = int(n)
        return out

    def requeued_articles(self) -> list[sqlite3.Row]:
        """Re-queued representatives (one per identical request), the fewest attempts first."""
        return self._rows(
            "SELECT article_id, attempts, est_input_tokens, est_output_tokens, est_cost_usd FROM articles "
            "WHERE requeue=1 AND status='pending' AND article_id=rep_id ORDER BY attempts, seq"
        )

    def workable_articles(self) -> list[sqlite3.Row]:
        """Pending representatives that no batch job holds (what real time may send)."""
        return self._rows(
            "SELECT a.article_id, a.attempts, a.est_input_tokens, a.est_output_tokens FROM articles a "
            "LEFT JOIN chunks c ON c.chunk_id = a.chunk_id WHERE a.status='pending' AND "
            "a.article_id=a.rep_id AND (c.state IS NULL OR c.state=?) ORDER BY a.attempts, a.seq",
            (str(State.COLLECTED),),
        )

    def failure_reasons(self, limit: int = 10) -> dict[str, int]:
        """Failed articles grouped by their error (the most common first)."""
        rows = self._rows(
            "SELECT COALESCE(error, 'unknown'), COUNT(*) AS n FROM articles WHERE status = 'failed' "
            "GROUP BY 1 ORDER BY n DESC LIMIT ?",
            (limit,),
        )
        return {str(r[0]): int(r[1]) for r in rows}

    # -- chunks ---------------------------------------------------------------------------
    def chunk_state_counts(self) -> dict[str, int]:
        """Chunks per state: ``{"collected": 3, "submitted": 1, ...}``."""
        return {r[0]: int(r[1]) for r in self._rows("SELECT state, COUNT(*) FROM chunks GROUP BY state")}

    def open_wave(self) -> int | None:
        """The lowest wave with a chunk not yet collected (the ``waves`` policy waits for it)."""
        value = self._one("SELECT MIN(wave) FROM chunks WHERE state != ?", (str(State.COLLECTED),))
        return None if value is None else int(value)

    def next_wave(self) -> int:
        return int(self._one("SELECT COALESCE(MAX(wave), 0) FROM chunks")) + 1

    def chunks_of_attempt(self, attempt: int) -> int:
        return int(self._one("SELECT COUNT(*) FROM chunks WHERE attempt=?", (attempt,)))

    def work_left(self) -> WorkLeft:
        busy = self._one(
            f"SELECT COUNT(*) FROM chunks WHERE state IN ({_marks(_BUSY)}) "
            "OR (state = ? AND COALESCE(blocked, '') != 'budget')",
            (*_BUSY, str(State.PLANNED)),
        )
        flying = self._one(f"SELECT COUNT(*) FROM chunks WHERE state IN ({_marks(_ACTIVE)})", _ACTIVE)
        requeued = self._one("SELECT COUNT(*) FROM articles WHERE requeue=1 AND status='pending'")
        return WorkLeft(int(busy), int(flying), int(requeued))

    def in_flight(self) -> tuple[int, int, float]:
        """(enqueued tokens, jobs, estimated cost) of chunks that may hold quota.

        Tokens are the plan's estimates times :meth:`token_ratio` (measured on collected articles).
        """
        row = self._rows(
            "SELECT COALESCE(SUM(est_input_tokens), 0), COUNT(*), COALESCE(SUM(est_cost_usd), 0) "
            f"FROM chunks WHERE state IN ({_marks(_ACTIVE)})",
            _ACTIVE,
        )[0]
        return round(int(row[0]) * self.token_ratio()), int(row[1]), float(row[2])

    def planned_totals(self) -> tuple[int, int, float]:
        """(input tokens, output tokens, cost) the plan estimated for the first attempts."""
        row = self._rows(
            "SELECT COALESCE(SUM(est_input_tokens), 0), COALESCE(SUM(est_output_tokens), 0), "
            "COALESCE(SUM(est_cost_usd), 0) FROM chunks WHERE attempt = 1"
        )[0]
        return int(row[0]), int(row[1]), float(row[2])

    def first_intent_at(self) -> float | None:
        """When the first job (or real-time slice) was about to be sent; None before that."""
        value = self._one("SELECT MIN(intent_at) FROM chunks")
        return None if value is None else float(value)

    # -- tokens and money -----------------------------------------------------------------
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
        n, actual, est = self._rows(
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
        actual = max(0.0, float(self._one("SELECT value FROM tallies WHERE name='cost_usd'")))
        return actual, actual + self.in_flight()[2]

    def usage_totals(self) -> tuple[int, int, int]:
        """(prompt, output, thoughts) tokens the service reported, summed over every result."""
        t = self.tallies()
        return int(t["prompt_tokens"]), int(t["output_tokens"]), int(t["thoughts_tokens"])

    def recent_answers(self, since: float, label_prefix: str) -> list[tuple[float, int]]:
        """(time, prompt tokens) of results labelled ``label_prefix…`` recorded after ``since``."""
        rows = self._rows(
            "SELECT time, prompt_tokens FROM results WHERE time > ? AND chunk_id LIKE ?",
            (since, f"{label_prefix}%"),
        )
        return [(float(r[0]), int(r[1] or 0)) for r in rows]

    # -- history --------------------------------------------------------------------------
    def last_event_at(self) -> float | None:
        value = self._one("SELECT MAX(time) FROM events")
        return None if value is None else float(value)

    def last_problem(self) -> tuple[str, str, float] | None:
        """(kind, message, time) of the newest error, refusal or failure event, if any."""
        rows = self._rows(
            "SELECT kind, message, time FROM events "
            "WHERE kind IN ('error', 'transient_error', 'create_unknown') "
            "OR kind LIKE '%\\_refused' ESCAPE '\\' OR kind LIKE '%\\_failed' ESCAPE '\\' "
            "ORDER BY id DESC LIMIT 1"
        )
        if not rows:
            return None
        return str(rows[0][0]), str(rows[0][1] or ""), float(rows[0][2])

    def last_event(self) -> tuple[str, str, float] | None:
        """(kind, message, time) of the newest event, if any."""
        rows = self._rows("SELECT kind, message, time FROM events ORDER BY id DESC LIMIT 1")
        return None if not rows else (str(rows[0][0]), str(rows[0][1] or ""), float(rows[0][2]))

    def pause_point(self) -> tuple[float, int] | None:
        """(time, articles finished then) of the newest ``pause`` event, if any."""
        rows = self._rows(
            "SELECT time, COALESCE(succeeded, 0) + COALESCE(failed, 0) FROM events WHERE kind = 'pause' "
            "ORDER BY id DESC LIMIT 1"
        )
        return None if not rows else (float(rows[0][0]), int(rows[0][1]))

    def job_timing(self) -> tuple[list[float], list[float]]:
        """Turnarounds (submitted → finished, s) of finished jobs, and the submit times of jobs in flight."""
        done = self._rows(
            "SELECT finished_at - submitted_at FROM chunks WHERE submitted_at IS NOT NULL "
            "AND finished_at IS NOT NULL AND finished_at >= submitted_at"
        )
        flying = self._rows(
            f"SELECT COALESCE(submitted_at, intent_at) FROM chunks WHERE state IN ({_marks(_ACTIVE)}) "
            "AND COALESCE(submitted_at, intent_at) IS NOT NULL",
            _ACTIVE,
        )
        return [float(r[0]) for r in done], [float(r[0]) for r in flying]

    # -- frame rows -----------------------------------------------------------------------
    def chunk_rows(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        """``columns`` (plus the raw ``stats`` JSON last) of every chunk, in plan order."""
        return [tuple(r) for r in self._rows(f"SELECT {', '.join(columns)}, stats FROM chunks ORDER BY seq")]

    def event_rows(self, columns: Sequence[str]) -> list[tuple[Any, ...]]:
        return [tuple(r) for r in self._rows(f"SELECT {', '.join(columns)} FROM events ORDER BY id")]

    def result_rows(self) -> list[tuple[Any, ...]]:
        """Per article: id, status, text, parsed JSON, tokens (3), cost, finish reason, error,
        chunk, attempts; identical articles share their representative's answer (usage counted once)."""
        return [tuple(r) for r in self._rows(_RESULTS_SQL)]
