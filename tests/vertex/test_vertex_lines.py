"""Vertex line formats: every article id survives the trip through request labels and back."""

from __future__ import annotations

import json

import pytest

from gembatch.transport.vertex_lines import (
    from_prediction,
    iter_predictions,
    key_labels,
    key_of,
    to_vertex_line,
)

LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


@pytest.mark.parametrize(
    "key", ["a00001", "Article 7", "ÄÖÜ/ß?", "x" * 63, "X" * 64, "doc:" + "9" * 300, "-", "1"]
)
def test_key_round_trips_through_valid_labels(key):
    labels = key_labels(key)
    for name, value in labels.items():
        assert 1 <= len(value) <= 63, (name, value)
        assert set(value) <= LABEL_CHARS, (name, value)
        assert name[0].isalpha()
        assert set(name) <= LABEL_CHARS
    line = to_vertex_line({"key": key, "request": {"contents": [{"parts": [{"text": "t"}]}]}})
    assert "key" not in line
    assert key_of(json.loads(json.dumps(line))["request"]) == key


def test_callers_labels_are_kept():
    line = to_vertex_line({"key": "k1", "request": {"contents": [], "labels": {"team": "news"}}})
    assert line["request"]["labels"] == {"team": "news", "gembatch_key": "k1"}


def test_prediction_lines_become_response_or_error_lines():
    request = to_vertex_line({"key": "A b", "request": {"contents": []}})["request"]
    ok = {
        "status": "",
        "request": request,
        "response": {"candidates": [{"content": {"parts": [{"text": "hi"}]}}]},
    }
    bad = {
        "status": "Bad Request: "
        + json.dumps(
            {"error": {"code": 400, "message": "Please use a valid role", "status": "INVALID_ARGUMENT"}}
        ),
        "request": request,
        "response": {},
    }
    assert from_prediction(ok) == {"key": "A b", "response": ok["response"]}
    err = from_prediction(bad)
    assert err is not None
    assert err["key"] == "A b"
    assert err["error"] == {"code": 400, "message": "Please use a valid role", "status": "INVALID_ARGUMENT"}
    assert from_prediction({"status": "", "request": {"contents": []}, "response": {"x": 1}}) is None
    data = b"\n".join(json.dumps(x).encode() for x in (ok, bad)) + b"\n\nnot json\n"
    assert [line["key"] for line in iter_predictions(data)] == ["A b", "A b"]


def test_plans_use_vertex_limits():
    import gembatch as gb
    from gembatch.planning.vertex_limits import vertex_catalog, vertex_limits
    from gembatch.transport.vertex import REQUESTS_PER_JOB

    limits = vertex_limits()
    assert limits["requests_per_job"] == REQUESTS_PER_JOB
    info = vertex_catalog().get("gemini-2.5-flash-lite")
    assert info.file_limit_bytes == limits["file_limit_bytes"]
    assert info.enqueued_limit("tier1") == limits["enqueued_tokens"]
    developer = gb.default_catalog().get("gemini-2.5-flash-lite")
    assert info.file_limit_bytes < developer.file_limit_bytes  # 1 GB per GCS file, not 2 GB
    assert info.batch_input_price == developer.batch_input_price  # prices are the model's own


def test_missing_credentials_are_one_clear_error(monkeypatch, tmp_path):
    import gembatch as gb

    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    with pytest.raises(gb.BackendError, match="no Google Cloud credentials") as exc:
        gb.connect(backend="vertex", project="p", location="us-central1", bucket="b")
    assert "gcloud auth application-default login" in str(exc.value)
    with pytest.raises(gb.BackendError, match="needs bucket="):
        gb.connect(backend="vertex", project="p", location="us-central1")
