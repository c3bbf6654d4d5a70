"""Exactly-once submission of one chunk, and reconciliation of chunks whose create outcome is unknown."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, Literal

from gembatch.runs.cleanup import announce_upload, record_upload
from gembatch.runs.context import Context
from gembatch.runs.crash import crash_point
from gembatch.runs.states import State
from gembatch.transport.base import Failure, JobStatus

__all__ = ["SubmitResult", "reconcile", "request_lines", "submit_chunk"]

SubmitResult = Literal["submitted", "backoff", "unknown", "failed"]


def request_lines(ctx: Context, article_ids: list[str]) -> Iterator[dict[str, Any]]:
    """Request lines (``{"key", "request"}``) for these articles, built from the input snapshot."""
    from gembatch.inputs.request_lines import iter_request_lines

    return iter_request_lines(ctx.article_rows(article_ids), ctx.spec)


class _CrashingReader(io.FileIO):
    """A file whose first read is a test crash point: the upload session exists, its bytes never arrive."""

    _reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self._reads += 1
        if self._reads == 1:
            crash_point("upload")
        return super().read(size)


def submit_chunk(ctx: Context, chunk_id: str) -> SubmitResult:
    """Commit the intent, then upload and create. Never creates a second job for a (chunk, attempt).

    Returns ``submitted``; ``backoff`` (the service refused, nothing exists, the chunk is planned
    again); ``unknown`` (the job may exist: it stays ``submitting`` until reconciled); ``failed``.
    """
    led, transport = ctx.store, ctx.transport
    row = led.chunk(chunk_id)
    display = ctx.display_name(chunk_id, row["attempt"])
    with led.transaction():
        led.transition(
            chunk_id,
            State.SUBMITTING,
            intent_at=time.time(),
            create_tries=row["create_tries"] + 1,
            blocked=None,
        )
        led.event("intent", display, chunk_id)
    crash_point("intent")
    from gembatch.inputs.request_lines import encode_lines

    # each line is encoded once: its bytes size the chunk and, for a file job, are what is uploaded;
    # an inline job is sent from the line dicts in memory (no temp file written and parsed back)
    lines = list(request_lines(ctx, led.chunk_article_ids(chunk_id)))
    encoded = encode_lines(lines)
    inline = sum(len(b) for b in encoded) < ctx.config.inline_limit_bytes
    path = ctx.tmp_dir / f"{chunk_id}.jsonl"
    if not inline:  # a file job: the bytes go to disk and the dicts are no longer needed
        with path.open("wb") as fh:
            fh.writelines(encoded)
        lines = []
    del encoded
    try:
        file_name = None if inline else _upload(ctx, chunk_id, path, display, row["input_file"])
    except Exception as exc:  # nothing was created: the create call was never made
        path.unlink(missing_ok=True)
        failure = transport.classify(exc)
        if failure.refused:  # the service stored nothing: no file can be left behind
            led.intent_done("upload", display)
        return _refused(ctx, chunk_id, failure, "upload", exc)
    try:
        job: JobStatus
        if inline:
            job = transport.create(ctx.config.model, display, requests=lines)
        else:
            job = transport.create(ctx.config.model, display, file_name=file_name)
    except Exception as exc:
        failure = transport.classify(exc)
        if failure.refused:
            return _refused(ctx, chunk_id, failure, "create", exc)
        led.event(
            "create_unknown",
            f"{type(exc).__name__}: {failure.summary()}; will reconcile by display name",
            chunk_id,
        )
        return "unknown"
    finally:
        path.unlink(missing_ok=True)
    crash_point("create")
    name = job.name
    if not name:  # a 200 without a name: as unknown as a lost response
        led.event("create_unknown", "create answered without a batch name; will reconcile", chunk_id)
        return "unknown"
    _record(ctx, chunk_id, name, "inline" if inline else "file")
    ctx.backoff_ok()
    return "submitted"


def _upload(ctx: Context, chunk_id: str, path: Path, display: str, previous: str | None) -> str:
    if previous and ctx.transport.file_exists(previous):  # uploaded before a crash: reuse it
        return previous
    announce_upload(ctx, chunk_id, display)  # a crash from here on may leave a file: swept later
    with _CrashingReader(path, "rb") as fh:
        name = ctx.transport.upload(fh, display)
    crash_point("uploaded")
    record_upload(ctx, chunk_id, display, name)
    return name


def _refused(ctx: Context, chunk_id: str, failure: Failure, step: str, exc: Exception) -> SubmitResult:
    led = ctx.store
    if failure.code == 429:  # the quota values it states are this project's limits: plan with them next time
        from gembatch.planning.learned_limits import learn_from_error

        client = getattr(ctx.transport, "client", None)
        learn_from_error(exc, client=client, model=ctx.config.model, tier=ctx.config.tier)
    if not failure.permanent_refusal:
        delay = ctx.back_off(failure.retry_after_s)
        with led.transaction():
            led.transition(chunk_id, State.PLANNED)
            led.event(
                f"{step}_refused", f"{failure.summary()}; backing off {delay:.1f}s, plan kept", chunk_id
            )
        return "backoff"
    with led.transaction():
        led.transition(
            chunk_id, State.FAILED, error=f"{step} refused: {failure.summary()}", finished_at=time.time()
        )
        led.event(f"{step}_failed", failure.summary(), chunk_id)
    return "failed"


def _record(ctx: Context, chunk_id: str, name: str, source: str) -> None:
    with ctx.store.transaction():
        ctx.store.transition(
            chunk_id, State.SUBMITTED, batch_name=name, source=source, submitted_at=time.time()
        )
        ctx.store.event("submitted", name, chunk_id)


def reconcile(ctx: Context, listing: Mapping[str, list[JobStatus]], *, now: float | None = None) -> int:
    """Resolve chunks left in ``submitting`` using a full listing keyed by display name.

    Found → confirmed with ``batches.get`` and recorded. Certainly absent (not in a complete listing
    taken after the grace period) → planned again. Returns how many chunks were resolved.
    """
    now = time.time() if now is None else now
    led = ctx.store
    done = 0
    for row in led.chunks_in(State.SUBMITTING):
        display = ctx.display_name(row["chunk_id"], row["attempt"])
        ops = listing.get(display) or []
        if ops:
            names = sorted({job.name for job in ops})
            if len(names) > 1:
                led.event(
                    "duplicate_jobs",
                    f"{display} has {len(names)} remote jobs: {', '.join(names)}",
                    row["chunk_id"],
                )
            confirmed = ctx.transport.get(names[0])  # a listing may be stale: confirm by name
            source = "file" if row["input_file"] else "inline"
            _record(ctx, row["chunk_id"], confirmed.name or names[0], source)
            led.event("reconciled", f"found {names[0]} for {display}", row["chunk_id"])
            done += 1
        elif now - float(row["intent_at"] or 0) >= ctx.config.reconcile_grace_s:
            with led.transaction():
                led.transition(row["chunk_id"], State.PLANNED)
                led.event("reconciled", f"no remote job named {display}: planned again", row["chunk_id"])
            done += 1
    return done
