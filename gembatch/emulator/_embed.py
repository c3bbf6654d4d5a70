"""Deterministic text embeddings: texts that share words get similar vectors.

Each word is hashed to a few coordinates with a sign (feature hashing), so cosine similarity
follows word overlap, which is enough to rehearse retrieval or clustering offline. Vectors are unit
length at every ``outputDimensionality`` (the service normalises only full-size vectors).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from gembatch.emulator._tokenizer import count_tokens

__all__ = ["embed", "embedding_text"]

_WORD = re.compile(r"\w+", re.UNICODE)
_SLOTS = 4  # coordinates per word


def embedding_text(request: Mapping[str, Any]) -> str:
    """The text of an EmbedContentRequest (its title first, as the service reads it)."""
    content = request.get("content") or {}
    texts = [str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, Mapping)]
    title = request.get("title")
    return "\n".join([str(title), *texts] if title else texts)


def _truncate_words(text: str, max_tokens: int) -> list[str]:
    words = _WORD.findall(text.lower())
    if count_tokens(text) <= max_tokens:
        return words
    kept, used = [], 0
    for word in words:
        used += count_tokens(word)
        if used > max_tokens:
            break
        kept.append(word)
    return kept


def embed(request: Mapping[str, Any], dimensions: int, max_tokens: int) -> dict[str, Any]:
    """``{"values": [...]}`` for one EmbedContentRequest; input past ``max_tokens`` is ignored."""
    words = _truncate_words(embedding_text(request), max_tokens)
    task = str(request.get("taskType") or "")
    size = int(request.get("outputDimensionality") or dimensions)
    vector = [0.0] * size
    for word in words or [""]:
        digest = hashlib.blake2b(f"{task}\x00{word}".encode(), digest_size=4 * _SLOTS).digest()
        for slot in range(_SLOTS):
            code = int.from_bytes(digest[4 * slot : 4 * slot + 4], "big")
            vector[code % size] += 1.0 if code & 0x80000000 else -1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return {"values": [round(v / norm, 6) for v in vector]}
