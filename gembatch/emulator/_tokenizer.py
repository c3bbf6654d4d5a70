"""A deterministic tokenizer: about four characters per token on English text."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["count_tokens", "request_prompt_tokens", "request_texts"]

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
            text = part.get("text")
            yield text if isinstance(text, str) else None
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
