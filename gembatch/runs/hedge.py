"""Hedging stragglers: a job still pending past a quantile of the turnaround is cancelled and sent again.

A run's makespan is set by its slowest job, and a job's queue time is heavy-tailed: one job in ten
may wait hours while its siblings finish in minutes. A fresh copy of a straggler usually draws a
short queue time, so the scheduler cancels a job still ``PENDING`` once its age passes the
:data:`~gembatch.planning.latency.HEDGE_QUANTILE` quantile of the turnaround (learned from this
run's finished jobs, blended with a prior) and sends its articles again as a new job.

The cancel reason is ``hedge``, an attempt-free reason of the one outcome rule
(:data:`gembatch.runs.outcomes.ATTEMPT_FREE_CANCELS`): the copy keeps the same attempt number, and
nothing is billed for the cancelled job (it produced no output). A job that finished before the
cancel reached it is collected as it is and never sent again, so an article is billed for at most
one job's output. ``waves`` never hedges (the previous behaviour, kept for comparison).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from gembatch.planning.latency import HEDGE_QUANTILE, PRIOR, blended_quantile
from gembatch.runs.context import Context
from gembatch.runs.outcomes import article_outcome, attempt_free
from gembatch.runs.states import State
from gembatch.transport.base import JobStatus

__all__ = ["MAX_HEDGES", "hedge_due", "hedge_generation", "observe", "service_now", "threshold", "withdraw"]

#: A chunk's articles are hedged at most this many times (then the copy is left to finish).
MAX_HEDGES = 8
_KEEP = 500  # turnarounds remembered per run
_META = "turnarounds"


def service_now(ctx: Context) -> float:
    """The service's "now" in UNIX seconds: the emulated clock for the emulator, else the wall clock."""
    clock = getattr(ctx.transport, "clock", None)
    return float(clock()) if callable(clock) else time.time()


def _seconds(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def observe(ctx: Context, job: JobStatus) -> float | None:
    """Remember the turnaround (create → end, service time) of a job that succeeded; returns it."""
    start, end = _seconds(job.create_time), _seconds(job.end_time or job.update_time)
    if start is None or end is None or end < start:
        return None
    _remember(ctx, end - start)
    return end - start


def _remember(ctx: Context, seconds: float) -> None:
    seen = list(ctx.store.get_meta(_META) or [])
    seen.append(round(seconds, 3))
    ctx.store.set_meta(_META, seen[-_KEEP:])


def threshold(ctx: Context) -> float | None:
    """The age past which a pending job is hedged, or ``None`` when this run does not hedge."""
    q = ctx.config.hedge_quantile
    if q is None or ctx.config.policy == "waves":
        return None
    return blended_quantile(float(q), ctx.store.get_meta(_META) or [], PRIOR)


def hedge_generation(chunk_id: str) -> int:
    """How many times the articles of ``chunk_id`` were hedged already (``c00003h2`` → 2)."""
    _, mark, gen = chunk_id.partition("h")
    return int(gen) if mark and gen.isdigit() else 0


def hedge_due(ctx: Context, row: Any, job: JobStatus, now: float, limit: float | None) -> str | None:
    """Why ``row``'s job should be hedged now (a message), or ``None``; ``limit`` is :func:`threshold`."""
    state = str(job.state)
    if limit is None or row["cancel_reason"] or not state.endswith("PENDING"):
        return None
    if hedge_generation(row["chunk_id"]) >= MAX_HEDGES:
        return None
    created = _seconds(job.create_time)
    age = now - (created if created is not None else float(row["submitted_at"] or now))
    if age < limit:
        return None
    # a hedged job would have taken at least its age: remembering it keeps the learned quantile from
    # shrinking to the fast jobs only (the slow ones are never seen to finish)
    _remember(ctx, age)
    q = ctx.config.hedge_quantile or HEDGE_QUANTILE
    return f"{row['batch_name']} pending {age:.0f}s, past the p{q * 100:.0f} turnaround {limit:.0f}s"


def withdraw(ctx: Context, row: Any, ids: list[str]) -> dict[str, int]:
    """Collect a job cancelled for an attempt-free reason: its articles go out again in a copy.

    Nothing is recorded as an answer or billed; the copy ``<chunk>h<n>`` carries the same attempt
    number, so the cancel costs no attempt. Returns counts like a collection.
    """
    led = ctx.store
    chunk_id = row["chunk_id"]
    reason = str(row["cancel_reason"])
    assert attempt_free(reason), reason
    attempt = int(row["attempt"])
    outcome = article_outcome("withdrawn", f"cancelled: {reason}", attempt, ctx.config.max_attempts)
    pending = list(ids)  # a job in flight holds only articles still waiting for their answer
    base = chunk_id.partition("h")[0]
    copy = f"{base}h{hedge_generation(chunk_id) + 1}"
    with led.transaction():
        led.transition(chunk_id, State.COLLECTED, collected_at=time.time(), cost_usd=0.0, succeeded=0,
                       failed=0, retried=0)  # fmt: skip
        if pending and outcome.refund:
            led.add_chunk(
                copy,
                attempt=int(row["attempt"]),
                wave=int(row["wave"]),
                model=str(row["model"]),
                display_name=ctx.display_name(copy, int(row["attempt"])),
                article_ids=pending,
                est_input_tokens=int(row["est_input_tokens"]),
                est_output_tokens=int(row["est_output_tokens"]),
                est_cost_usd=float(row["est_cost_usd"]),
            )
        led.event(
            "hedged",
            f"{len(pending)} articles sent again as {copy} (attempt {row['attempt']} kept, nothing billed)",
            chunk_id,
        )
    return {"succeeded": 0, "failed": 0, "retry": 0, "pending": len(pending)}
