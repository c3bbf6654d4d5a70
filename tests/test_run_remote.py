"""Error triage on create: refused vs unknown, and the server's RetryInfo."""

from __future__ import annotations

import httpx
from google.genai import errors

from gembatch.transport.gemini import error_outcome, retry_delay, transient


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
