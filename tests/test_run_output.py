"""Output parsing: match by key, classify each line, usage incl. thoughts, schema validation."""

from __future__ import annotations

import json

import pytest

from gembatch.runs.response_lines import classify_error, iter_jsonl, parse_lines, validate

SCHEMA = {
    "type": "OBJECT",
    "properties": {
        "label": {"type": "STRING", "enum": ["pos", "neg"]},
        "score": {"type": "NUMBER"},
        "n": {"type": "INTEGER"},
        "ok": {"type": "BOOLEAN"},
    },
    "required": ["label", "score"],
}


def _resp(text, finish="STOP", prompt=10, out=5, thoughts=3):
    return {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "finishReason": finish}],
        "usageMetadata": {
            "promptTokenCount": prompt,
            "candidatesTokenCount": out,
            "thoughtsTokenCount": thoughts,
            "totalTokenCount": prompt + out + thoughts,
        },
    }


def _parse(lines, schema=None):
    data = b"\n".join(json.dumps(x).encode() for x in lines)
    return {r.key: r for r in parse_lines(iter_jsonl(data), schema)}


def test_lines_match_by_key_not_position():
    out = _parse([{"key": "b", "response": _resp("B")}, {"key": "a", "response": _resp("A")}])
    assert out["a"].output_text == "A"
    assert out["b"].output_text == "B"


def test_usage_includes_thoughts():
    res = _parse([{"key": "a", "response": _resp("x", prompt=100, out=20, thoughts=7)}])["a"]
    assert (res.prompt_tokens, res.output_tokens, res.thoughts_tokens) == (100, 20, 7)
    assert res.status == "succeeded"


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ({"code": 429, "message": "slow", "status": "RESOURCE_EXHAUSTED"}, "retryable"),
        ({"code": 500, "message": "x", "status": "INTERNAL"}, "retryable"),
        ({"code": 503, "message": "x"}, "retryable"),
        ({"code": 400, "message": "bad", "status": "INVALID_ARGUMENT"}, "failed"),
        ({"code": 403, "message": "no", "status": "PERMISSION_DENIED"}, "failed"),
    ],
)
def test_error_lines_are_classified(error, status):
    res = _parse([{"key": "a", "error": error}])["a"]
    assert res.status == status
    assert str(error["code"]) in (res.error or "")
    assert classify_error(error)[0] == status


def test_safety_block_is_permanent():
    res = _parse([{"key": "a", "response": _resp("", finish="SAFETY")}])["a"]
    assert res.status == "failed"
    assert "SAFETY" in (res.error or "")
    blocked = _parse([{"key": "b", "response": {"promptFeedback": {"blockReason": "SAFETY"}}}])["b"]
    assert blocked.status == "failed"


def test_schema_valid_output_is_parsed():
    text = json.dumps({"label": "pos", "score": 0.5, "n": 3, "ok": True})
    res = _parse([{"key": "a", "response": _resp(text)}], SCHEMA)["a"]
    assert res.status == "succeeded"
    assert res.parsed == {"label": "pos", "score": 0.5, "n": 3, "ok": True}


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        json.dumps({"label": "pos"}),  # missing required
        json.dumps({"label": "meh", "score": 1}),  # not in enum
        json.dumps({"label": "pos", "score": "high"}),  # wrong type
        json.dumps({"label": "pos", "score": 1, "n": True}),  # bool is not an integer
        json.dumps(["pos"]),
    ],
)
def test_schema_invalid_output_is_retryable(text):
    res = _parse([{"key": "a", "response": _resp(text, finish="MAX_TOKENS")}], SCHEMA)["a"]
    assert res.status == "retryable"
    assert res.prompt_tokens == 10  # billed even when unusable


def test_corrupt_and_keyless_lines_are_skipped_not_misassigned():
    data = b'{"key": "a", "response": {}}\nnot json\n{"response": {"candidates": []}}\n\n'
    out = {r.key: r for r in parse_lines(iter_jsonl(data), None)}
    assert set(out) == {"a"}
    assert out["a"].status == "retryable"


def test_inline_items_use_metadata_key():
    items = [
        {"response": _resp("hi"), "metadata": {"key": "k1"}},
        {"error": {"code": 400}, "metadata": {"key": "k2"}},
    ]
    out = {r.key: r for r in parse_lines(items, None)}
    assert out["k1"].status == "succeeded"
    assert out["k2"].status == "failed"


def test_validate_nested():
    schema = {"type": "OBJECT", "properties": {"tags": {"type": "ARRAY", "items": {"type": "STRING"}}}}
    assert validate({"tags": ["a", "b"]}, schema) is None
    assert validate({"tags": ["a", 1]}, schema) == "tags: [1]: expected string, got int"
