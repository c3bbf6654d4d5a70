"""Single batch jobs without a run directory: submit one, read its status, read its results."""

from __future__ import annotations

import io
import json
from typing import Any

import pandas as pd

from gembatch.errors import BackendError, GembatchError, JobNotFound, ServiceUnreachable
from gembatch.runs.response_lines import LineResult, iter_jsonl, parse_lines
from gembatch.transport.connect import as_transport
from gembatch.transport.names import batch_name

__all__ = ["job_results", "job_status", "service_error", "submit_job"]

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
    reconciled: prefer runs for anything that matters. ``client``: a google-genai client or a
    transport.
    """
    from gembatch.inputs.articles import read_articles
    from gembatch.inputs.request_lines import RequestSpec, iter_request_lines, write_jsonl

    source = articles_or_texts
    articles = (
        source if isinstance(source, pd.DataFrame) and "est_tokens" in source else read_articles(source)
    )
    spec = RequestSpec.create(model, prompt, schema=schema, system_instruction=system_instruction)
    buf = io.BytesIO()
    write_jsonl(iter_request_lines(articles, spec), buf)
    transport = as_transport(client)
    try:
        if buf.tell() < INLINE_LIMIT_BYTES:
            lines = [json.loads(line) for line in buf.getvalue().splitlines()]
            job = transport.create(spec.model, display_name, requests=lines)
        else:
            buf.seek(0)
            file_name = transport.upload(buf, display_name)
            job = transport.create(spec.model, display_name, file_name=file_name)
    except Exception as exc:
        raise service_error(transport, exc, f"create the batch job {display_name!r}") from None
    return job.name


def _get(transport: Any, name: str) -> Any:
    """The job, or one clear error: unknown to this project, refused, or the service out of reach."""
    try:
        return transport.get(name)
    except Exception as exc:
        failure = transport.classify(exc)
        if failure.not_found:
            raise JobNotFound(
                f"no batch job {name} in this project: check the name (a job is visible only to the "
                "project of the API key that created it)",
                field="job",
            ) from None
        raise service_error(transport, exc, f"read {name}") from None


def service_error(transport: Any, exc: BaseException, doing: str) -> GembatchError:
    """One clear error for a failed call: the service refused it, or could not be reached."""
    failure = transport.classify(exc)
    if failure.answered:
        return BackendError(f"the service refused to {doing}: {failure.summary()}")
    return ServiceUnreachable(
        f"cannot reach the service to {doing}: {failure.summary()} "
        "(a proxy in the way? NO_PROXY=127.0.0.1,localhost for a local emulator)"
    )


def job_status(client: Any, name: str) -> dict[str, Any]:
    """State, request counts (raw ``batchStats``, which the SDK drops) and times of one job."""
    name = batch_name(name)  # checked before any request carries it
    job = _get(as_transport(client), name)
    return {
        "name": job.name or name,
        "display_name": job.display_name,
        "state": str(job.state),
        "model": job.model,
        **dict(job.stats),
        "create_time": job.create_time,
        "update_time": job.update_time,
        "end_time": job.end_time,
        "output_file": job.output_file,
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
    transport = as_transport(client)
    name = batch_name(name)
    job = _get(transport, name)
    if job.output_file:
        records = iter_jsonl(transport.download(job.output_file))
        return _frame(list(parse_lines(records, schema)))
    return _frame(list(parse_lines(job.inline_responses or (), schema)))
