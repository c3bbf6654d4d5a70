"""Compute a run's :class:`~gembatch.runs.summary.RunSummary` from its store, and its short text form."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from gembatch.runs.config import RunConfig
from gembatch.runs.states import State
from gembatch.runs.store import RunStore
from gembatch.runs.summary import RunSummary

__all__ = ["EtaRange", "eta_range", "summarize"]


@dataclass(frozen=True)
class EtaRange:
    """Time left, as a range, and the figures it comes from (see :func:`eta_range`)."""

    eta_s: float | None = None
    low_s: float | None = None
    high_s: float | None = None
    per_min: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None
    stragglers: int = 0


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def eta_range(
    *,
    total: int,
    finished: int,
    first: float | None,
    now: float,
    turnarounds: list[float],
    flying: list[float],
    running: bool = True,
) -> EtaRange:
    """An honest time left: throughput so far for the remaining articles, and the jobs in flight.

    ``eta_s`` is remaining / throughput. The range widens it for what throughput alone misses:
    articles arrive a whole job at a time, and the last jobs run late. Low: 0.8 × ``eta_s``, or
    the soonest an in-flight job should finish at the median turnaround. High: 1.5 × ``eta_s``,
    or the p90 turnaround of the oldest job in flight (a job already older than p90 — a
    straggler — is given half its age again). ``now`` is the pause time while paused, so the ETA
    stands still. No ETA before the first article finishes.

    >>> r = eta_range(total=100, finished=50, first=0.0, now=100.0, turnarounds=[20.0], flying=[90.0])
    >>> r.eta_s, r.low_s, r.high_s
    (100.0, 80.0, 150.0)
    """
    p50 = _quantile(turnarounds, 0.5) if turnarounds else None
    p90 = _quantile(turnarounds, 0.9) if turnarounds else None
    ages = [max(0.0, now - t) for t in flying]
    stragglers = sum(1 for age in ages if p90 is not None and age > p90)
    active = None if first is None else max(now - first, 1e-9)
    per_min = None if active is None or not finished else 60.0 * finished / active
    base = EtaRange(per_min=per_min, p50_s=p50, p90_s=p90, stragglers=stragglers)
    left = total - finished
    if not running or left <= 0 or not per_min:
        return base
    eta = left / (per_min / 60.0)
    low, high = 0.8 * eta, 1.5 * eta
    if p50 is not None and ages:
        low = max(low, min(max(p50 - age, 0.0) for age in ages))
    if p90 is not None and ages:
        oldest = max(ages)
        high = max(high, p90 - oldest if oldest <= p90 else 0.5 * oldest)
    return dataclasses.replace(base, eta_s=eta, low_s=low, high_s=max(high, low))


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
    pause = ledger.pause_point() if live == "paused" else None
    paused_at = None if pause is None else pause[0]
    turnarounds, flying = ledger.job_timing()
    if pause is not None:  # paused: the ETA stands as it was at the pause (jobs in flight still land)
        turnarounds, flying = [], []
    timing = eta_range(
        total=total,
        finished=finished_n if pause is None else pause[1],
        first=first,
        now=paused_at or now,
        turnarounds=turnarounds,
        flying=flying,
        running=finished is None and live != "cancelled",
    )
    problem = ledger.last_problem()
    last = ledger.last_event()
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
        eta_s=timing.eta_s,
        eta_low_s=timing.low_s,
        eta_high_s=timing.high_s,
        paused_at=paused_at,
        throughput_per_min=timing.per_min,
        turnaround_p50_s=timing.p50_s,
        turnaround_p90_s=timing.p90_s,
        stragglers=timing.stragglers,
        last_event=None if last is None else (f"{last[0]}: {last[1]}" if last[1] else last[0]),
        last_event_at=None if last is None else last[2],
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
        result_tables=_result_tables(ledger, config),
    )


def _result_tables(ledger: RunStore, config: RunConfig) -> list[str]:
    """The output tables a ``results_in="bigquery"`` run keeps, as ``bq://`` URIs (else none)."""
    if config.results_in != "bigquery":
        return []
    rows = ledger.chunks_in(State.COLLECTED)
    return [str(r["output_file"]) for r in rows if str(r["output_file"] or "").startswith("bq://")]
