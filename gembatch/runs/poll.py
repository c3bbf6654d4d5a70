"""One monitoring sweep: one batches.list pass, batches.get where a job is missing, and the watchdog."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from google.genai import errors as genai_errors

from gembatch.runs.context import Context
from gembatch.runs.states import State, from_remote
from gembatch.transport import gemini as remote

__all__ = ["Sweep", "cancel_job", "poll", "sweep"]


@dataclass
class Sweep:
    """The remote batches seen in one complete listing, by name and by display name."""

    by_name: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_display: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


def sweep(ctx: Context) -> Sweep:
    """List remote batches once, page by page; only this run's display names are kept.

    Stops early once every job the ledger waits for has been seen. A chunk in ``submitting`` that
    is not found makes the sweep read every page, so "absent" is only ever concluded from a
    complete listing.
    """
    prefix = f"gembatch/{ctx.config.run_id}/"
    names = {r["batch_name"] for r in ctx.ledger.chunks_in(State.SUBMITTED)}
    displays = {ctx.display_name(r["chunk_id"], r["attempt"]) for r in ctx.ledger.chunks_in(State.SUBMITTING)}
    out = Sweep()
    for op in remote.iter_batches(ctx.client):
        display = remote.display_name(op) or ""
        if display.startswith(prefix):
            name = str(op.get("name"))
            out.by_name[name] = op
            out.by_display[display].append(op)
            names.discard(name)
            displays.discard(display)
            if not names and not displays:
                break
    return out


def poll(ctx: Context, listing: Sweep, *, now: float | None = None) -> int:
    """Update every submitted chunk from ``listing``; returns how many reached a terminal state."""
    now = time.time() if now is None else now
    led = ctx.ledger
    finished = 0
    for row in led.chunks_in(State.SUBMITTED):
        chunk_id, name = row["chunk_id"], row["batch_name"]
        if row["input_file"] and ctx.config.delete_input_files:
            _delete_input(ctx, chunk_id, row["input_file"])
        op = listing.by_name.get(name)
        if op is None:  # absent from a listing proves nothing: ask for this job by name
            try:
                op = remote.get_batch(ctx.client, name)
            except genai_errors.ClientError as exc:
                if exc.code != 404:
                    raise
                with led.transaction():
                    led.transition(
                        chunk_id, State.FAILED, error=f"job {name} not found at the service", finished_at=now
                    )
                    led.event("job_missing", f"{name}: batches.get says 404", chunk_id)
                finished += 1
                continue
        state_str = remote.remote_state(op)
        stats = remote.batch_stats(op)
        terminal = from_remote(state_str)
        stats_json = json.dumps(stats, sort_keys=True)
        if terminal is None:
            if state_str != row["remote_state"] or stats_json != row["stats"]:
                led.update_chunk(chunk_id, remote_state=state_str, stats=stats_json)
            if state_str != row["remote_state"]:
                led.event("remote_state", f"{name}: {state_str}", chunk_id)
            _watchdog(ctx, row, state_str, now)
            continue
        error = (op.get("error") or {}).get("message") if isinstance(op.get("error"), dict) else None
        with led.transaction():
            led.transition(
                chunk_id,
                terminal,
                remote_state=state_str,
                stats=stats_json,
                output_file=remote.output_file(op),
                finished_at=now,
                error=error,
            )
            led.event("finished", f"{name}: {state_str} {stats}", chunk_id)
        finished += 1
    return finished


def _delete_input(ctx: Context, chunk_id: str, file_name: str) -> None:
    """The job exists, so its input file only fills the 20 GB store: delete it."""
    try:
        ctx.client.files.delete(name=file_name)
    except Exception as exc:
        if not (isinstance(exc, genai_errors.ClientError) and exc.code == 404):
            if remote.transient(exc):
                return  # try again next sweep
            raise
    ctx.ledger.update_chunk(chunk_id, input_file=None)
    ctx.ledger.event("input_deleted", file_name, chunk_id)


def cancel_job(ctx: Context, chunk_id: str, name: str, reason: str) -> None:
    """Ask the service to cancel a job; a job that already finished is not an error (it gets collected).

    Transient failures propagate, so the caller tries again on the next step.
    """
    try:
        ctx.client.batches.cancel(name=name)
    except genai_errors.ClientError as exc:
        if exc.code in (408, 429) or exc.code not in (400, 404, 409):
            raise
        ctx.ledger.event("cancel_noop", f"{name}: {exc.status}; it will be collected as it is", chunk_id)
    ctx.ledger.update_chunk(chunk_id, cancel_reason=reason)


def _watchdog(ctx: Context, row: Any, state_str: str, now: float) -> None:
    limit = ctx.config.pending_limit_s
    if limit is None or not state_str.endswith("PENDING") or row["cancel_reason"]:
        return
    age = now - float(row["submitted_at"] or now)
    if age < limit:
        return
    chunk_id, name = row["chunk_id"], row["batch_name"]
    if not ctx.config.cancel_stale:
        if row["blocked"] != "stale":
            ctx.ledger.update_chunk(chunk_id, blocked="stale")
            ctx.ledger.event("stale", f"{name} pending for {age:.0f}s (limit {limit:.0f}s)", chunk_id)
        return
    cancel_job(ctx, chunk_id, name, "watchdog")
    confirmed = remote.remote_state(remote.get_batch(ctx.client, name))
    ctx.ledger.event(
        "watchdog_cancel", f"{name} pending {age:.0f}s; cancel requested, now {confirmed}", chunk_id
    )
