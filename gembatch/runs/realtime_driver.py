"""A run's real-time mode: hand batch work over safely, send pending articles, record each answer once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from google.genai import errors as genai_errors

from gembatch.errors import InputError
from gembatch.runs.collect import collect_chunk
from gembatch.runs.context import RESULTS_FILE, Context
from gembatch.runs.lock import driver_lock
from gembatch.runs.realtime_send import Job, Outcome, RealtimeOptions, SendReport, send
from gembatch.runs.states import FINISHED, State, from_remote
from gembatch.transport import gemini as remote

__all__ = ["RT_PREFIX", "check_options", "drive", "finish_realtime", "handover", "step"]

#: Results of real-time attempts are keyed ``rt<attempt>`` in the results table's ``chunk_id``.
RT_PREFIX = "rt"
_PROGRESS_EVERY_S = 5.0


def check_options(mode: str | None, realtime: Any) -> None:
    """Refuse a bad ``mode`` or unknown real-time options before anything is stored."""
    if mode not in (None, "batch", "realtime"):
        raise InputError(f"mode must be 'batch' or 'realtime', not {mode!r}")
    if realtime is not None:
        RealtimeOptions.from_dict(realtime)


def _options(ctx: Context, overrides: dict[str, Any]) -> RealtimeOptions:
    return RealtimeOptions.from_dict({**(ctx.config.realtime or {}), **overrides})


def _claim_planned(ctx: Context) -> int:
    """Planned chunks never reach the batch service: their articles go to real time instead."""
    led = ctx.ledger
    rows = led.chunks_in(State.PLANNED)
    info = ctx.model_info
    now = time.time()
    with led.transaction() as db:
        for row in rows:
            cid = row["chunk_id"]
            est = info.cost(row["est_input_tokens"], row["est_output_tokens"], "realtime")
            led.transition(cid, State.CANCELLED, cancel_reason="realtime", finished_at=now)
            led.transition(cid, State.COLLECTED, collected_at=now, est_cost_usd=est, succeeded=0, failed=0)
            # never sent: that attempt was not used
            db.execute(
                "UPDATE articles SET attempts=MAX(attempts - 1, 0), requeue=1 "
                "WHERE chunk_id=? AND status='pending'",
                (cid,),
            )
        if rows:
            led.event("realtime_claim", f"{len(rows)} planned chunks go through real time instead of batch")
    return len(rows)


def _collect(ctx: Context, chunk_id: str) -> None:
    """Collect a finished chunk; articles of a job cancelled for real time stay pending (no row)."""
    led = ctx.ledger
    ours = led.chunk(chunk_id)["cancel_reason"] == "realtime"
    with led.transaction() as db:
        collect_chunk(ctx, chunk_id, user_cancelled=ours)
        if ours:
            db.execute(
                "UPDATE articles SET requeue=1 WHERE status='pending' AND article_id IN "
                "(SELECT article_id FROM chunk_articles WHERE chunk_id=?)",
                (chunk_id,),
            )


def _cancel_confirmed(ctx: Context, row: Any) -> str:
    """Cancel one submitted job and confirm its fate with ``batches.get``; returns what happened.

    ``cancelled`` (confirmed: its articles may go real time), ``finished`` (it ended on its own:
    collected as a batch result) or ``waiting`` (not confirmed yet: its articles wait).
    """
    led, cid, name = ctx.ledger, row["chunk_id"], row["batch_name"]
    op = remote.get_batch(ctx.client, name)
    if from_remote(remote.remote_state(op)) is None:
        try:
            ctx.client.batches.cancel(name=name)
        except genai_errors.ClientError as exc:
            if exc.code not in (400, 404, 409):  # 400 FAILED_PRECONDITION: it finished meanwhile
                raise
        op = remote.get_batch(ctx.client, name)
    state = remote.remote_state(op)
    terminal = from_remote(state)
    if terminal is None:
        led.event("realtime_cancel_pending", f"{name}: cancel requested, still {state}", cid)
        return "waiting"
    stats = remote.batch_stats(op)
    reason = "realtime" if terminal == State.CANCELLED else row["cancel_reason"]
    with led.transaction():
        led.transition(
            cid,
            terminal,
            remote_state=state,
            stats=json.dumps(stats, sort_keys=True),
            output_file=remote.output_file(op),
            finished_at=time.time(),
            cancel_reason=reason,
        )
        led.event("realtime_handover", f"{name}: {state} confirmed by batches.get", cid)
    _collect(ctx, cid)
    return "cancelled" if terminal == State.CANCELLED else "finished"


def handover(ctx: Context) -> dict[str, int]:
    """Take every article away from the batch service before sending it in real time.

    Planned chunks are claimed; jobs whose create outcome is unknown are reconciled by display
    name; submitted jobs are cancelled and each one's state CONFIRMED with ``batches.get`` (one that
    finished meanwhile is collected instead), so no article is paid for twice. Returns counts.
    """
    from gembatch.runs.poll import sweep
    from gembatch.runs.submit import reconcile

    led = ctx.ledger
    out = {"claimed": 0, "cancelled": 0, "finished": 0, "waiting": 0}
    if led.chunks_in(State.SUBMITTING):
        listing = sweep(ctx)
        reconcile(ctx, listing.by_display)
    for row in led.chunks_in(*FINISHED):
        _collect(ctx, row["chunk_id"])
        out["finished"] += 1
    for row in led.chunks_in(State.SUBMITTED):
        try:
            out[_cancel_confirmed(ctx, row)] += 1
        except Exception as exc:
            if not remote.transient(exc):
                raise
            led.event("transient_error", f"realtime handover: {type(exc).__name__}: {str(exc)[:200]}")
            out["waiting"] += 1
    out["claimed"] = _claim_planned(ctx)
    out["waiting"] += len(led.chunks_in(State.SUBMITTING))
    return out


def _workable(ctx: Context) -> list[Any]:
    """Pending articles (one per identical request) that no batch job holds."""
    return ctx.ledger.query(
        "SELECT a.article_id, a.attempts, a.est_input_tokens, a.est_output_tokens FROM articles a "
        "LEFT JOIN chunks c ON c.chunk_id = a.chunk_id "
        "WHERE a.status='pending' AND a.article_id=a.rep_id AND (c.state IS NULL OR c.state='collected') "
        "ORDER BY a.attempts, a.seq"
    )


class _Recorder:
    """Writes each outcome in its own transaction: a crash loses at most the requests in flight."""

    def __init__(self, ctx: Context, rows: list[Any], bar: Any):
        self.ctx = ctx
        self.info = ctx.model_info
        self.attempt = {r["article_id"]: int(r["attempts"]) + 1 for r in rows}
        self.bar = bar
        self.counts = {"succeeded": 0, "failed": 0, "retry": 0}
        self.cost = 0.0
        self._last_event = time.monotonic()

    def __call__(self, outcome: Outcome) -> None:
        led, res = self.ctx.ledger, outcome.result
        aid = outcome.job.key
        attempt = self.attempt[aid]
        cost = self.info.cost(res.prompt_tokens, res.output_tokens, "realtime", res.thoughts_tokens)
        with led.transaction() as db:
            db.execute(
                "INSERT INTO results(article_id, chunk_id, attempt, status, output_text, output_json, "
                "prompt_tokens, output_tokens, thoughts_tokens, cost_usd, finish_reason, error, time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    aid,
                    f"{RT_PREFIX}{attempt}",
                    attempt,
                    res.status,
                    res.output_text,
                    json.dumps(res.parsed) if res.parsed is not None else None,
                    res.prompt_tokens,
                    res.output_tokens,
                    res.thoughts_tokens,
                    cost,
                    res.finish_reason,
                    res.error,
                    outcome.time,
                ),
            )
            tries = db.execute(
                "SELECT COUNT(*) FROM results WHERE article_id=? AND chunk_id LIKE ?", (aid, f"{RT_PREFIX}%")
            ).fetchone()[0]
            if res.status == "succeeded":
                final, requeue, err = "succeeded", 0, None
            elif res.status == "retryable" and tries < self.ctx.config.max_attempts:
                final, requeue, err = "pending", 1, res.error
            else:
                final, requeue = "failed", 0
                err = res.error if res.status == "failed" else f"gave up after {tries} attempts: {res.error}"
            db.execute(
                "UPDATE articles SET status=?, requeue=?, error=?, attempts=?, chunk_id=? WHERE rep_id=?",
                (final, requeue, err, attempt, f"{RT_PREFIX}{attempt}", aid),
            )
        self.counts["retry" if final == "pending" else final] += 1
        self.cost += cost
        if final != "pending":
            self.bar.update(1)
        if time.monotonic() - self._last_event >= _PROGRESS_EVERY_S:
            self._last_event = time.monotonic()
            led.event("realtime_progress", self._message())

    def _message(self) -> str:
        c = self.counts
        return f"{c['succeeded']} ok, {c['failed']} failed, {c['retry']} to retry, ${self.cost:.4f}"


def _jobs(ctx: Context, rows: list[Any], state: dict[str, Any]) -> Iterator[Job]:
    """Requests built lazily from the input snapshot; stops before the budget would be passed."""
    from gembatch.inputs.request_lines import iter_request_lines
    from gembatch.inputs.tokens import TokenEstimator, request_chars

    ids = [r["article_id"] for r in rows]
    arts = ctx.articles.loc[ids]
    est = TokenEstimator().tokens(request_chars(arts, ctx.spec))
    info, budget = ctx.model_info, ctx.config.budget_usd
    by_id = {r["article_id"]: r for r in rows}
    for line, tokens in zip(iter_request_lines(arts, ctx.spec), est, strict=True):
        if ctx.ledger.get_meta("cancelled"):  # run.cancel() from another thread: send nothing more
            state["cancelled"] = True
            return
        if ctx.ledger.get_meta("paused"):  # run.pause(): send nothing new until run.resume()
            state["paused"] = True
            return
        if budget is not None:
            row = by_id[line["key"]]
            cost = info.cost(int(row["est_input_tokens"]), int(row["est_output_tokens"]), "realtime")
            # committed = settled cost + estimates of what this drive has sent (a slight over-count)
            if state["actual"] + state["sent_est"] + cost > budget:
                state["budget"] = True
                ctx.ledger.event("budget_blocked", f"real time stops: budget_usd ${budget:.4f} reached")
                return
            state["sent_est"] += cost
        yield Job(line["key"], line["request"], int(tokens))


def drive(
    ctx: Context,
    *,
    timeout: float | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    **options: Any,
) -> bool:
    """Send every pending article in real time until all are accounted for; True when done.

    Re-running resumes: articles already answered are never sent again. Options are
    :class:`~gembatch.runs.realtime_send.RealtimeOptions` fields (e.g. ``rpm``, ``max_concurrency``).
    """
    opts = _options(ctx, options)
    limits = opts.limits(ctx.model_info, ctx.config.tier)
    led = ctx.ledger
    stop = stop if stop is not None else threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    total = int(led.query("SELECT COUNT(*) FROM articles")[0][0])
    with driver_lock(ctx.run_dir) as mine:
        if not mine:  # another process or thread drives this run (batch or real time): never both
            led.event("realtime_busy", "another driver holds this run; nothing sent")
            return bool(led.get_meta("done"))
        led.set_meta("done", None)
        while True:
            try:
                moved = handover(ctx)
            except Exception as exc:
                if not remote.transient(exc):
                    raise
                led.event("transient_error", f"realtime handover: {type(exc).__name__}: {str(exc)[:200]}")
                moved = {"waiting": 1}
            rows = _workable(ctx)
            if not rows and not moved["waiting"]:
                break
            pause = min(5.0, max(0.2, ctx.config.poll_min_s))
            if rows and led.get_meta("paused") and not led.get_meta("cancelled"):
                rows = []  # run.pause(): wait for run.resume() (or stop, or the timeout)
            if rows:
                state: dict[str, Any] = {"actual": led.spend()[0], "sent_est": 0.0, "budget": False}
                if not _send_rows(
                    ctx,
                    rows,
                    state=state,
                    limits=limits,
                    opts=opts,
                    stop=stop,
                    deadline=deadline,
                    total=total,
                    progress=progress,
                ):
                    return False
                if state["budget"] or state.get("cancelled"):
                    break
            elif stop.wait(pause):  # paused, or cancellations not confirmed yet
                return False
            if deadline is not None and time.monotonic() >= deadline:
                return False
        c = led.counts()
        why = "cancelled" if led.get_meta("cancelled") else "budget" if c["pending"] else "complete"
        led.set_meta("done", why)
        led.event("done", f"{why}: {c['succeeded']} succeeded, {c['failed']} failed, {c['pending']} pending")
        return True


def _send_rows(
    ctx: Context,
    rows: list[Any],
    *,
    state: dict[str, Any],
    limits: Any,
    opts: RealtimeOptions,
    stop: threading.Event,
    deadline: float | None,
    total: int,
    progress: bool,
) -> bool:
    """Send one pass over ``rows``; False when stopped early (stop, timeout, daily quota)."""
    from tqdm.auto import tqdm

    from gembatch.runs.results import export, results_frame

    led = ctx.ledger
    c = led.counts()
    bar = tqdm(total=total, initial=c["succeeded"] + c["failed"], desc=f"real time {ctx.config.run_id}",
               unit="article", disable=not progress)  # fmt: skip
    recorder = _Recorder(ctx, rows, bar)
    led.event("realtime_start", f"{len(rows)} articles at {limits.rpm} RPM / {limits.tpm:,} TPM")
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        recent = led.query(
            "SELECT time, prompt_tokens FROM results WHERE time > ? AND chunk_id LIKE ?",
            (time.time() - limits.window_s, f"{RT_PREFIX}%"),
        )
        report = send(ctx.client, ctx.spec, _jobs(ctx, rows, state), limits, recorder, options=opts,
                      stop=stop, timeout=left, recent=[(r[0], r[1] or 0) for r in recent])  # fmt: skip
    finally:
        bar.close()
    led.event("realtime_stop", _report_message(report, recorder))
    export(results_frame(led, ctx.spec.response_schema), ctx.run_dir / RESULTS_FILE)
    return report.stopped is None


def _report_message(report: SendReport, recorder: _Recorder) -> str:
    return (
        f"{recorder._message()}; {report.sent} requests in {report.elapsed_s:.1f}s "
        f"({report.requests_per_min:.0f}/min), {report.responses_429} × 429, "
        f"{report.server_errors} × 5xx, {report.timeouts} timeouts"
        + (f"; stopped: {report.stopped}" if report.stopped else "")
    )


def step(ctx: Context, seconds: float = 10.0) -> Any:
    """One bounded slice of real-time work (``Run.step`` in real-time mode)."""
    from gembatch.runs.run import StepReport

    before = ctx.ledger.counts()
    done = drive(ctx, timeout=seconds, progress=False)
    after = ctx.ledger.counts()
    moved = (after["succeeded"] + after["failed"]) - (before["succeeded"] + before["failed"])
    return StepReport(submitted=0, finished=moved, collected=moved, done=done)


def finish_realtime(
    ctx: Context,
    *,
    timeout: float | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    **options: Any,
) -> bool:
    """Switch the run to real time for good and finish it there (see :func:`handover`)."""
    cfg = ctx.config
    if cfg.mode != "realtime" or options:
        cfg.mode = "realtime"
        cfg.realtime = {**(cfg.realtime or {}), **options}
        ctx.ledger.set_meta("config", cfg.to_dict())
        ctx.ledger.event("realtime_mode", "the rest of the run goes through real time")
    return drive(ctx, timeout=timeout, progress=progress, stop=stop)
