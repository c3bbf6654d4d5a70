"""The REST API through FastAPI's TestClient, against the in-process emulator."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

import gembatch as gb
from gembatch.server import create_app

TOKEN = "test-server-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SENTINEL_KEY = "sentinel-gemini-key-0xC0FFEE"


@pytest.fixture(scope="module")
def emu() -> Iterator[Any]:
    with gb.emulator.running(speed=50_000, api_keys=[SENTINEL_KEY]) as emu:
        yield emu


@pytest.fixture
def api(emu: Any, tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(tmp_path / "runs", token=TOKEN, client_factory=lambda: emu.client(api_key=SENTINEL_KEY))
    with TestClient(app) as client:
        yield client


def _articles(n: int) -> list[dict[str, Any]]:
    frame = gb.synthetic_articles(n, mean_chars=600, seed=3)
    return [{"id": str(r.id), "text": r.text, "title": r.title} for r in frame.itertuples()]


def _wait_done(api: TestClient, run_id: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = api.get(f"/v1/runs/{run_id}", headers=AUTH).json()
        if body["summary"]["done"]:
            return body["summary"]
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_healthz_needs_no_token(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}


def test_every_endpoint_but_healthz_answers_401_without_or_with_wrong_token(api: TestClient) -> None:
    routes = [r for r in api.app.routes if isinstance(r, APIRoute) and r.path != "/healthz"]  # type: ignore[attr-defined]
    assert len(routes) >= 10
    for route in routes:
        path = route.path.replace("{run_id}", "r1").replace("{job_id}", "j1")
        for method in route.methods:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
                resp = api.request(method, path, headers=headers)
                assert resp.status_code == 401, (method, path, headers, resp.text)
                assert resp.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("run_id", ["..", "..%2F..%2Fetc", "a..b", ".hidden", "x" * 65, "a%2Fb", "a b"])
def test_run_ids_that_could_escape_the_runs_directory_get_4xx(api: TestClient, run_id: str) -> None:
    resp = api.get(f"/v1/runs/{run_id}", headers=AUTH)
    assert 400 <= resp.status_code < 500, resp.text
    assert resp.status_code != 500


def test_create_with_traversal_run_id_is_refused(api: TestClient, tmp_path: Any) -> None:
    resp = api.post("/v1/runs", headers=AUTH, json={"run_id": "../escape", "articles": ["hello"]})
    assert resp.status_code == 400
    assert "invalid run id" in resp.json()["detail"]
    assert not (tmp_path / "escape").exists()


def test_estimate_from_json_articles(api: TestClient) -> None:
    resp = api.post(
        "/v1/estimate", headers=AUTH, json={"articles": _articles(20), "model": "gemini-2.5-flash-lite"}
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["plan"]["jobs"] >= 1
    assert sum(c["articles"] for c in body["plan"]["chunks"]) == 20
    assert body["plan"]["est_cost_usd"] > 0
    assert body["estimate"]


def test_estimate_from_uploaded_csv_and_budget_flag(api: TestClient) -> None:
    csv = pd.DataFrame(_articles(5)).to_csv(index=False).encode()
    resp = api.post(
        "/v1/estimate",
        headers=AUTH,
        files={"file": ("arts.csv", csv, "text/csv")},
        data={"params": json.dumps({"budget_usd": 1e-9})},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["plan"]["over_budget"] is True


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"articles": ["fine", "   "]}, 400, "item 1: field 'text' is empty"),
        ({"articles": ["x"], "model": "gemini-9-ultra"}, 400, "unknown model"),
        ({"articles": []}, 422, "articles"),
        ({"articles": ["x"], "policy": "fastest"}, 422, "policy"),
        ({"articles": ["x"], "colour": "red"}, 422, "colour"),
        ({"articles": ["x"], "budget_usd": -1}, 422, "budget_usd"),
    ],
)
def test_bad_input_gets_one_clear_4xx(
    api: TestClient, body: dict[str, Any], status: int, needle: str
) -> None:
    resp = api.post("/v1/runs", headers=AUTH, json=body)
    assert resp.status_code == status, resp.text
    assert needle in resp.text
    assert api.get("/v1/runs", headers=AUTH).json()["runs"] == []


def test_upload_with_unknown_suffix_or_bad_params(api: TestClient) -> None:
    resp = api.post("/v1/runs", headers=AUTH, files={"file": ("a.txt", b"hello", "text/plain")})
    assert resp.status_code == 400
    assert ".jsonl" in resp.json()["detail"]
    resp = api.post(
        "/v1/runs", headers=AUTH, files={"file": ("a.jsonl", b'{"text":"x"}\n')}, data={"params": "{"}
    )
    assert resp.status_code == 400
    assert "not valid JSON" in resp.json()["detail"]


def test_body_over_the_limit_gets_413(emu: Any, tmp_path: Any) -> None:
    app = create_app(tmp_path, token=TOKEN, client_factory=emu.client, max_body_bytes=1000)
    with TestClient(app) as api:
        resp = api.post("/v1/estimate", headers=AUTH, json={"articles": ["x" * 5000]})
    assert resp.status_code == 413


def test_run_end_to_end_over_http(api: TestClient) -> None:
    resp = api.post(
        "/v1/runs",
        headers=AUTH,
        json={"run_id": "news-1", "articles": _articles(30), "prompt": "Summarise: {text}"},
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["run_id"] == "news-1"
    summary = _wait_done(api, "news-1")
    assert summary["succeeded"] + summary["failed"] == 30
    assert api.get("/v1/runs", headers=AUTH).json()["runs"] == ["news-1"]

    chunks = api.get("/v1/runs/news-1/chunks", headers=AUTH).json()["chunks"]
    assert sum(c["articles"] for c in chunks) == 30

    page = api.get("/v1/runs/news-1/results?offset=10&limit=15", headers=AUTH).json()
    assert page["total"] == 30
    assert len(page["items"]) == 15
    everything = api.get("/v1/runs/news-1/results?limit=1000", headers=AUTH).json()["items"]
    assert sorted(i["article_id"] for i in everything) == sorted(a["id"] for a in _articles(30))
    assert all(i["status"] == "succeeded" and i["output_text"] for i in everything)

    csv = api.get("/v1/runs/news-1/results?format=csv", headers=AUTH)
    assert csv.headers["content-type"].startswith("text/csv")
    assert len(pd.read_csv(io.StringIO(csv.text))) == 30
    jsonl = api.get("/v1/runs/news-1/results?format=jsonl", headers=AUTH)
    assert len(jsonl.text.strip().splitlines()) == 30
    parquet = api.get("/v1/runs/news-1/results?format=parquet", headers=AUTH)
    assert len(pd.read_parquet(io.BytesIO(parquet.content))) == 30
    assert api.get("/v1/runs/news-1/results?format=xml", headers=AUTH).status_code == 422

    # the same run id again with other inputs is refused, not silently reused
    clash = api.post("/v1/runs", headers=AUTH, json={"run_id": "news-1", "articles": ["other"]})
    assert clash.status_code == 409


def test_realtime_mode_over_http(api: TestClient) -> None:
    resp = api.post(
        "/v1/runs", headers=AUTH, json={"run_id": "rt-1", "mode": "realtime", "articles": _articles(12)}
    )
    assert resp.status_code == 201, resp.text
    summary = _wait_done(api, "rt-1")
    assert summary["succeeded"] == 12
    items = api.get("/v1/runs/rt-1/results?limit=100", headers=AUTH).json()["items"]
    assert {i["chunk_id"] for i in items} == {"rt1"}  # answered by generateContent, not a batch job
    assert all(i["output_text"] for i in items)


def test_unknown_run_is_404(api: TestClient) -> None:
    assert api.get("/v1/runs/nope", headers=AUTH).status_code == 404
    assert api.post("/v1/runs/nope/cancel", headers=AUTH).status_code == 404


def test_cancel_a_run(api: TestClient) -> None:
    resp = api.post("/v1/runs", headers=AUTH, json={"run_id": "c1", "articles": _articles(10)})
    assert resp.status_code == 201
    cancelled = api.post("/v1/runs/c1/cancel", headers=AUTH)
    assert cancelled.status_code == 200
    assert cancelled.json()["summary"]["state"] in {"cancelled", "done"}


def test_single_job_trio(api: TestClient) -> None:
    resp = api.post(
        "/v1/jobs", headers=AUTH, json={"contents": ["one text", "two text"], "display_name": "t"}
    )
    assert resp.status_code == 201, resp.text
    job_id = resp.json()["job_id"]
    deadline = time.monotonic() + 60
    while not (status := api.get(f"/v1/jobs/{job_id}", headers=AUTH).json())["state"].endswith("SUCCEEDED"):
        assert time.monotonic() < deadline, status
        assert not status["state"].endswith(("FAILED", "EXPIRED", "CANCELLED")), status
        time.sleep(0.1)
    items = api.get(f"/v1/jobs/{job_id}/results", headers=AUTH).json()["items"]
    assert len(items) == 2
    assert all(i["output_text"] for i in items)
    assert api.get("/v1/jobs/NOT_VALID", headers=AUTH).status_code == 400
    assert api.get("/v1/jobs/doesnotexist", headers=AUTH).status_code == 404


def test_the_gemini_key_never_appears_in_any_response(api: TestClient) -> None:
    api.post("/v1/runs", headers=AUTH, json={"run_id": "k1", "articles": _articles(3)})
    _wait_done(api, "k1")
    texts = [
        api.get(p, headers=AUTH).text
        for p in ("/v1/runs", "/v1/runs/k1", "/v1/runs/k1/chunks", "/v1/runs/k1/results", "/v1/backend")
    ]
    texts.append(api.get("/openapi.json").text)
    assert texts
    for text in texts:
        assert SENTINEL_KEY not in text
