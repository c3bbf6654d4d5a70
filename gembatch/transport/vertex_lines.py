"""Vertex AI batch line formats: gembatch's ``{"key", "request"}`` lines to Vertex input and back.

Vertex batch input lines carry no id (``{"request": GenerateContentRequest}``); gembatch puts each
line's key in the request's ``labels`` (label values allow only lowercase letters, digits, ``_``
and ``-``, up to 63 characters, so other keys travel base32-encoded over several labels) and reads
it back from the request the service echoes in every prediction line.

>>> line = to_vertex_line({"key": "Article 7", "request": {"contents": []}})
>>> key_of(line["request"])
'Article 7'
>>> to_vertex_line({"key": "a-1", "request": {"contents": []}})["request"]["labels"]
{'gembatch_key': 'a-1'}
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = [
    "KEY_LABEL",
    "from_prediction",
    "iter_predictions",
    "key_labels",
    "key_of",
    "prediction_result",
    "to_vertex_line",
    "vertex_jsonl",
]

KEY_LABEL = "gembatch_key"
_PART = "gembatch_k"  # gembatch_k0, gembatch_k1, …: base32 pieces of a key that is not a label value
_LABEL_VALUE = re.compile(r"[a-z0-9_-]{1,63}")
_PIECE = 63
_MAX_PIECES = 32  # a resource holds at most 64 labels: keep room for the caller's own


def key_labels(key: str) -> dict[str, str]:
    """The labels that carry ``key``: itself when it is a valid label value, else base32 pieces."""
    if _LABEL_VALUE.fullmatch(key):
        return {KEY_LABEL: key}
    encoded = base64.b32encode(key.encode()).decode().rstrip("=").lower()
    pieces = [encoded[i : i + _PIECE] for i in range(0, len(encoded), _PIECE)]
    if len(pieces) > _MAX_PIECES:
        raise ValueError(f"article id {key[:40]!r}… is too long to travel in Vertex request labels")
    return {f"{_PART}{i}": piece for i, piece in enumerate(pieces)}


def key_of(request: Mapping[str, Any] | None) -> str | None:
    """The key :func:`key_labels` put in a request's labels, or None when there is none."""
    labels = (request or {}).get("labels") or {}
    if not isinstance(labels, Mapping):
        return None
    if KEY_LABEL in labels:
        return str(labels[KEY_LABEL])
    pieces = []
    i = 0
    while f"{_PART}{i}" in labels:
        pieces.append(str(labels[f"{_PART}{i}"]))
        i += 1
    if not pieces:
        return None
    encoded = "".join(pieces).upper()
    encoded += "=" * (-len(encoded) % 8)
    try:
        return base64.b32decode(encoded).decode()
    except (ValueError, UnicodeDecodeError):
        return None


def to_vertex_line(line: Mapping[str, Any]) -> dict[str, Any]:
    """``{"key", "request"}`` → ``{"request"}`` with the key in ``request.labels``."""
    request = dict(line["request"])
    labels = dict(request.get("labels") or {})
    labels.update(key_labels(str(line["key"])))
    request["labels"] = labels
    return {"request": request}


def vertex_jsonl(lines: Iterable[Mapping[str, Any]]) -> Iterator[bytes]:
    """Vertex input JSONL, one encoded line at a time, from gembatch request lines."""
    for line in lines:
        yield json.dumps(to_vertex_line(line), ensure_ascii=False, separators=(",", ":")).encode() + b"\n"


def _status_error(status: str) -> dict[str, Any]:
    """``"Bad Request: {json}"`` → the embedded ``google.rpc.Status``; else a message-only error."""
    head, _, rest = status.partition(":")
    try:
        body = json.loads(rest)
    except ValueError:
        body = None
    if isinstance(body, Mapping) and isinstance(body.get("error"), Mapping):
        return dict(body["error"])
    return {"message": status or head}


def from_prediction(line: Mapping[str, Any]) -> dict[str, Any] | None:
    """One Vertex prediction line as gembatch's ``{"key", "response"}`` / ``{"key", "error"}``.

    None when the line carries no gembatch key (it then cannot be matched to an article).
    """
    key = key_of(line.get("request") if isinstance(line.get("request"), Mapping) else None)
    if key is None:
        return None
    return prediction_result(key, str(line.get("status") or ""), line.get("response"))


def prediction_result(key: str, status: str, response: Any) -> dict[str, Any]:
    """gembatch's response line for one prediction: ``status`` non-empty (or no response) is an error."""
    if status or not isinstance(response, Mapping) or not response:
        return {"key": key, "error": _status_error(status or "empty response")}
    return {"key": key, "response": dict(response)}


def iter_predictions(data: bytes) -> Iterator[dict[str, Any]]:
    """gembatch response lines from the bytes of one or more ``predictions.jsonl`` files."""
    for raw in data.splitlines():
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, Mapping):
            converted = from_prediction(line)
            if converted is not None:
                yield converted
