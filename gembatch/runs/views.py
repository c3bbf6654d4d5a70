"""Read-only views of a ledger: the chunks and events DataFrames, the summary, the text repr."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from gembatch.runs.config import RunConfig
from gembatch.runs.store import RunStore
from gembatch.runs.summary import RunSummary

__all__ = ["chunks_frame", "events_frame", "summary", "text_repr"]

_CHUNK_COLS = (
    "chunk_id", "wave", "attempt", "state", "remote_state", "batch_name", "display_name", "source",
    "articles", "est_input_tokens", "est_output_tokens", "est_cost_usd", "input_tokens", "output_tokens",
    "thoughts_tokens", "cost_usd", "succeeded", "failed", "retried", "create_tries", "blocked", "error",
    "input_file", "output_file", "created_at", "intent_at", "submitted_at", "finished_at", "collected_at",
)  # fmt: skip
_INTS = (
    "wave", "attempt", "articles", "est_input_tokens", "est_output_tokens", "input_tokens", "output_tokens",
    "thoughts_tokens", "succeeded", "failed", "retried", "create_tries",
)  # fmt: skip
_TIMES = ("created_at", "intent_at", "submitted_at", "finished_at", "collected_at")


def _times(values: Any) -> pd.Series:
    return pd.to_datetime(pd.Series(values, dtype="Float64").astype("float64"), unit="s", utc=True)


def chunks_frame(ledger: RunStore) -> pd.DataFrame:
    """One row per chunk, index ``chunk_id``; counts are ``Int64``, times UTC datetimes."""
    rows = ledger.chunk_rows(_CHUNK_COLS)
    frame = pd.DataFrame([r[:-1] for r in rows], columns=list(_CHUNK_COLS))
    for col in _INTS:
        frame[col] = frame[col].astype("Int64")
    for col in ("est_cost_usd", "cost_usd"):
        frame[col] = frame[col].astype("Float64")
    for col in _TIMES:
        frame[col] = _times(frame[col]).to_numpy()
    # the raw batchStats of the last sweep (the SDK drops them): requests done remotely so far
    stats = [json.loads(r[-1]) if r[-1] else {} for r in rows]
    for col, key in (
        ("remote_requests", "requestCount"),
        ("remote_succeeded", "successfulRequestCount"),
        ("remote_failed", "failedRequestCount"),
        ("remote_pending", "pendingRequestCount"),
    ):
        frame[col] = pd.array([s.get(key, 0 if s else None) for s in stats], dtype="Int64")
    for col in set(_CHUNK_COLS) - set(_INTS) - set(_TIMES) - {"est_cost_usd", "cost_usd"}:
        frame[col] = frame[col].astype("string")
    return frame.set_index("chunk_id")


def events_frame(ledger: RunStore) -> pd.DataFrame:
    """The run's history, one row per event, for charts (enqueued tokens, committed spend, done counts)."""
    cols = [
        "time",
        "kind",
        "chunk_id",
        "message",
        "enqueued_tokens",
        "spend_usd",
        "actual_usd",
        "succeeded",
        "failed",
        "pending",
    ]
    frame = pd.DataFrame(ledger.event_rows(cols), columns=cols)
    frame["time"] = _times(frame["time"]).to_numpy()
    for col in ("kind", "chunk_id", "message"):
        frame[col] = frame[col].astype("string")
    for col in ("enqueued_tokens", "succeeded", "failed", "pending"):
        frame[col] = frame[col].astype("Int64")
    frame["spend_usd"] = frame["spend_usd"].astype("Float64")
    frame["actual_usd"] = frame["actual_usd"].astype("Float64")
    return frame


def summary(ledger: RunStore, config: RunConfig) -> RunSummary:
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
    )


def text_repr(run_dir: Path, s: RunSummary) -> str:
    """A few lines that read well in a notebook cell or a terminal."""
    chunks = ", ".join(f"{k} {v}" for k, v in sorted(s["chunks"].items()))
    eta = f" · ETA {s['eta_s'] / 60:.1f} min" if s["eta_s"] else ""
    budget = f" (budget ${s['budget_usd']:.2f})" if s["budget_usd"] is not None else ""
    state = s["state"]
    return (
        f"<gembatch.Run {str(run_dir)!r} {s['run_id']} · {s['model']} · {s['policy']} · {state}>\n"
        f"  articles: {s['articles']:,} — {s['succeeded']:,} succeeded, {s['failed']:,} failed, "
        f"{s['pending']:,} pending{eta}\n"
        f"  jobs: {s['jobs_in_flight']} in flight, "
        f"{s['enqueued_tokens']:,}/{s['enqueued_cap']:,} enqueued tokens; chunks: {chunks}\n"
        f"  cost: ${s['cost_actual_usd']:.4f} actual, ${s['cost_committed_usd']:.4f} committed, "
        f"${s['cost_estimated_usd']:.4f} estimated{budget}"
    )
