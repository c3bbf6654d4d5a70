"""The few remote calls a run makes, on raw JSON (the SDK drops batchStats), plus error triage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Literal

from google.genai import errors as genai_errors

__all__ = [
    "batch_stats",
    "create_batch",
    "display_name",
    "error_outcome",
    "get_batch",
    "inline_responses",
    "iter_batches",
    "output_file",
    "raw_request",
    "remote_state",
    "retry_delay",
    "transient",
]


def raw_request(client: Any, method: str, path: str, body: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """One call through the SDK's own transport (auth, base URL, API version), returning parsed JSON."""
    resp = client._api_client.request(method, path, dict(body or {}))
    text = resp.body or "{}"
    data = json.loads(text)
    return data if isinstance(data, dict) else {}


def get_batch(client: Any, name: str) -> dict[str, Any]:
    """The raw batch Operation (with ``batchStats``) for ``batches/<id>``."""
    try:
        from gembatch.transport.connect import get_batch_raw
    except ImportError:
        return raw_request(client, "get", name)
    return get_batch_raw(client, name)


def iter_batches(client: Any, page_size: int = 100) -> Iterator[dict[str, Any]]:
    """Every remote batch Operation, across all pages of ``batches.list``."""
    try:
        from gembatch.transport.connect import iter_batches_raw
    except ImportError:
        token = ""
        while True:
            path = f"batches?pageSize={page_size}" + (f"&pageToken={token}" if token else "")
            page = raw_request(client, "get", path)
            yield from page.get("operations") or []
            token = page.get("nextPageToken") or ""
            if not token:
                return
    else:
        yield from iter_batches_raw(client, page_size=page_size)


def create_batch(
    client: Any,
    model: str,
    display: str,
    *,
    file_name: str | None = None,
    requests: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """``batches.create`` from an uploaded file or inline ``[{"key", "request"}]`` lines; raw Operation.

    Inline requests are sent in REST form so the request dicts reach the service unchanged.
    """
    if file_name is not None:
        job = client.batches.create(model=model, src=file_name, config={"display_name": display})
        return {"name": job.name, "metadata": {"displayName": display, "state": str(job.state or "")}}
    items = [{"request": r["request"], "metadata": {"key": r["key"]}} for r in requests or []]
    body = {"batch": {"displayName": display, "inputConfig": {"requests": {"requests": items}}}}
    model_path = model if model.startswith("models/") else f"models/{model}"
    return raw_request(client, "post", f"{model_path}:batchGenerateContent", body)


def _meta(op: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = op.get("metadata")
    return meta if isinstance(meta, Mapping) else op


def display_name(op: Mapping[str, Any]) -> str | None:
    return _meta(op).get("displayName")


def remote_state(op: Mapping[str, Any]) -> str:
    return str(_meta(op).get("state") or "")


def batch_stats(op: Mapping[str, Any]) -> dict[str, int]:
    stats = _meta(op).get("batchStats") or {}
    return {k: int(v) for k, v in stats.items() if str(v).lstrip("-").isdigit()}


def _output(op: Mapping[str, Any]) -> Mapping[str, Any]:
    out = _meta(op).get("output") or op.get("response") or {}
    return out if isinstance(out, Mapping) else {}


def output_file(op: Mapping[str, Any]) -> str | None:
    """The responses file name (``files/…``) of a finished file batch."""
    out = _output(op)
    return out.get("responsesFile") or out.get("responses_file")


def inline_responses(op: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The inline response items of a finished inline batch, or ``None`` for a file batch."""
    inl = _output(op).get("inlinedResponses")
    if inl is None:
        return None
    if isinstance(inl, Mapping):
        inl = inl.get("inlinedResponses") or []
    return list(inl)


Outcome = Literal["refused", "unknown"]


def error_outcome(exc: BaseException) -> Outcome:
    """Did a failed create certainly NOT create a job (``refused``), or might it have (``unknown``)?

    A 4xx answer is a refusal. A 5xx, a timeout or a dropped connection may come after the service
    created the job, so the caller must reconcile by display name, never blindly retry.
    """
    if isinstance(exc, genai_errors.ClientError) and exc.code not in (408,):
        return "refused"
    return "unknown"


def transient(exc: BaseException) -> bool:
    """A 5xx, 408/429 or transport failure: worth trying again later, proves nothing about state."""
    if isinstance(exc, genai_errors.ServerError):
        return True
    if isinstance(exc, genai_errors.ClientError):
        return exc.code in (408, 429)
    if isinstance(exc, OSError | TimeoutError | json.JSONDecodeError):
        return True
    return type(exc).__module__.split(".")[0] in ("httpx", "httpx2", "httpcore", "httpcore2", "h11")


_DELAY = re.compile(r"retry in ([0-9.]+)\s*s", re.IGNORECASE)


def retry_delay(exc: BaseException) -> float | None:
    """Seconds the service asked us to wait (``RetryInfo.retryDelay``, or "retry in Ns"), if any."""
    details = getattr(exc, "details", None)
    body = details if isinstance(details, Mapping) else {}
    err = body.get("error", body)
    for item in (err.get("details") if isinstance(err, Mapping) else None) or []:
        if isinstance(item, Mapping) and "retryDelay" in item:
            raw = str(item["retryDelay"]).strip().removesuffix("s")
            try:
                return float(raw)
            except ValueError:
                pass
    match = _DELAY.search(str(getattr(exc, "message", "") or ""))
    return float(match.group(1)) if match else None
