"""Take a run's articles away from the batch service before real time sends them (never paid twice)."""

from __future__ import annotations

import json
import time
from typing import Any

from gembatch.runs.collect import collect_chunk
from gembatch.runs.context import Context
from gembatch.runs.poll import sweep
from gembatch.runs.states import FINISHED, State, from_remote
from gembatch.runs.submit import reconcile

__all__ = ["REALTIME", "cancel_and_confirm", "collect_or_release", "handover"]

#: ``cancel_reason`` of chunks taken over by real time.
REALTIME = "realtime"


def _claim_planned(ctx: Context) -> int:
    """Planned chunks never reach the batch service: their articles go to real time instead."""
    led = ctx.store
    rows = led.chunks_in(State.PLANNED)
    info = ctx.model_info
    now = time.time()
    with led.transaction():
        for row in rows:
            cid = row["chunk_id"]
            est = info.cost(row["est_input_tokens"], row["est_output_tokens"], "realtime")
            led.transition(cid, State.CANCELLED, cancel_reason=REALTIME, finished_at=now)
            led.transition(cid, State.COLLECTED, collected_at=now, est_cost_usd=est, succeeded=0, failed=0)
            led.release_unsent(cid)  # never sent: that attempt was not used
        if rows:
            led.event("realtime_claim", f"{len(rows)} planned chunks go through real time instead of batch")
    return len(rows)


def collect_or_release(ctx: Context, chunk_id: str) -> None:
    """Collect a finished chunk; articles of a job cancelled for real time stay pending (no row)."""
    led = ctx.store
    ours = led.chunk(chunk_id)["cancel_reason"] == REALTIME
    with led.transaction():
        collect_chunk(ctx, chunk_id, user_cancelled=ours)
        if ours:
            led.requeue_pending(chunk_id)


def cancel_and_confirm(ctx: Context, row: Any, *, pending_kind: str) -> tuple[Any, State] | None:
    """Cancel one submitted job (unless it already ended) and read its fate back with ``batches.get``.

    Returns the job and its terminal state once it has ended (cancelled, or finished on its own
    before the cancel reached it), or ``None`` while the cancel is not confirmed yet (recorded as
    a ``pending_kind`` event).
    """
    led, transport, cid, name = ctx.store, ctx.transport, row["chunk_id"], row["batch_name"]
    job = transport.get(name)
    if from_remote(job.state) is None:
        try:
            transport.cancel(name)
        except Exception as exc:
            failure = transport.classify(exc)
            if not (failure.refused and failure.code in (400, 404, 409)):  # 400: it finished meanwhile
                raise
        job = transport.get(name)
    terminal = from_remote(job.state)
    if terminal is None:
        led.event(pending_kind, f"{name}: cancel requested, still {job.state}", cid)
        return None
    return job, terminal


def _cancel_confirmed(ctx: Context, row: Any) -> str:
    """Cancel one submitted job and confirm its fate with ``batches.get``; returns what happened.

    ``cancelled`` (confirmed: its articles may go real time), ``finished`` (it ended on its own:
    collected as a batch result) or ``waiting`` (not confirmed yet: its articles wait).
    """
    led, cid, name = ctx.store, row["chunk_id"], row["batch_name"]
    ended = cancel_and_confirm(ctx, row, pending_kind="realtime_cancel_pending")
    if ended is None:
        return "waiting"
    job, terminal = ended
    reason = REALTIME if terminal == State.CANCELLED else row["cancel_reason"]
    with led.transaction():
        led.transition(
            cid,
            terminal,
            remote_state=str(job.state),
            stats=json.dumps(dict(job.stats), sort_keys=True),
            output_file=job.output_file,
            finished_at=time.time(),
            cancel_reason=reason,
        )
        led.event("realtime_handover", f"{name}: {job.state} confirmed by batches.get", cid)
    collect_or_release(ctx, cid)
    return "cancelled" if terminal == State.CANCELLED else "finished"


def handover(ctx: Context) -> dict[str, int]:
    """Take every article away from the batch service before sending it in real time.

    Planned chunks are claimed; jobs whose create outcome is unknown are reconciled by display
    name; submitted jobs are cancelled and each one's state CONFIRMED with ``batches.get`` (one that
    finished meanwhile is collected instead), so no article is paid for twice. Returns counts.
    """
    led = ctx.store
    out = {"claimed": 0, "cancelled": 0, "finished": 0, "waiting": 0}
    if led.chunks_in(State.SUBMITTING):
        listing = sweep(ctx)
        reconcile(ctx, listing.by_display)
    for row in led.chunks_in(*FINISHED):
        collect_or_release(ctx, row["chunk_id"])
        out["finished"] += 1
    for row in led.chunks_in(State.SUBMITTED):
        try:
            out[_cancel_confirmed(ctx, row)] += 1
        except Exception as exc:
            if not ctx.transport.classify(exc).transient:
                raise
            led.event("transient_error", f"realtime handover: {type(exc).__name__}: {str(exc)[:200]}")
            out["waiting"] += 1
    out["claimed"] = _claim_planned(ctx)
    out["waiting"] += len(led.chunks_in(State.SUBMITTING))
    return out
