"""Move chunks the deadline gave up on from batch to real time: cancel (confirmed), give back, send."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from typing import Any

from gembatch.runs.collect import collect_chunk
from gembatch.runs.context import Context
from gembatch.runs.handover import cancel_and_confirm
from gembatch.runs.states import State

__all__ = ["switch_to_realtime"]


def _withdraw_planned(ctx: Context, row: Any, reason: str) -> None:
    led, cid, now = ctx.store, row["chunk_id"], time.time()
    with led.transaction():
        led.transition(cid, State.CANCELLED, cancel_reason=reason, finished_at=now)
        led.transition(cid, State.COLLECTED, collected_at=now, succeeded=0, failed=0, retried=0, cost_usd=0.0)
        led.release_unsent(cid)  # never sent: that attempt was not used


def _withdraw_submitted(ctx: Context, row: Any, reason: str) -> bool:
    """Cancel a job and confirm with ``batches.get``; True when its articles are free for real time.

    A job that finished before the cancel reached it is collected as it is (its answers count, and
    are paid once); one whose cancel is not confirmed yet is left for the next step.
    """
    led, cid = ctx.store, row["chunk_id"]
    ended = cancel_and_confirm(ctx, row, pending_kind="deadline_cancel_pending")
    if ended is None:
        return False
    job, terminal = ended
    cancelled = terminal == State.CANCELLED
    with led.transaction():
        led.transition(cid, terminal, remote_state=str(job.state), output_file=job.output_file,
                       stats=json.dumps(dict(job.stats), sort_keys=True), finished_at=time.time(),
                       cancel_reason=reason if cancelled else row["cancel_reason"])  # fmt: skip
    with led.transaction():
        collect_chunk(ctx, cid, user_cancelled=cancelled)  # cancelled: no answer, nothing billed
        if cancelled:
            led.release_unsent(cid)  # the cancel is the deadline's doing: the attempt is given back
    return cancelled


def switch_to_realtime(
    ctx: Context, rows: Sequence[Any], *, deadline: float, reason: str = "deadline"
) -> int:
    """Take ``rows`` (planned or submitted chunks) away from batch and send their articles in real
    time now, until ``deadline`` (UNIX seconds); returns how many chunks were moved."""
    from gembatch.runs.drivers.realtime import _options, _send_rows

    led = ctx.store
    moved: list[str] = []
    for row in rows:
        if row["state"] == State.PLANNED:
            _withdraw_planned(ctx, row, reason)
            moved.append(row["chunk_id"])
        elif _withdraw_submitted(ctx, row, reason):
            moved.append(row["chunk_id"])
    if not moved:
        return 0
    wanted = {a for cid in moved for a in led.chunk_article_ids(cid)}
    articles = [r for r in led.workable_articles() if r["article_id"] in wanted]
    if articles:
        opts = _options(ctx, {})
        limits = opts.limits(ctx.model_info, ctx.config.tier)
        state: dict[str, Any] = {"actual": led.spend()[0], "sent_est": 0.0, "budget": False}
        left = max(1.0, deadline - time.time())
        _send_rows(ctx, articles, state=state, limits=limits, opts=opts, stop=threading.Event(),
                   deadline=time.monotonic() + left, total=led.article_count(), progress=False)  # fmt: skip
    return len(moved)
