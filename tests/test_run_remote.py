"""The Gemini transport's reading of the wire: batch resources, error triage, the server's RetryInfo."""

from __future__ import annotations

import httpx
from google.genai import errors

from gembatch.transport.base import JobState
from gembatch.transport.gemini import classify, parse_job


def retry_delay(exc: BaseException) -> float | None:
    return classify(exc).retry_after_s


def error_outcome(exc: BaseException) -> str:
    return "refused" if classify(exc).refused else "unknown"


def transient(exc: BaseException) -> bool:
    return classify(exc).transient


def _api_error(code: int, body: dict) -> errors.APIError:
    response = httpx.Response(code, json=body)
    cls = errors.ClientError if code < 500 else errors.ServerError
    return cls(code, body, response)


def test_retry_info_is_honoured():
    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "message": "quota",
            "details": [
                {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "31s"},
            ],
        }
    }
    assert retry_delay(_api_error(429, body)) == 31.0


def test_retry_in_message_is_a_fallback():
    body = {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "message": "Please retry in 44.2s."}}
    assert retry_delay(_api_error(429, body)) == 44.2
    assert retry_delay(_api_error(429, {"error": {"code": 429, "message": "no hint"}})) is None


def test_a_4xx_is_a_refusal_but_5xx_and_transport_errors_are_unknown():
    assert error_outcome(_api_error(429, {"error": {"code": 429}})) == "refused"
    assert error_outcome(_api_error(400, {"error": {"code": 400}})) == "refused"
    assert error_outcome(_api_error(500, {"error": {"code": 500}})) == "unknown"
    assert error_outcome(_api_error(503, {"error": {"code": 503}})) == "unknown"
    assert error_outcome(httpx.RemoteProtocolError("server disconnected")) == "unknown"
    assert error_outcome(TimeoutError()) == "unknown"


def test_transient():
    assert transient(_api_error(503, {"error": {"code": 503}}))
    assert transient(_api_error(429, {"error": {"code": 429}}))
    assert not transient(_api_error(400, {"error": {"code": 400}}))
    assert transient(ConnectionResetError())
    assert not transient(ValueError("bug"))


def test_a_refusal_is_permanent_unless_it_is_a_quota():
    assert classify(_api_error(400, {"error": {"code": 400}})).permanent_refusal
    assert not classify(_api_error(429, {"error": {"code": 429}})).permanent_refusal
    assert not classify(_api_error(408, {"error": {"code": 408}})).refused
    missing = classify(_api_error(404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "gone"}}))
    assert missing.not_found
    assert missing.summary() == "404 NOT_FOUND: gone"
    assert classify(TimeoutError("slow")).summary() == "TimeoutError: slow"


def test_a_real_batch_resource_becomes_a_typed_status():
    op = {
        "name": "batches/4m855v7q30kc",
        "metadata": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
            "model": "models/gemini-2.5-flash",
            "displayName": "gembatch/r-1/c00001/1",
            "createTime": "2025-12-10T18:27:01.407650525Z",
            "endTime": "2025-12-10T18:40:00Z",
            "batchStats": {"requestCount": "3", "successfulRequestCount": "2", "failedRequestCount": "1"},
            "state": "BATCH_STATE_SUCCEEDED",
            "output": {"responsesFile": "files/batch-abc"},
        },
        "done": True,
    }
    job = parse_job(op)
    assert job.name == "batches/4m855v7q30kc"
    assert job.display_name == "gembatch/r-1/c00001/1"
    assert job.state is JobState.SUCCEEDED
    assert job.state.done
    assert dict(job.stats) == {"requestCount": 3, "successfulRequestCount": 2, "failedRequestCount": 1}
    assert job.output_file == "files/batch-abc"
    assert job.inline_responses is None
    assert job.end_time == "2025-12-10T18:40:00Z"


def test_inline_output_failed_jobs_and_unknown_states():
    items = [{"response": {"candidates": []}, "metadata": {"key": "a"}}]
    op = {
        "name": "batches/x",
        "metadata": {
            "state": "JOB_STATE_FAILED",
            "output": {"inlinedResponses": {"inlinedResponses": items}},
        },
        "error": {"code": 13, "message": "internal"},
    }
    job = parse_job(op)
    assert job.state is JobState.FAILED  # the SDK's JOB_STATE_ spelling is accepted too
    assert job.inline_responses == tuple(items)
    assert job.error == "internal"
    assert (
        parse_job({"name": "batches/y", "metadata": {"state": "SOMETHING_NEW"}}).state is JobState.UNSPECIFIED
    )
    assert not JobState.RUNNING.done  # never guess "done"
