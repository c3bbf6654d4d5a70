"""Compute a run's :class:`~gembatch.runs.summary.RunSummary` from its store, and its short text form."""

from __future__ import annotations

import time

from gembatch.runs.config import RunConfig
from gembatch.runs.store import RunStore
from gembatch.runs.summary import RunSummary

__all__ = ["summarize"]


def summarize(ledger: RunStore, config: RunConfig) -> RunSummary:
    """Counts, tokens, cost estimated vs actual, quota use, timing and the last problem.

    ``state`` is ``running`` | ``paused`` | ``done`` | ``cancelled`` | ``budget`` (stopped by
    ``budget_usd`` with articles pending); ``cancelled`` holds from :meth:`Run.cancel` on, while
    ``done`` turns true once nothing more will happen.
    """
    counts = ledger.counts()
    est_in, est_out, est_cost = ledger.planned_totals()
    used_in, used_out, used_thoughts = ledger.usage_totals()
    enqueued, jobs, _ = ledger.in_flight()
    actual, committed = ledger.spend()
    total = sum(counts.values())
    finished_n = counts["succeeded"] + counts["failed"]
    first = ledger.first_intent_at()
    finished = ledger.get_meta("done")
    live = "paused" if ledger.get_meta("paused") else "running"
    if ledger.get_meta("cancelled"):
        live = "cancelled"  # from the request on; ``done`` says when the last job has been collected
    state = {"complete": "done"}.get(finished, finished) or live
    now = time.time()
    end = (ledger.last_event_at() or now) if finished is not None else now
    elapsed = None if first is None else max(0.0, end - first)
    eta = None
    if first and 0 < finished_n < total and finished is None:
        rate = finished_n / max(now - first, 1e-9)
        eta = (total - finished_n) / rate
    problem = ledger.last_problem()
    backoff = ledger.get_meta("backoff_until")
    cached = ledger.get_meta("cache") or {}
    deadline = ledger.get_meta("deadline") or {}
    return RunSummary(
        run_id=config.run_id,
        model=config.model,
        tier=config.tier,
        policy=config.policy,
        mode=config.mode,
        state=state,
        done=finished is not None,
        articles=total,
        succeeded=counts["succeeded"],
        failed=counts["failed"],
        pending=counts["pending"],
        chunks=ledger.chunk_state_counts(),
        jobs_in_flight=jobs,
        enqueued_tokens=enqueued,
        enqueued_cap=config.cap_tokens,
        quota_tokens=config.quota_tokens,
        headroom=config.headroom,
        token_ratio=ledger.token_ratio(),
        est_input_tokens=est_in,
        est_output_tokens=est_out,
        input_tokens=used_in,
        output_tokens=used_out,
        thoughts_tokens=used_thoughts,
        cost_estimated_usd=est_cost,
        cost_actual_usd=actual,
        cost_committed_usd=committed,
        budget_usd=config.budget_usd,
        started_at=first,
        elapsed_s=elapsed,
        eta_s=eta,
        backoff_until=float(backoff) if backoff and float(backoff) > now else None,
        last_error=None if problem is None else f"{problem[0]}: {problem[1]}",
        last_error_at=None if problem is None else problem[2],
        failure_reasons=ledger.failure_reasons(),
        cache_hits=int(cached.get("cache_hits") or 0),
        cache_misses=int(cached.get("cache_misses") or 0),
        cache_saved_usd=float(cached.get("cache_saved_usd") or 0.0),
        deadline_at=float(deadline["at"]) if deadline.get("at") else None,
        deadline_note=deadline.get("note"),
        leftovers=ledger.leftovers(),
    )
