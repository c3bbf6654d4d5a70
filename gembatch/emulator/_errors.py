"""Google-style API errors: ``{"error": {"code", "message", "status", "details"}}`` bodies."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["STATUS_NAMES", "ApiError", "error_body", "quota_error"]

STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

DEFAULT_MESSAGES = {
    429: "Resource has been exhausted (e.g. check quota).",
    500: "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
    503: "The model is overloaded. Please try again later.",
    504: "The request timed out. Please try again.",
    400: "Request contains an invalid argument.",
}


class ApiError(Exception):
    """An error reply of the emulated API; ``body()`` is what goes on the wire."""

    def __init__(
        self,
        code: int,
        message: str | None = None,
        *,
        status: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.code = code
        self.message = message or DEFAULT_MESSAGES.get(code, "Error")
        self.status = status or STATUS_NAMES.get(code, "UNKNOWN")
        self.details = details or []
        self.headers = headers or {}
        super().__init__(f"{code} {self.status}: {self.message}")

    def body(self) -> bytes:
        return json.dumps(error_body(self.code, self.message, self.status, self.details)).encode()


def error_body(
    code: int, message: str, status: str | None = None, details: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The ``{"error": ...}`` object; also used for failed lines in batch output."""
    err: dict[str, Any] = {"code": code, "message": message, "status": status or STATUS_NAMES.get(code, "")}
    if details:
        err["details"] = details
    return {"error": err}


def invalid(field: str, problem: str) -> ApiError:
    """400 INVALID_ARGUMENT naming the offending field, with a BadRequest detail."""
    return ApiError(
        400,
        f"Invalid value at '{field}': {problem}",
        details=[
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": problem}],
            }
        ],
    )


def not_found(what: str) -> ApiError:
    return ApiError(404, f"{what} was not found.")


def quota_error(metric: str, quota_id: str, limit: int, model: str | None, retry_s: float) -> ApiError:
    """429 RESOURCE_EXHAUSTED shaped like the real service's, with QuotaFailure and RetryInfo."""
    dims = {"location": "global"}
    if model:
        dims["model"] = model
    message = (
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits.\n"
        f"* Quota exceeded for metric: generativelanguage.googleapis.com/{metric}, limit: {limit}"
        + (f", model: {model}" if model else "")
        + f"\nPlease retry in {retry_s:.3f}s."
    )
    details: list[dict[str, Any]] = [
        {
            "@type": "type.googleapis.com/google.rpc.QuotaFailure",
            "violations": [
                {
                    "quotaMetric": f"generativelanguage.googleapis.com/{metric}",
                    "quotaId": quota_id,
                    "quotaDimensions": dims,
                    "quotaValue": str(limit),
                }
            ],
        },
        {
            "@type": "type.googleapis.com/google.rpc.Help",
            "links": [
                {
                    "description": "Learn more about Gemini API quotas",
                    "url": "https://ai.google.dev/gemini-api/docs/rate-limits",
                }
            ],
        },
        # a Duration: fractional seconds are allowed, so a sped-up clock asks for a sped-up wait
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{max(retry_s, 0.0):.3f}s"},
    ]
    return ApiError(429, message, details=details)
