"""Collect finished chunks: download, match by key, settle cost, and re-queue retryable articles."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

from gembatch.runs.bq_results import fetch_outcomes, text_stays_in_bigquery
from gembatch.runs.cleanup import announce_deletes, settle
from gembatch.runs.context import Context
from gembatch.runs.crash import crash_point
from gembatch.runs.outcomes import article_outcome, attempt_free
from gembatch.runs.response_lines import LineResult, iter_jsonl, parse_lines
from gembatch.runs.states import State
from gembatch.transport.base import JobStatus

__all__ = ["collect_chunk", "make_retry_chunks"]


def _fetch(ctx: Context, row: Any, listed: Mapping[str, JobStatus] | None) -> dict[str, LineResult]:
    schema = ctx.spec.response_schema
    records: Iterable[Mapping[str, Any] | None]
    if row["output_file"] and text_stays_in_bigquery(ctx):  # keys, status and usage only
        records = fetch_outcomes(ctx, str(row["output_file"]))
        crash_point("download")
    elif row["output_file"]:
        data = ctx.transport.download(str(row["output_file"]))
        crash_point("download")
        records = iter_jsonl(data)
    else:  # inline output rides in the listing this step already read; ask again only without it
        job = (listed or {}).get(str(row["batch_name"]))
        if job is None or job.inline_responses is None or not job.state.done:
            job = ctx.transport.get(row["batch_name"])
        records = job.inline_responses or ()
    out: dict[str, LineResult] = {}
    for res in parse_lines(records, schema):
        out.setdefault(res.key, res)  # a duplicated key keeps its first line, never a later one
    return out


def _output_gone(ctx: Context, row: Any, exc: BaseException) -> str | None:
    """Why a finished job's output can no longer be read (the service no longer has the file: it
    expired or was deleted), or ``None`` when the failure is anything else (raised as before)."""
    if not row["output_file"]:
        return None
    failure = ctx.transport.classify(exc)
    if not (failure.answered and failure.code in (403, 404)):
        return None
    return f"its output {row['output_file']} is gone ({failure.summary(120)}); the articles are sent again"


def collect_chunk(
    ctx: Context,
    chunk_id: str,
    *,
    user_cancelled: bool = False,
    listed: Mapping[str, JobStatus] | None = None,
) -> dict[str, int]:
    """Record every article of a finished chunk in one transaction; returns counts by outcome.

    ``listed`` (remote jobs by name, from this step's listing) spares a second fetch of inline output.

    A SIGKILL anywhere before the commit leaves the chunk uncollected, so collecting again is safe.
    """
    led = ctx.store
    row = led.chunk(chunk_id)
    state = row["state"]
    ids = led.chunk_article_ids(chunk_id)
    job_reason = None
    lines: dict[str, LineResult] = {}
    if state == State.CANCELLED and attempt_free(row["cancel_reason"]) and not user_cancelled:
        from gembatch.runs.hedge import withdraw

        return withdraw(ctx, row, ids)  # sent again under the same attempt, nothing billed
    if state == State.SUCCEEDED:
        try:
            lines = _fetch(ctx, row, listed)
        except Exception as exc:
            gone = _output_gone(ctx, row, exc)
            if gone is None:
                raise
            job_reason = gone
            led.event("output_gone", f"{row['batch_name']}: {gone}", chunk_id)
    elif state == State.CANCELLED and (user_cancelled or row["cancel_reason"] == "user"):
        job_reason = "cancelled by the user"
    else:
        job_reason = f"job {state}" + (f": {row['error']}" if row["error"] else "")
    # the service refused the chunk itself (a 4xx before any job existed): resending it cannot help
    refused = state == State.FAILED and not row["batch_name"]
    info = ctx.model_info
    now = time.time()
    counts = {"succeeded": 0, "failed": 0, "retry": 0, "pending": 0}
    tot = {"in": 0, "out": 0, "th": 0, "cost": 0.0}
    max_attempts = ctx.config.max_attempts
    result_rows: list[tuple[Any, ...]] = []
    article_rows: list[tuple[Any, ...]] = []
    for aid in ids:
        if job_reason == "cancelled by the user":
            counts["pending"] += 1
            continue
        res = lines.get(aid) or LineResult(
            aid, "failed" if refused else "retryable", error=job_reason or "missing from the output"
        )
        cost = info.cost(res.prompt_tokens, res.output_tokens, "batch", res.thoughts_tokens)
        tot["in"] += res.prompt_tokens
        tot["out"] += res.output_tokens
        tot["th"] += res.thoughts_tokens
        tot["cost"] += cost
        parsed = json.dumps(res.parsed) if res.parsed is not None else None
        result_rows.append(
            (aid, chunk_id, row["attempt"], res.status, res.output_text, parsed, res.prompt_tokens,
             res.output_tokens, res.thoughts_tokens, cost, res.finish_reason, res.error, now)
        )  # fmt: skip
        outcome = article_outcome(res.status, res.error, int(row["attempt"]), max_attempts)
        counts["retry" if outcome.requeue else outcome.status] += 1
        article_rows.append((*outcome.as_row(), aid))
    with led.transaction():
        led.record_collection(chunk_id, result_rows, article_rows)
        led.transition(
            chunk_id,
            State.COLLECTED,
            collected_at=now,
            input_tokens=tot["in"],
            output_tokens=tot["out"],
            thoughts_tokens=tot["th"],
            cost_usd=tot["cost"],
            succeeded=counts["succeeded"],
            failed=counts["failed"],
            retried=counts["retry"],
        )
        announce_deletes(ctx, row)  # with the results: a crash after the commit still deletes them
        crash_point("collect")
        led.event(
            "collected",
            f"{counts['succeeded']} ok, {counts['failed']} failed, {counts['retry']} to retry, "
            f"${tot['cost']:.4f} actual vs ${row['est_cost_usd']:.4f} estimated",
            chunk_id,
        )
    crash_point("collected")  # results committed, output file and job not yet deleted
    settle(ctx, chunk_id)
    return counts


def make_retry_chunks(ctx: Context, *, flush: bool) -> list[str]:
    """Pack re-queued articles into new chunks (attempt + 1), each within the plan's chunk size.

    With ``flush`` false only full chunks are made, so retries do not fragment while planned work
    remains; with ``flush`` true the remainder goes out too.
    """
    led = ctx.store
    rows = led.requeued_articles()
    if not rows:
        return []
    cap = max(1, ctx.config.chunk_tokens)
    groups: list[list[Any]] = []
    for r in rows:
        g = groups[-1] if groups else None
        if (
            g is None
            or g[0]["attempts"] != r["attempts"]
            or sum(x["est_input_tokens"] for x in g) + r["est_input_tokens"] > cap
        ):
            groups.append([r])
        else:
            g.append(r)
    made: list[str] = []
    with led.transaction():
        wave = led.next_wave()
        for g in groups:
            full = sum(x["est_input_tokens"] for x in g) * 2 > cap  # at least half a chunk is worth sending
            if not (flush or full):
                continue
            attempt = int(g[0]["attempts"]) + 1
            n = led.chunks_of_attempt(attempt) + 1
            chunk_id = f"r{attempt}-{n:05d}"
            led.add_chunk(
                chunk_id,
                attempt=attempt,
                wave=wave,
                model=ctx.config.model,
                display_name=ctx.display_name(chunk_id, attempt),
                article_ids=[x["article_id"] for x in g],
                est_input_tokens=sum(x["est_input_tokens"] for x in g),
                est_output_tokens=sum(x["est_output_tokens"] for x in g),
                est_cost_usd=sum(x["est_cost_usd"] for x in g),
            )
            led.event("retry_chunk", f"{len(g)} articles, attempt {attempt}", chunk_id)
            made.append(chunk_id)
    return made
