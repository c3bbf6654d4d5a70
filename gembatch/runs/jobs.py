"""Single batch jobs without a run directory: submit one, read its status, read its results."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from gembatch.runs.response_lines import LineResult, iter_jsonl, parse_lines
from gembatch.transport import gemini as remote

__all__ = ["job_results", "job_status", "submit_job"]

INLINE_LIMIT_BYTES = 19_000_000


def submit_job(
    client: Any,
    articles_or_texts: Any,
    *,
    model: str,
    prompt: str = "{text}",
    display_name: str,
    system_instruction: str | None = None,
    schema: Any = None,
) -> str:
    """Submit one batch job (inline when under ~19 MB, else from an uploaded file); returns its name.

    Unlike :class:`gembatch.Run` nothing is recorded locally, so a lost response cannot be
    reconciled: prefer runs for anything that matters.
    """
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.request_lines import RequestSpec, iter_request_lines, write_jsonl
    from gembatch.runs.submit import JSONL_MIME

    source = articles_or_texts
    articles = (
        source if isinstance(source, pd.DataFrame) and "est_tokens" in source else read_articles(source)
    )
    spec = RequestSpec.create(model, prompt, schema=schema, system_instruction=system_instruction)
    buf = io.BytesIO()
    write_jsonl(iter_request_lines(articles, spec), buf)
    if buf.tell() < INLINE_LIMIT_BYTES:
        lines = [json.loads(line) for line in buf.getvalue().splitlines()]
        op = remote.create_batch(client, spec.model, display_name, requests=lines)
    else:
        buf.seek(0)
        up = client.files.upload(file=buf, config={"mime_type": JSONL_MIME, "display_name": display_name})
        op = remote.create_batch(client, spec.model, display_name, file_name=str(up.name))
    return str(op["name"])


def job_status(client: Any, name: str) -> dict[str, Any]:
    """State, request counts (raw ``batchStats``, which the SDK drops) and times of one job."""
    op = remote.get_batch(client, name)
    meta = op.get("metadata") or {}
    return {
        "name": op.get("name", name),
        "display_name": remote.display_name(op),
        "state": remote.remote_state(op),
        "model": meta.get("model"),
        **{f"{k}": v for k, v in remote.batch_stats(op).items()},
        "create_time": meta.get("createTime"),
        "update_time": meta.get("updateTime"),
        "end_time": meta.get("endTime"),
        "output_file": remote.output_file(op),
    }


def _frame(results: list[LineResult]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "status": pd.array([r.status for r in results], dtype="string"),
            "output_text": pd.array([r.output_text for r in results], dtype="string"),
            "prompt_tokens": pd.array([r.prompt_tokens for r in results], dtype="Int64"),
            "output_tokens": pd.array([r.output_tokens for r in results], dtype="Int64"),
            "thoughts_tokens": pd.array([r.thoughts_tokens for r in results], dtype="Int64"),
            "finish_reason": pd.array([r.finish_reason for r in results], dtype="string"),
            "error": pd.array([r.error for r in results], dtype="string"),
        },
        index=pd.Index([r.key for r in results], name="key", dtype="string"),
    )


def job_results(client: Any, name: str, schema: Any = None) -> pd.DataFrame:
    """The finished job's lines keyed by request key (never by position), classified."""
    op = remote.get_batch(client, name)
    file_name = remote.output_file(op)
    if file_name:
        records = iter_jsonl(bytes(client.files.download(file=file_name)))
        return _frame(list(parse_lines(records, schema)))
    return _frame(list(parse_lines(remote.inline_responses(op) or [], schema)))
