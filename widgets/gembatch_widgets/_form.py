"""The SubmitPanel's form helpers: which field a problem belongs to, its message, the first request."""

from __future__ import annotations

import json
import re
from typing import Any

import pandas as pd

import gembatch
from gembatch.presentation import html_blocks as hb

__all__ = ["INVALID_CSS", "error_html", "field_problem", "request_preview", "schema_dict"]

#: Highlights the field with a problem (the class is added to that field's widget).
INVALID_CSS = (
    "<style>.gb-invalid input,.gb-invalid textarea,.gb-invalid select"
    "{border-color:#e53935!important;box-shadow:0 0 0 1px #e53935}</style>"
)

# Which input a problem belongs to: the error's ``field``, else the words its message starts with.
_FIELDS = {
    "inputs": "source",
    "input": "source",
    "articles": "source",
    "prompt": "prompt",
    "system_instruction": "system_instruction",
    "system": "system_instruction",
    "schema": "schema",
    "output schema": "schema",
    "response schema": "schema",
    "budget_usd": "budget",
    "budget": "budget",
    "model": "model",
    "tier": "tier",
    "expected_output_tokens": "expected_output",
    "run_dir": "run_dir",
}


def _clean(message: str) -> str:
    """One readable sentence: no pydantic banner, type tags or documentation links."""
    lines = [ln.strip() for ln in str(message).splitlines() if ln.strip()]
    lines = [ln for ln in lines if not re.match(r"(\d+ validation errors? for|For further information)", ln)]
    text = " ".join(lines)
    return re.sub(r"\s*\[type=[^\]]*\]", "", text).strip() or "invalid value"


def field_problem(exc: BaseException) -> tuple[str | None, str]:
    """``(field, message)``: the form field a problem belongs to (``None``: the form as a whole)."""
    message = _clean(str(exc))
    field = getattr(exc, "field", None)
    if field in _FIELDS:
        return _FIELDS[str(field)], message
    lowered = message.lower()
    for words in sorted(_FIELDS, key=len, reverse=True):
        if lowered.startswith(words):
            return _FIELDS[words], message
    if "over budget" in lowered or "exceeds the budget" in lowered:
        return "budget", message
    return None, message


def _shorten(value: Any, limit: int) -> Any:
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + f"… ({len(value) - limit:,} more characters)"
    if isinstance(value, dict):
        return {k: _shorten(v, limit) for k, v in value.items()}
    if isinstance(value, list):
        return [_shorten(v, limit) for v in value]
    return value


def request_preview(articles: pd.DataFrame | None, plan: gembatch.Plan | None, limit: int = 400) -> str:
    """The first request line as it will be sent (long texts cut), in a ``<pre>`` block."""
    if articles is None or plan is None or articles.empty:
        return ""
    try:
        line = next(gembatch.iter_request_lines(articles.head(1), plan.spec))
    except (gembatch.GembatchError, StopIteration):
        return ""
    text = json.dumps(_shorten(line, limit), indent=1, ensure_ascii=False)
    return (
        f'<details class="{hb.NO_MATH}"><summary style="cursor:pointer">first request, as it will be sent'
        f'</summary><pre style="white-space:pre-wrap;max-height:240px;overflow:auto;font-size:12px">'
        f"{hb.esc(text, 6000)}</pre></details>"
    )


def schema_dict(schema: Any) -> dict[str, Any]:
    """A JSON-schema dict from a dict or a pydantic model (the form shows it as JSON text)."""
    if isinstance(schema, dict):
        return schema
    from gembatch.inputs.request_lines import schema_from_model

    return schema_from_model(schema)


def error_html(message: str) -> str:
    """A problem in red (escaped)."""
    return f'<span style="color:#e53935">{hb.esc(message, 400)}</span>'
