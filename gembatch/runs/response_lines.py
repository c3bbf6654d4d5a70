"""Parse batch output (JSONL file or inline responses) into classified per-key results."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "LineResult",
    "classify_error",
    "iter_jsonl",
    "parse_inline",
    "parse_line",
    "parse_lines",
    "validate",
]

Status = Literal["succeeded", "retryable", "failed"]

#: google.rpc codes / HTTP statuses worth another attempt.
RETRYABLE_CODES = frozenset({408, 429, 500, 502, 503, 504})
RETRYABLE_STATUSES = frozenset(
    {"RESOURCE_EXHAUSTED", "UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "ABORTED", "UNKNOWN"}
)
#: google.rpc numeric codes (not HTTP) that some error objects carry instead.
_RPC_RETRYABLE = frozenset({2, 4, 8, 10, 13, 14})
#: finish reasons that mean the content was blocked: retrying the same request will not help.
BLOCKED_FINISH = frozenset(
    {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
)


@dataclass(frozen=True, slots=True)
class LineResult:
    """One output line: its key, classification, text, parsed JSON (schema runs) and usage."""

    key: str
    status: Status
    output_text: str | None = None
    parsed: dict[str, Any] | None = None
    prompt_tokens: int = 0
    output_tokens: int = 0
    thoughts_tokens: int = 0
    finish_reason: str | None = None
    error: str | None = None


def classify_error(error: Mapping[str, Any]) -> tuple[Status, str]:
    """(``retryable`` | ``failed``, reason) for a ``google.rpc.Status``-like error object."""
    code = error.get("code")
    status = str(error.get("status") or "")
    message = str(error.get("message") or "").strip()
    reason = (
        " ".join(str(p) for p in (code, status, message) if p not in (None, "")) or "error without details"
    )
    try:
        icode = int(code) if code is not None else None
    except (TypeError, ValueError):
        icode = None
    if status in RETRYABLE_STATUSES or icode in RETRYABLE_CODES or (not status and icode in _RPC_RETRYABLE):
        return "retryable", reason
    return "failed", reason


def validate(value: Any, schema: Mapping[str, Any] | None) -> str | None:
    """Why ``value`` does not match a Gemini ``Schema`` dict, or ``None`` when it does."""
    if not schema:
        return None
    kind = str(schema.get("type", "")).upper()
    if value is None:
        return None if schema.get("nullable") else "null where a value is required"
    checks: dict[str, tuple[type, ...]] = {
        "STRING": (str,),
        "INTEGER": (int,),
        "NUMBER": (int, float),
        "BOOLEAN": (bool,),
        "ARRAY": (list,),
        "OBJECT": (dict,),
    }
    wrong_bool = kind in ("INTEGER", "NUMBER") and isinstance(value, bool)
    if kind in checks and (not isinstance(value, checks[kind]) or wrong_bool):
        return f"expected {kind.lower()}, got {type(value).__name__}"
    enum = schema.get("enum")
    if enum and value not in enum:
        return f"{value!r} is not one of {list(enum)}"
    if kind == "ARRAY":
        item = schema.get("items")
        for i, v in enumerate(value):
            why = validate(v, item)
            if why:
                return f"[{i}]: {why}"
    if kind == "OBJECT":
        props = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                return f"missing required field {name!r}"
        for name, sub in props.items():
            if name in value:
                why = validate(value[name], sub)
                if why:
                    return f"{name}: {why}"
    return None


def _int(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def parse_response(key: str, response: Mapping[str, Any], schema: Mapping[str, Any] | None) -> LineResult:
    """Classify one ``GenerateContentResponse``; usage is kept whatever the outcome (it is billed)."""
    usage = response.get("usageMetadata") or response.get("usage_metadata") or {}
    tokens: dict[str, Any] = {
        "prompt_tokens": _int(usage.get("promptTokenCount", usage.get("prompt_token_count"))),
        "output_tokens": _int(usage.get("candidatesTokenCount", usage.get("candidates_token_count"))),
        "thoughts_tokens": _int(usage.get("thoughtsTokenCount", usage.get("thoughts_token_count"))),
    }
    feedback = response.get("promptFeedback") or {}
    candidates = response.get("candidates") or []
    if not candidates:
        block = feedback.get("blockReason")
        if block:
            return LineResult(key, "failed", error=f"prompt blocked: {block}", finish_reason=block, **tokens)
        return LineResult(key, "retryable", error="response without candidates", **tokens)
    cand = candidates[0]
    finish = cand.get("finishReason") or cand.get("finish_reason")
    parts = (cand.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    if finish in BLOCKED_FINISH:
        return LineResult(
            key, "failed", text or None, None, finish_reason=finish, error=f"blocked: {finish}", **tokens
        )
    if schema is None:
        return LineResult(key, "succeeded", text, None, finish_reason=finish, **tokens)
    try:
        value = json.loads(text)
    except ValueError:
        why = f"output is not valid JSON (finish reason {finish})"
        return LineResult(key, "retryable", text, None, finish_reason=finish, error=why, **tokens)
    invalid = validate(value, schema)
    if invalid is not None or not isinstance(value, dict):
        invalid = invalid or "output JSON is not an object"
        return LineResult(
            key, "retryable", text, None, finish_reason=finish, error=f"schema: {invalid}", **tokens
        )
    return LineResult(key, "succeeded", text, value, finish_reason=finish, **tokens)


def parse_line(obj: Mapping[str, Any], schema: Mapping[str, Any] | None) -> LineResult | None:
    """One output record (``{"key", "response"|"error"}``); ``None`` when it carries no key."""
    key = obj.get("key")
    if key is None:
        key = (obj.get("metadata") or {}).get("key")
    if key is None:
        return None
    key = str(key)
    if obj.get("error"):
        status, reason = classify_error(obj["error"])
        return LineResult(key, status, error=reason)
    response = obj.get("response")
    if not isinstance(response, Mapping):
        return LineResult(key, "retryable", error="line has neither response nor error")
    return parse_response(key, response, schema)


def iter_jsonl(data: bytes | Iterable[bytes]) -> Iterator[dict[str, Any] | None]:
    """Decode JSONL lazily; a corrupt line yields ``None`` (its key then counts as missing)."""
    # a line at a time: a job's output is never copied into a list of all its lines
    lines: Iterable[bytes] = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    for raw in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError:
            yield None
            continue
        yield obj if isinstance(obj, dict) else None


def parse_lines(
    records: Iterable[Mapping[str, Any] | None], schema: Mapping[str, Any] | None
) -> Iterator[LineResult]:
    """Classify each record; records without a key are skipped (their article shows up as missing)."""
    for obj in records:
        if obj is None:
            continue
        res = parse_line(obj, schema)
        if res is not None:
            yield res


def parse_inline(
    responses: Iterable[Mapping[str, Any]], schema: Mapping[str, Any] | None
) -> Iterator[LineResult]:
    """Inline responses (``{"response"|"error", "metadata": {"key"}}``), matched by key, never order."""
    return parse_lines(responses, schema)
