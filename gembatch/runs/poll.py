"""Watching jobs: one listing sweep, batches.get where a job is missing, the watchdog, hedging
stragglers (see :mod:`gembatch.runs.hedge`), cancellation."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from gembatch.runs.cleanup import delete_now
from gembatch.runs.context import Context
from gembatch.runs.hedge import MAX_HEDGES, hedge_due, hedge_generation, observe, service_now, threshold
from gembatch.runs.states import State, from_remote
from gembatch.transport.base import JobStatus

__all__ = ["Sweep", "cancel_in_flight", "cancel_job", "poll", "sweep"]


@dataclass
class Sweep:
    """The remote batches seen in one complete listing, by name and by display name."""

    by_name: dict[str, JobStatus] = field(default_factory=dict)
    by_display: dict[str, list[JobStatus]] = field(default_factory=lambda: defaultdict(list))


def sweep(ctx: Context) -> Sweep:
    """List remote batches once, page by page; only this run's display names are kept.

    Stops early once every job the ledger waits for has been seen. A chunk in ``submitting`` that
    is not found makes the sweep read every page, so "absent" is only ever concluded from a
    complete listing.
    """
    prefix = f"gembatch/{ctx.config.run_id}/"
    names = {r["batch_name"] for r in ctx.store.chunks_in(State.SUBMITTED)}
    displays = {ctx.display_name(r["chunk_id"], r["attempt"]) for r in ctx.store.chunks_in(State.SUBMITTING)}
    out = Sweep()
    for job in ctx.transport.list_jobs():
        display = job.display_name or ""
        if display.startswith(prefix):
            name = job.name
            out.by_name[name] = job
            out.by_display[display].append(job)
            names.discard(name)
            displays.discard(display)
            if not names and not displays:
                break
    return out


def poll(ctx: Context, listing: Sweep, *, now: float | None = None) -> int:
    """Update every submitted chunk from ``listing``; returns how many reached a terminal state."""
    now = time.time() if now is None else now
    led, transport = ctx.store, ctx.transport
    service = service_now(ctx)  # job ages are read on the service's clock (emulated for the emulator)
    limit = threshold(ctx)  # the hedge threshold, once per poll
    finished = 0
    for row in led.chunks_in(State.SUBMITTED):
        chunk_id, name = row["chunk_id"], row["batch_name"]
        if row["input_file"] and ctx.config.delete_input_files:
            _delete_input(ctx, chunk_id, row["input_file"])
        job = listing.by_name.get(name)
        if job is None:  # absent from a listing proves nothing: ask for this job by name
            try:
                job = transport.get(name)
            except Exception as exc:
                if not transport.classify(exc).not_found:
                    raise
                with led.transaction():
                    led.transition(
                        chunk_id, State.FAILED, error=f"job {name} not found at the service", finished_at=now
                    )
                    led.event("job_missing", f"{name}: batches.get says 404", chunk_id)
                finished += 1
                continue
        state_str = str(job.state)
        stats = dict(job.stats)
        terminal = from_remote(state_str)
        stats_json = json.dumps(stats, sort_keys=True)
        if terminal is None:
            if state_str != row["remote_state"] or stats_json != row["stats"]:
                led.update_chunk(chunk_id, remote_state=state_str, stats=stats_json)
            if state_str != row["remote_state"]:
                led.event("remote_state", f"{name}: {state_str}", chunk_id)
            if not _watchdog(ctx, row, state_str, now):
                _hedge(ctx, row, job, service, limit)
            continue
        if terminal == State.SUCCEEDED:
            observe(ctx, job)
        with led.transaction():
            led.transition(
                chunk_id,
                terminal,
                remote_state=state_str,
                stats=stats_json,
                output_file=job.output_file,
                finished_at=now,
                error=job.error,
            )
            led.event("finished", f"{name}: {state_str} {stats}", chunk_id)
        finished += 1
    return finished


def _delete_input(ctx: Context, chunk_id: str, file_name: str) -> None:
    """The job exists, so its input file only fills the 20 GB store: delete it (announced first)."""
    if delete_now(ctx, "file", file_name, chunk_id=chunk_id, reason="input of a submitted job") is None:
        ctx.store.update_chunk(chunk_id, input_file=None)
        ctx.store.event("input_deleted", file_name, chunk_id)  # a failure is retried at the next sweep


def cancel_job(ctx: Context, chunk_id: str, name: str, reason: str) -> None:
    """Ask the service to cancel a job; a job that already finished is not an error (it gets collected).

    Transient failures propagate, so the caller tries again on the next step.
    """
    try:
        ctx.transport.cancel(name)
    except Exception as exc:
        failure = ctx.transport.classify(exc)
        if not (failure.refused and failure.code in (400, 404, 409)):  # 400: it finished meanwhile
            raise
        ctx.store.event("cancel_noop", f"{name}: {failure.status}; it will be collected as it is", chunk_id)
    ctx.store.update_chunk(chunk_id, cancel_reason=reason)


def cancel_in_flight(ctx: Context) -> None:
    """Cancel every submitted job the user has not cancelled yet (what fails is retried next step)."""
    for row in ctx.store.chunks_in(State.SUBMITTED):
        if row["cancel_reason"] != "user":
            cancel_job(ctx, row["chunk_id"], row["batch_name"], "user")


def _hedge(ctx: Context, row: Any, job: JobStatus, now: float, limit: float | None) -> None:
    why = hedge_due(ctx, row, job, now, limit)
    if why is None:
        return
    cancel_job(ctx, row["chunk_id"], row["batch_name"], "hedge")
    ctx.store.event("hedge_cancel", why, row["chunk_id"])


def _watchdog(ctx: Context, row: Any, state_str: str, now: float) -> bool:
    """Flag (or cancel, with ``cancel_stale``) a job pending past ``pending_limit_s``; True if cancelled."""
    limit = ctx.config.pending_limit_s
    if limit is None or not state_str.endswith("PENDING") or row["cancel_reason"]:
        return False
    age = now - float(row["submitted_at"] or now)
    if age < limit:
        return False
    chunk_id, name = row["chunk_id"], row["batch_name"]
    if not ctx.config.cancel_stale:
        if row["blocked"] != "stale":
            ctx.store.update_chunk(chunk_id, blocked="stale")
            ctx.store.event("stale", f"{name} pending for {age:.0f}s (limit {limit:.0f}s)", chunk_id)
        return False
    # attempt-free (sent again under the same attempt) up to MAX_HEDGES copies; then it counts
    reason = "watchdog" if hedge_generation(chunk_id) < MAX_HEDGES else "stale"
    cancel_job(ctx, chunk_id, name, reason)
    confirmed = str(ctx.transport.get(name).state)
    ctx.store.event(
        "watchdog_cancel", f"{name} pending {age:.0f}s; cancel requested, now {confirmed}", chunk_id
    )
    return True
