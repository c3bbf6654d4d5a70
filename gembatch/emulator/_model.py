"""The deterministic "model": GenerateContentResponses (thoughts, candidates, usage) and stream chunks."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Mapping
from typing import Any

from gembatch.emulator._thinking import NONE, Plan, thought_summary, thought_tokens
from gembatch.emulator._tokenizer import (
    TOKEN_PATTERN,
    count_tokens,
    prompt_token_details,
    request_prompt_tokens,
)
from gembatch.emulator._values import (
    Material,
    Rng,
    digest,
    keywords,
    lead_sentences,
    prompt_text,
    schema_value,
)

__all__ = ["generate", "stream_chunks"]

_CHUNK_TOKENS = 24  # tokens of answer text per streamed chunk (the service sends a few dozen)
_FIRST_CHUNK_TOKENS = 4  # the first chunk comes fast and short


def _truncate(text: str, max_tokens: int) -> str:
    # Cut at the character where the token budget runs out.
    for kept, match in enumerate(TOKEN_PATTERN.finditer(text), 1):
        if kept > max_tokens:
            return text[: match.start()].rstrip()
    return text


def _enum_values(schema: Any) -> list[Any]:
    if isinstance(schema, Mapping):
        values = schema.get("enum")
        if isinstance(values, list) and values:
            return values
    return []


def _answer(config: Mapping[str, Any], text_in: str, rng: Rng, index: int) -> str:
    """The text of candidate ``index`` (candidate 0 is the canonical answer)."""
    schema = config.get("responseSchema") or config.get("responseJsonSchema")
    mime = str(config.get("responseMimeType") or "")
    if mime == "text/x.enum":
        # The service answers the bare enum value, not a JSON string.
        values = _enum_values(schema)
        return str(rng.choice(values)) if values else ""
    if mime == "application/json" or schema:
        mat = Material(text_in, rng)
        if index:  # other candidates lead with other sentences
            shift = index % len(mat.sentences)
            mat.sentences = mat.sentences[shift:] + mat.sentences[:shift]
        value = (
            schema_value(schema, mat)
            if isinstance(schema, Mapping)
            else {"summary": " ".join(mat.sentences[:2]), "keywords": mat.keywords[:5]}
        )
        return json.dumps(value, ensure_ascii=False)
    sentences = lead_sentences(text_in, 3 + index)[index:] or lead_sentences(text_in, 3)
    words = keywords(text_in, 5 + index)[index:]
    text = " ".join(sentences)
    if words:
        text += "\nKeywords: " + ", ".join(words) + "."
    return text


def generate(
    request: Mapping[str, Any],
    model: str,
    prompt_tokens: int | None = None,
    *,
    thinking: Plan = NONE,
    thinking_factor: float = 1.0,
    candidates: int = 1,
) -> dict[str, Any]:
    """A GenerateContentResponse for a camelCase request; the same request gives the same reply.

    Thoughts (``thinking``) are billed as output and, as on the service, spend ``maxOutputTokens``
    before the answer does: a small limit on a thinking model can leave no answer at all.
    """
    request_digest = digest(request, model)
    config = request.get("generationConfig") or {}
    if not isinstance(config, Mapping):
        config = {}
    if prompt_tokens is None:
        prompt_tokens = request_prompt_tokens(request)
    text_in = prompt_text(request)
    max_out = config.get("maxOutputTokens")
    urge = int.from_bytes(request_digest[25:29], "big") / float(1 << 32)
    thoughts = thought_tokens(thinking_factor, thinking, prompt_tokens, urge)
    if max_out is not None:
        thoughts = min(thoughts, int(max_out))
    room = None if max_out is None else int(max_out) - thoughts
    out_candidates = []
    total_out = 0
    for index in range(max(1, candidates)):
        rng = Rng(request_digest if index == 0 else digest({"c": index, "r": request}, model))
        text = _answer(config, text_in, rng, index)
        finish = "STOP"
        if room is not None and count_tokens(text) > room:
            text = _truncate(text, max(room, 0))
            finish = "MAX_TOKENS"
        total_out += count_tokens(text)
        parts: list[dict[str, Any]] = []
        if thinking.include_thoughts and thoughts:
            words = keywords(text_in, 3)
            first = (lead_sentences(text_in, 1) or [""])[0]
            parts.append({"text": thought_summary(words, first), "thought": True})
        if text:
            parts.append({"text": text})
        content: dict[str, Any] = {"parts": parts, "role": "model"} if parts else {"role": "model"}
        out_candidates.append({"content": content, "finishReason": finish, "index": index})
    usage: dict[str, Any] = {"promptTokenCount": prompt_tokens}
    if total_out:
        usage["candidatesTokenCount"] = total_out
    if thoughts:
        usage["thoughtsTokenCount"] = thoughts
    usage["totalTokenCount"] = prompt_tokens + total_out + thoughts
    usage["promptTokensDetails"] = prompt_token_details(request, prompt_tokens)
    if total_out:
        usage["candidatesTokensDetails"] = [{"modality": "TEXT", "tokenCount": total_out}]
    return {
        "candidates": out_candidates,
        "usageMetadata": usage,
        "modelVersion": model,
        "responseId": base64.urlsafe_b64encode(request_digest[8:25]).decode().rstrip("="),
    }


def stream_chunks(response: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``response`` cut into the chunks ``streamGenerateContent`` sends, in order.

    Thoughts come first, then the answer a few dozen tokens at a time; every chunk carries the
    usage so far and the last one the finish reason, as on the service. Joined, the chunks' texts
    equal the whole response's.
    """
    usage = dict(response.get("usageMetadata") or {})
    head = {k: v for k, v in response.items() if k not in ("candidates", "usageMetadata")}
    # Per candidate: a list of (part, is_thought) pieces.
    pieces: list[list[dict[str, Any]]] = []
    for cand in response.get("candidates") or []:
        mine: list[dict[str, Any]] = []
        for part in (cand.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                mine.append(part)
                continue
            text = str(part.get("text", ""))
            tokens = list(TOKEN_PATTERN.finditer(text))
            marks = range(_FIRST_CHUNK_TOKENS, len(tokens), _CHUNK_TOKENS)
            cuts = [tokens[i].start() for i in marks]
            bounds = [0, *cuts, len(text)]
            mine.extend({"text": text[a:b]} for a, b in itertools.pairwise(bounds) if b > a)
        pieces.append(mine)
    steps = max((len(p) for p in pieces), default=0) or 1
    chunks: list[dict[str, Any]] = []
    for step in range(steps):
        last = step == steps - 1
        cands = []
        for index, cand in enumerate(response.get("candidates") or []):
            part = pieces[index][step] if step < len(pieces[index]) else None
            entry: dict[str, Any] = {"content": {"parts": [part] if part else [], "role": "model"}}
            if last:
                entry["finishReason"] = cand.get("finishReason", "STOP")
            entry["index"] = index
            cands.append(entry)
        chunk_usage = (
            usage
            if last
            else {k: v for k, v in usage.items() if k in ("promptTokenCount", "promptTokensDetails")}
            | {"totalTokenCount": usage.get("promptTokenCount", 0)}
        )
        chunks.append({"candidates": cands, "usageMetadata": chunk_usage, **head})
    return chunks
