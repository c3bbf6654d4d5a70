"""A deterministic tokenizer: about four characters per token on English text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["count_tokens", "prompt_token_details", "request_prompt_tokens", "request_texts"]

# Letters in runs of up to five make one token each; every digit and every other visible
# character is a token of its own. English averages ~4.2 characters (spaces included) per token.
TOKEN_PATTERN = re.compile(r"[^\W\d_]{1,5}|\S")
# What a non-text part (image, file, audio) costs, as Gemini bills a picture.
MEDIA_PART_TOKENS = 258


def count_tokens(text: str) -> int:
    """The number of tokens in ``text``; the same text always gives the same count.

    Examples
    --------
    >>> count_tokens("Hello, world!")
    4
    """
    return len(TOKEN_PATTERN.findall(text))


def _part_text(part: Mapping[str, Any]) -> str | None:
    """The text a part puts in the prompt; None for a media part (an image, a file...)."""
    text = part.get("text")
    if isinstance(text, str):
        return text
    if "inlineData" in part or "fileData" in part:
        return None
    for name, inner in (("functionCall", "args"), ("functionResponse", "response")):
        call = part.get(name)
        if isinstance(call, Mapping):
            return f"{call.get('name', '')} {json.dumps(call.get(inner) or {}, sort_keys=True)}"
    for name, inner in (("executableCode", "code"), ("codeExecutionResult", "output")):
        block = part.get(name)
        if isinstance(block, Mapping):
            return str(block.get(inner) or "")
    return ""  # a thought signature, tool metadata: nothing the prompt pays for


def _parts_texts(content: Any) -> Iterable[str | None]:
    if isinstance(content, str):
        yield content
        return
    if not isinstance(content, Mapping):
        return
    parts = content.get("parts")
    if not isinstance(parts, list):
        return
    for part in parts:
        if isinstance(part, Mapping):
            yield _part_text(part)
        elif isinstance(part, str):
            yield part


def request_texts(request: Mapping[str, Any]) -> Iterable[str | None]:
    """Every prompt text of a camelCase GenerateContentRequest (None for a media part)."""
    system = request.get("systemInstruction")
    if system is not None:
        yield from _parts_texts(system)
    contents = request.get("contents")
    if isinstance(contents, Mapping | str):
        contents = [contents]
    if isinstance(contents, list):
        for content in contents:
            yield from _parts_texts(content)


def request_prompt_tokens(request: Mapping[str, Any]) -> int:
    """Prompt tokens of a request: its contents plus its system instruction."""
    total = 0
    for text in request_texts(request):
        total += MEDIA_PART_TOKENS if text is None else count_tokens(text)
    return total


def _media_modality(part: Mapping[str, Any]) -> str:
    blob = part.get("inlineData") or part.get("fileData") or {}
    mime = str(blob.get("mimeType") or "") if isinstance(blob, Mapping) else ""
    kind = mime.split("/", 1)[0].upper()
    if kind in ("IMAGE", "AUDIO", "VIDEO"):
        return kind
    return "DOCUMENT" if mime == "application/pdf" else "TEXT"


def prompt_token_details(request: Mapping[str, Any], total: int | None = None) -> list[dict[str, Any]]:
    """``promptTokensDetails``: the prompt's tokens per modality (text, image, audio...).

    ``total`` (the prompt tokens, when already counted) spares counting a text-only prompt again.
    """
    counts: dict[str, int] = {}
    contents = request.get("contents")
    system = request.get("systemInstruction")
    every = [system, *contents] if isinstance(contents, list) else [system]
    if total is not None and not any(
        isinstance(p, Mapping) and ("inlineData" in p or "fileData" in p)
        for c in every
        if isinstance(c, Mapping)
        for p in c.get("parts") or []
    ):
        return [{"modality": "TEXT", "tokenCount": total}]
    for content in every:
        parts = content.get("parts") if isinstance(content, Mapping) else None
        for part in parts if isinstance(parts, list) else []:
            if not isinstance(part, Mapping):
                continue
            text = _part_text(part)
            if text is None:
                kind = _media_modality(part)
                counts[kind] = counts.get(kind, 0) + MEDIA_PART_TOKENS
            elif text:
                counts["TEXT"] = counts.get("TEXT", 0) + count_tokens(text)
    return [{"modality": k, "tokenCount": v} for k, v in sorted(counts.items())] or [
        {"modality": "TEXT", "tokenCount": 0}
    ]
