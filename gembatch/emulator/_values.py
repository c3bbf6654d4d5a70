"""What the deterministic model says: extractive sentences, keywords, and JSON valid for a schema."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from gembatch.emulator._tokenizer import request_texts

__all__ = ["Material", "Rng", "digest", "keywords", "lead_sentences", "prompt_text", "schema_value"]

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"[^\W\d_]{4,}")
_STOP = frozenset(
    [
        "that",
        "this",
        "with",
        "from",
        "have",
        "were",
        "been",
        "their",
        "there",
        "which",
        "would",
        "about",
        "into",
        "they",
        "them",
        "than",
        "then",
        "what",
        "when",
        "will",
        "more",
        "some",
        "also",
        "only",
        "other",
        "over",
        "such",
        "very",
        "your",
        "just",
        "said",
        "most",
        "after",
        "before",
        "these",
        "those",
        "where",
        "while",
        "being",
        "could",
        "should",
        "because",
        "between",
        "through",
        "during",
        "under",
        "again",
    ]
)
_SCAN_CHARS = 4000  # extractive summaries read the lead of long inputs, keeping the model O(1)


class Rng:
    """A tiny deterministic generator fed by a request digest."""

    def __init__(self, digest: bytes):
        self._state = int.from_bytes(digest[:8], "big") or 1

    def next(self) -> int:
        self._state = (self._state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return self._state >> 11

    def uniform(self) -> float:
        return self.next() / float(1 << 53)

    def choice(self, items: list[Any]) -> Any:
        return items[self.next() % len(items)]


def digest(request: Mapping[str, Any], model: str) -> bytes:
    blob = json.dumps(request, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{model}\x00{blob}".encode()).digest()


def prompt_text(request: Mapping[str, Any]) -> str:
    contents = request.get("contents")
    texts = [t for t in request_texts({"contents": contents}) if t]
    return "\n".join(texts)


# A short instruction ending in a colon on the article's first line ("Summarise in one sentence: ..."):
# it starts with a verb of instruction or names the input; a headline ("Trams: what ...") stays.
_INSTRUCTION_WORDS = (
    r"(?:please\s+)?(?:summari[sz]e|classify|categori[sz]e|extract|translate|describe|rewrite|list|answer"
    r"|give|write|identify|tag|label|rate|score|analy[sz]e|explain|find|return|produce|create|generate"
    r"|read|detect|determine|provide|condense|shorten|paraphrase|simplify|review|evaluate|assess|output)\b"
    r"|[^.!?:\n]*\b(?:article|text|passage|document|story|input|following|below)\b"
)
_INLINE_INSTRUCTION = re.compile(rf"^(?i:{_INSTRUCTION_WORDS})[^.!?:\n]{{0,160}}:[ \t]+(?=\S)")


def _article_text(text: str) -> str:
    """The prompt without its leading instruction lines ("Summarise this article:"), if any."""
    lines = text.strip().splitlines()
    i = 0
    while i < len(lines) - 1 and (not lines[i].strip() or lines[i].rstrip().endswith(":")):
        i += 1
    rest = lines[i:]
    if rest:  # "Summarise in one sentence: <article>": the instruction shares the article's line
        rest[0] = _INLINE_INSTRUCTION.sub("", rest[0], count=1)
    return "\n".join(rest)


def lead_sentences(text: str, n: int) -> list[str]:
    head = _article_text(text[:_SCAN_CHARS])
    sentences = [s.strip() for s in _SENTENCE.split(head) if s.strip()]
    return sentences[:n] or ([head[:200]] if head else [])


def keywords(text: str, n: int) -> list[str]:
    words = [w.lower() for w in _WORD.findall(_article_text(text[:_SCAN_CHARS]))]
    counts = Counter(w for w in words if w not in _STOP)
    return [w for w, _ in counts.most_common(n)]


class Material:
    """What structured answers are built from: sentences and keywords of the prompt."""

    def __init__(self, text: str, rng: Rng):
        self.sentences = lead_sentences(text, 4) or ["No content."]
        self.keywords = keywords(text, 12) or ["none"]
        self.rng = rng


def _schema_type(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "string")
    if kind is None:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        if "enum" in schema:
            return "string"
        for key in ("anyOf", "oneOf"):
            options = schema.get(key)
            if isinstance(options, list) and options:
                return "anyof"
        return "string"
    return str(kind).lower().removeprefix("type_")


def _string_for(name: str, schema: Mapping[str, Any], mat: Material) -> str:
    fmt = str(schema.get("format", "")).lower()
    if fmt == "date-time":
        return "2026-01-01T00:00:00Z"
    if fmt == "date":
        return "2026-01-01"
    lname = name.lower()
    if any(k in lname for k in ("summary", "description", "text", "answer", "reason", "explanation")):
        return " ".join(mat.sentences[:2])
    if any(k in lname for k in ("title", "headline", "sentence", "quote")):
        return mat.sentences[0][:120]
    start = mat.rng.next() % len(mat.keywords)
    return " ".join(mat.keywords[start : start + 2]) or mat.keywords[0]


def _number(schema: Mapping[str, Any], rng: Rng, integer: bool) -> int | float:
    lo = schema.get("minimum")
    hi = schema.get("maximum")
    lo_f = float(lo) if lo is not None else (0.0 if hi is None or float(hi) >= 0 else float(hi) - 100)
    hi_f = float(hi) if hi is not None else (lo_f + (100.0 if integer else 1.0))
    if integer:
        lo_i, hi_i = int(-(-lo_f // 1)), int(hi_f // 1)
        return lo_i + rng.next() % max(1, hi_i - lo_i + 1) if hi_i >= lo_i else lo_i
    return round(lo_f + (hi_f - lo_f) * rng.uniform(), 3)


def schema_value(schema: Mapping[str, Any], mat: Material, name: str = "value", depth: int = 0) -> Any:
    """A value valid for a (camelCase) Gemini or JSON schema."""
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return mat.rng.choice(list(schema["enum"]))
    if "const" in schema:
        return schema["const"]
    kind = _schema_type(schema)
    if kind == "anyof":
        options = schema.get("anyOf") or schema.get("oneOf") or [{}]
        usable = [o for o in options if isinstance(o, Mapping) and _schema_type(o) != "null"] or [{}]
        return schema_value(usable[0], mat, name, depth)
    if kind == "object":
        props = schema.get("properties") or {}
        out: dict[str, Any] = {}
        order = list(schema.get("propertyOrdering") or []) + [
            k for k in props if k not in (schema.get("propertyOrdering") or [])
        ]
        for key in order:
            if key in props and isinstance(props[key], Mapping):
                out[key] = schema_value(props[key], mat, key, depth + 1) if depth < 8 else None
        return out
    if kind == "array":
        items = schema.get("items") or {"type": "string"}
        lo = int(schema.get("minItems", 1) or 0)
        hi = int(schema.get("maxItems", max(lo, 3)))
        n = lo + mat.rng.next() % max(1, hi - lo + 1) if hi >= lo else lo
        return [schema_value(items, mat, name, depth + 1) for _ in range(n)]
    if kind == "integer":
        return _number(schema, mat.rng, integer=True)
    if kind == "number":
        return _number(schema, mat.rng, integer=False)
    if kind == "boolean":
        return bool(mat.rng.next() & 1)
    if kind == "null":
        return None
    return _string_for(name, schema, mat)
