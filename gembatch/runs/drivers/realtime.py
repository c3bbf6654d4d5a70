"""The real-time driver: hand batch work over, send pending articles under RPM/TPM, record each answer."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from gembatch.errors import InputError
from gembatch.runs.config import RESULTS_FILE
from gembatch.runs.context import Context
from gembatch.runs.drivers.base import StepReport
from gembatch.runs.handover import handover
from gembatch.runs.lock import driver_lock
from gembatch.runs.outcomes import article_outcome, finish
from gembatch.runs.realtime_send import Answer, Job, RealtimeOptions, SendReport, send
from gembatch.runs.reuse import absorb
from gembatch.runs.store import RESULT_FIELDS

__all__ = ["RT_PREFIX", "RealtimeDriver", "check_options", "drive", "finish_realtime"]

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


class _Recorder:
    """Writes each answer in its own transaction: a crash loses at most the requests in flight."""

    def __init__(self, ctx: Context, rows: list[Any], bar: Any):
        self.ctx = ctx
        self.info = ctx.model_info
        self.attempt = {r["article_id"]: int(r["attempts"]) + 1 for r in rows}
        self.bar = bar
        self.counts = {"succeeded": 0, "failed": 0, "retry": 0}
        self.cost = 0.0
        self._last_event = time.monotonic()

    def __call__(self, answer: Answer) -> None:
        led, res = self.ctx.store, answer.result
        aid = answer.job.key
        attempt = self.attempt[aid]
        cost = self.info.cost(res.prompt_tokens, res.output_tokens, "realtime", res.thoughts_tokens)
        row = {
            "article_id": aid,
            "chunk_id": f"{RT_PREFIX}{attempt}",
            "attempt": attempt,
            "status": res.status,
            "output_text": res.output_text,
            "output_json": json.dumps(res.parsed) if res.parsed is not None else None,
            "prompt_tokens": res.prompt_tokens,
            "output_tokens": res.output_tokens,
            "thoughts_tokens": res.thoughts_tokens,
            "cost_usd": cost,
            "finish_reason": res.finish_reason,
            "error": res.error,
            "time": answer.time,
        }
        max_attempts = self.ctx.config.max_attempts
        final, _, _ = led.record_answer(
            tuple(row[f] for f in RESULT_FIELDS),
            RT_PREFIX,
            lambda tries: article_outcome(res.status, res.error, tries, max_attempts).as_row(),
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
    arts = ctx.article_rows(ids)
    est = TokenEstimator().tokens(request_chars(arts, ctx.spec))
    info, budget = ctx.model_info, ctx.config.budget_usd
    by_id = {r["article_id"]: r for r in rows}
    for line, tokens in zip(iter_request_lines(arts, ctx.spec), est, strict=True):
        if ctx.store.get_meta("cancelled"):  # run.cancel() from another thread: send nothing more
            state["cancelled"] = True
            return
        if ctx.store.get_meta("paused"):  # run.pause(): send nothing new until run.resume()
            state["paused"] = True
            return
        if budget is not None:
            row = by_id[line["key"]]
            cost = info.cost(int(row["est_input_tokens"]), int(row["est_output_tokens"]), "realtime")
            # committed = settled cost + estimates of what this drive has sent (a slight over-count)
            if state["actual"] + state["sent_est"] + cost > budget:
                state["budget"] = True
                ctx.store.event("budget_blocked", f"real time stops: budget_usd ${budget:.4f} reached")
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
    ctx.refresh()
    opts = _options(ctx, options)
    limits = opts.limits(ctx.model_info, ctx.config.tier)
    led = ctx.store
    stop = stop if stop is not None else threading.Event()
    deadline = None if timeout is None else time.monotonic() + timeout
    total = led.article_count()
    with driver_lock(ctx.run_dir) as mine:
        if not mine:  # another process or thread drives this run (batch or real time): never both
            led.event("realtime_busy", "another driver holds this run; nothing sent")
            return bool(led.get_meta("done"))
        led.set_meta("done", None)
        while True:
            ctx.refresh()  # a budget or retry set from another process counts from this pass on
            try:
                moved = handover(ctx)
            except Exception as exc:
                if not ctx.transport.classify(exc).transient:
                    raise
                led.event("transient_error", f"realtime handover: {type(exc).__name__}: {str(exc)[:200]}")
                moved = {"waiting": 1}
            rows = led.workable_articles()
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
        finish(led)
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

    from gembatch.runs.result_pages import write_results_file

    led = ctx.store
    c = led.counts()
    bar = tqdm(total=total, initial=c["succeeded"] + c["failed"], desc=f"real time {ctx.config.run_id}",
               unit="article", disable=not progress)  # fmt: skip
    recorder = _Recorder(ctx, rows, bar)
    led.event("realtime_start", f"{len(rows)} articles at {limits.rpm} RPM / {limits.tpm:,} TPM")
    left = None if deadline is None else max(0.0, deadline - time.monotonic())
    try:
        recent = led.recent_answers(time.time() - limits.window_s, RT_PREFIX)
        report = send(ctx.transport, ctx.spec, _jobs(ctx, rows, state), limits, recorder, options=opts,
                      stop=stop, timeout=left, recent=recent)  # fmt: skip
    finally:
        bar.close()
    led.event("realtime_stop", _report_message(report, recorder))
    absorb(ctx)  # the answers just paid for go into the response cache
    write_results_file(ctx, ctx.run_dir / RESULTS_FILE)
    return report.stopped is None


def _report_message(report: SendReport, recorder: _Recorder) -> str:
    return (
        f"{recorder._message()}; {report.sent} requests in {report.elapsed_s:.1f}s "
        f"({report.requests_per_min:.0f}/min), {report.responses_429} × 429, "
        f"{report.server_errors} × 5xx, {report.timeouts} timeouts"
        + (f"; stopped: {report.stopped}" if report.stopped else "")
    )


def finish_realtime(
    ctx: Context,
    *,
    timeout: float | None = None,
    progress: bool = True,
    stop: threading.Event | None = None,
    **options: Any,
) -> bool:
    """Switch the run to real time for good and finish it there (see :func:`handover`)."""
    cfg = ctx.refresh()
    if cfg.mode != "realtime" or options:
        cfg.mode = "realtime"
        cfg.realtime = {**(cfg.realtime or {}), **options}
        ctx.save_config()
        ctx.store.event("realtime_mode", "the rest of the run goes through real time")
    return drive(ctx, timeout=timeout, progress=progress, stop=stop)


class RealtimeDriver:
    """Drives a run through real-time requests (see :func:`drive`)."""

    mode = "realtime"

    def step(self, ctx: Context, seconds: float = 10.0) -> StepReport:
        """One bounded slice of real-time work."""
        with ctx.lock:
            before = ctx.store.counts()
            done = drive(ctx, timeout=seconds, progress=False)
        after = ctx.store.counts()
        moved = (after["succeeded"] + after["failed"]) - (before["succeeded"] + before["failed"])
        return StepReport(submitted=0, finished=moved, collected=moved, done=done)

    def wait(self, ctx: Context, *, timeout: float | None, progress: bool, stop: threading.Event) -> bool:
        return drive(ctx, timeout=timeout, progress=progress, stop=stop)
