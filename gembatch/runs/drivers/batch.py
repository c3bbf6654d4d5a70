"""The batch driver: reconcile, sweep, poll, collect, re-queue and schedule, one step at a time."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from gembatch.runs.cleanup import cleanup, settle
from gembatch.runs.collect import collect_chunk, make_retry_chunks
from gembatch.runs.config import RESULTS_FILE
from gembatch.runs.context import Context
from gembatch.runs.deadline import enforce
from gembatch.runs.drivers.base import StepReport
from gembatch.runs.hedge import hedge_generation
from gembatch.runs.lock import driver_lock
from gembatch.runs.outcomes import finish, is_done
from gembatch.runs.poll import cancel_in_flight, poll, sweep
from gembatch.runs.result_pages import write_results_file
from gembatch.runs.reuse import absorb
from gembatch.runs.scheduler import Candidate, Capacity, choose
from gembatch.runs.states import FINISHED, State
from gembatch.runs.submit import reconcile, submit_chunk
from gembatch.transport.base import JobStatus

__all__ = ["BatchDriver", "export_results", "guard"]

T = TypeVar("T")

#: While a run goes on, results.parquet is rewritten at most once a minute, and then only once the
#: results have grown by a quarter since the last export or 15 minutes have passed; always at the
#: end. Rebuilding it after every collected job made the run loop quadratic in the articles; with
#: geometric growth all exports together cost a few times the last one.
EXPORT_EVERY_S = 60.0
EXPORT_AT_LEAST_S = 900.0
#: Growth of the results that calls for a new export, or a new measure of the token ratio.
GROWTH = 1.25


def _results(ctx: Context) -> int:
    return int(ctx.store.tallies().get("results", 0))


def export_results(ctx: Context, *, force: bool = False) -> bool:
    """Write results.parquet when collected work is missing from it and its schedule says so."""
    if not (ctx.export_due or force):
        return False
    n = _results(ctx)
    if not force:
        elapsed = time.monotonic() - ctx.exported_at
        grown = n >= max(1, ctx.exported_on) * GROWTH
        if elapsed < EXPORT_EVERY_S or not (grown or elapsed >= EXPORT_AT_LEAST_S):
            return False
    write_results_file(ctx, ctx.run_dir / RESULTS_FILE)
    ctx.exported_at, ctx.exported_on, ctx.export_due = time.monotonic(), n, False
    return True


def _recalibrate(ctx: Context, *, force: bool = False) -> None:
    n = _results(ctx)
    if force or n >= max(1, ctx.calibrated_on) * GROWTH:
        ctx.store.calibrate()
        ctx.calibrated_on = n


def guard(ctx: Context, phase: str, fn: Callable[[], T]) -> T | None:
    """Run one phase; a transient service error is recorded and the phase retried next step."""
    try:
        return fn()
    except Exception as exc:
        if not ctx.transport.classify(exc).transient:
            raise
        ctx.store.event("transient_error", f"{phase}: {type(exc).__name__}: {str(exc)[:200]}")
        return None


def _schedule(ctx: Context) -> int:
    led, cfg = ctx.store, ctx.config
    if time.time() < ctx.backoff_until:
        return 0
    planned = led.chunks_in(State.PLANNED)
    if not planned:
        return 0
    planned.sort(key=lambda r: hedge_generation(r["chunk_id"]) == 0)  # a hedged copy goes out first
    tokens, jobs, _ = led.in_flight()
    _, committed = led.spend()
    ratio = led.token_ratio()
    decision = choose(
        [
            Candidate(r["chunk_id"], r["wave"], round(r["est_input_tokens"] * ratio), r["est_cost_usd"])
            for r in planned
        ],
        Capacity(tokens, jobs, committed, led.open_wave()),
        policy=cfg.policy,
        cap_tokens=cfg.cap_tokens,
        max_jobs=cfg.max_jobs,
        budget_usd=cfg.budget_usd,
    )
    blocked = {r["chunk_id"]: r for r in planned}
    for cid in decision.over_budget:
        if blocked[cid]["blocked"] != "budget":
            led.update_chunk(cid, blocked="budget")
            led.event(
                "budget_blocked",
                f"not submitted: ~${blocked[cid]['est_cost_usd']:.4f} would push committed "
                f"${committed:.4f} past budget_usd ${cfg.budget_usd:.4f}",
                cid,
            )
    n = 0
    for cid in decision.submit:
        outcome = submit_chunk(ctx, cid)
        n += outcome == "submitted"
        if outcome == "backoff":
            break
    return n


def check_done(ctx: Context) -> bool:
    """Apply the done rule; the first time it holds, record why."""
    cancelled = bool(ctx.store.get_meta("cancelled"))
    done = is_done(ctx.store.work_left(), cancelled=cancelled)
    if done:
        finish(ctx.store)
    return done


def _final_sweep(ctx: Context) -> None:
    """Delete what is left of a finished run at the service; a failure never stops the run."""
    try:
        cleanup(ctx, explicit=False)
    except Exception as exc:  # e.g. a key the service refuses: the next step (or cleanup) tries again
        ctx.store.event("cleanup_failed", f"final sweep: {str(exc)[:300]}")


class BatchDriver:
    """Drives a run through the Batch API (see :meth:`step`)."""

    mode = "batch"

    def step(self, ctx: Context) -> StepReport:
        """One tick: reconcile, one listing sweep, collect, re-queue, submit what fits."""
        with ctx.lock, driver_lock(ctx.run_dir) as mine:
            led = ctx.store
            if not mine:  # another process (or Run object) is driving this run right now
                return StepReport(0, 0, 0, bool(led.get_meta("done")))
            ctx.refresh()  # set_budget / retry_failed / knobs from another process take effect now
            settle(ctx)  # deletes left pending by a crash or a failure; orphans of an unrecorded upload
            cancelled = bool(led.get_meta("cancelled"))
            finished = 0
            listed: dict[str, JobStatus] = {}
            if led.chunks_in(State.SUBMITTING, State.SUBMITTED):
                listing = guard(ctx, "sweep", lambda: sweep(ctx))
                if listing is not None:  # reconcile only from a complete listing, never a partial one
                    listed = listing.by_name
                    guard(ctx, "reconcile", lambda: reconcile(ctx, listing.by_display))
                    if cancelled:
                        guard(ctx, "cancel", lambda: cancel_in_flight(ctx))
                    finished = guard(ctx, "poll", lambda: poll(ctx, listing)) or 0
            if not cancelled and not led.get_meta("paused"):  # stragglers that would miss the deadline
                finished += guard(ctx, "deadline", lambda: enforce(ctx)) or 0
            collected = 0
            for row in led.chunks_in(*FINISHED):
                collect = functools.partial(
                    collect_chunk, ctx, row["chunk_id"], user_cancelled=cancelled, listed=listed
                )
                collected += guard(ctx, "collect", collect) is not None
            submitted = 0
            if not cancelled and not led.get_meta("paused"):
                # retries wait to fill a chunk while sendable planned work remains, then all go out
                sendable = [r for r in led.chunks_in(State.PLANNED) if r["blocked"] != "budget"]
                make_retry_chunks(ctx, flush=not sendable)
                submitted = guard(ctx, "submit", lambda: _schedule(ctx)) or 0
            if collected:
                absorb(ctx)  # the answers just paid for go into the response cache
                ctx.export_due = True
                _recalibrate(ctx)
            done = check_done(ctx)
            if done and (ctx.export_due or not (ctx.run_dir / RESULTS_FILE).exists()):
                _recalibrate(ctx, force=True)
                export_results(ctx, force=True)
            else:
                export_results(ctx)
            if done and not led.get_meta("swept"):  # once at the end: nothing of the run stays behind
                _final_sweep(ctx)
            return StepReport(submitted, finished, collected, done)

    def wait(self, ctx: Context, *, timeout: float | None, progress: bool, stop: threading.Event) -> bool:
        from tqdm.auto import tqdm

        deadline = None if timeout is None else time.monotonic() + timeout
        interval = ctx.config.poll_min_s
        led = ctx.store
        bar = tqdm(total=led.article_count(), desc=f"run {ctx.config.run_id}", unit="article",
                   disable=not progress)  # fmt: skip
        try:
            while not stop.is_set():
                report = self.step(ctx)
                c = led.counts()
                bar.n = c["succeeded"] + c["failed"]
                bar.set_postfix(failed=c["failed"], refresh=False)
                bar.refresh()
                if report.done:
                    return True
                cfg = ctx.config
                busy = report.submitted or report.finished or report.collected
                interval = cfg.poll_min_s if busy else min(cfg.poll_max_s, interval * 1.5)
                if deadline is not None and time.monotonic() + interval > deadline:
                    return False
                stop.wait(interval)
            return False
        finally:
            bar.close()
            with ctx.lock:  # whoever stops waiting finds every collected result on disk
                export_results(ctx, force=ctx.export_due)
