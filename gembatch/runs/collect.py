"""Collect finished chunks: download, match by key, settle cost, and re-queue retryable articles."""

from __future__ import annotations

import json
import time
from typing import Any

from gembatch.runs.context import Context
from gembatch.runs.crash import crash_point
from gembatch.runs.response_lines import LineResult, iter_jsonl, parse_lines
from gembatch.runs.states import State
from gembatch.transport import gemini as remote

__all__ = ["collect_chunk", "make_retry_chunks"]


def _fetch(ctx: Context, row: Any) -> dict[str, LineResult]:
    schema = ctx.spec.response_schema
    if row["output_file"]:
        data = ctx.client.files.download(file=str(row["output_file"]))  # the NAME: a File object raises
        crash_point("download")
        records = iter_jsonl(bytes(data))
    else:
        items = remote.inline_responses(remote.get_batch(ctx.client, row["batch_name"])) or []
        records = iter(items)
    out: dict[str, LineResult] = {}
    for res in parse_lines(records, schema):
        out.setdefault(res.key, res)  # a duplicated key keeps its first line, never a later one
    return out


def collect_chunk(ctx: Context, chunk_id: str, *, user_cancelled: bool = False) -> dict[str, int]:
    """Record every article of a finished chunk in one transaction; returns counts by outcome.

    A SIGKILL anywhere before the commit leaves the chunk uncollected, so collecting again is safe.
    """
    led = ctx.ledger
    row = led.chunk(chunk_id)
    state = row["state"]
    ids = led.chunk_article_ids(chunk_id)
    job_reason = None
    lines: dict[str, LineResult] = {}
    if state == State.SUCCEEDED:
        lines = _fetch(ctx, row)
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
        if res.status == "succeeded":
            final, requeue, err = "succeeded", 0, None
        elif res.status == "retryable" and row["attempt"] < max_attempts:
            final, requeue, err = "pending", 1, res.error
            counts["retry"] += 1
        else:
            final, requeue = "failed", 0
            err = (
                res.error
                if res.status == "failed"
                else f"gave up after {row['attempt']} attempts: {res.error}"
            )
        if final != "pending":
            counts[final] += 1
        article_rows.append((final, requeue, err, aid))
    with led.transaction() as db:
        db.executemany(
            "INSERT OR REPLACE INTO results(article_id, chunk_id, attempt, status, output_text, output_json, "
            "prompt_tokens, output_tokens, thoughts_tokens, cost_usd, finish_reason, error, time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            result_rows,
        )
        # the article and every identical one (same request, sent once) share the outcome
        db.executemany("UPDATE articles SET status=?, requeue=?, error=? WHERE rep_id=?", article_rows)
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
        crash_point("collect")
        led.event(
            "collected",
            f"{counts['succeeded']} ok, {counts['failed']} failed, {counts['retry']} to retry, "
            f"${tot['cost']:.4f} actual vs ${row['est_cost_usd']:.4f} estimated",
            chunk_id,
        )
    if row["output_file"] and ctx.config.delete_output_files:
        try:
            ctx.client.files.delete(name=str(row["output_file"]))
        except Exception as exc:  # the results are safe; a leftover file only costs storage for 48 h
            led.event("output_delete_failed", f"{row['output_file']}: {type(exc).__name__}", chunk_id)
    if row["batch_name"] and ctx.config.delete_collected_jobs:
        # a finished job (with inline output) would otherwise ride along in every later listing
        try:
            ctx.client.batches.delete(name=str(row["batch_name"]))
        except Exception as exc:
            led.event("job_delete_failed", f"{row['batch_name']}: {type(exc).__name__}", chunk_id)
    return counts


def make_retry_chunks(ctx: Context, *, flush: bool) -> list[str]:
    """Pack re-queued articles into new chunks (attempt + 1), each within the plan's chunk size.

    With ``flush`` false only full chunks are made, so retries do not fragment while planned work
    remains; with ``flush`` true the remainder goes out too.
    """
    led = ctx.ledger
    rows = led.query(
        "SELECT article_id, attempts, est_input_tokens, est_output_tokens, est_cost_usd FROM articles "
        "WHERE requeue=1 AND status='pending' AND article_id=rep_id ORDER BY attempts, seq"
    )
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
    with led.transaction() as db:
        wave = int(db.execute("SELECT COALESCE(MAX(wave), 0) FROM chunks").fetchone()[0]) + 1
        for g in groups:
            full = sum(x["est_input_tokens"] for x in g) * 2 > cap  # at least half a chunk is worth sending
            if not (flush or full):
                continue
            attempt = int(g[0]["attempts"]) + 1
            n = int(db.execute("SELECT COUNT(*) FROM chunks WHERE attempt=?", (attempt,)).fetchone()[0]) + 1
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
