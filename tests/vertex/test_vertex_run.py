"""A whole gembatch run on Vertex (emulated): Cloud Storage in and out, every article accounted for."""

from __future__ import annotations

import httpx
import pytest
from runs_support import FAST, assert_accounted, assert_no_duplicate_jobs, read_ledger

import gembatch as gb
from gembatch.emulator._vertex_backend import BUCKET

N = 40


def _run(vertex, tmp_path, **knobs):
    arts = gb.read_articles(gb.synthetic_articles(N, mean_chars=900, seed=3), id_col="id")
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\n{text}", chunk_tokens=4_000)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=vertex, **FAST, **knobs)
    assert run.wait(timeout=120, progress=False)
    return run


@pytest.mark.parametrize("mode", ["file", "inline"])
def test_gcs_run_completes_once_and_cleans_up(vertex, storage, tmp_path, mode):
    knobs = {"inline_limit_bytes": 0} if mode == "file" else {}
    run = _run(vertex, tmp_path, **knobs)
    assert_accounted(run, N)
    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert res["output_text"].str.len().gt(0).all()
    assert (res["prompt_tokens"] > 0).all()

    rows = read_ledger(run, "SELECT batch_name, source FROM chunks")
    assert len(rows) > 1
    for row in rows:
        assert row["batch_name"].startswith("projects/local/locations/us-central1/batchPredictionJobs/")
        assert row["source"] == mode
    stats = httpx.get(f"{vertex.base_url}/emulator/v1/stats").json()
    assert_no_duplicate_jobs(stats, run.run_id)

    left = [b.name for b in storage.list_blobs(BUCKET, prefix=f"gembatch/{run.run_id}/")]
    assert left == [], f"objects of the run left behind: {left}"
    remote = [j for j in vertex.list_jobs() if (j.display_name or "").startswith(f"gembatch/{run.run_id}/")]
    assert remote == [], "collected jobs are deleted"


def test_failed_job_is_retried_and_still_accounted(vertex, tmp_path):
    arts = gb.read_articles(gb.synthetic_articles(12, mean_chars=900, seed=5), id_col="id")
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\n{text}", chunk_tokens=4_000)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=vertex, **FAST)
    first = run.chunks()["display_name"].iloc[0]
    reply = httpx.post(
        f"{vertex.base_url}/emulator/v1/faults",
        json={"op": "batch", "display_name": first, "outcome": "FAILED", "count": 1},
    )
    assert reply.status_code == 200, reply.text
    assert run.wait(timeout=120, progress=False)
    assert_accounted(run, 12)
    chunks = run.chunks()
    assert (chunks["state"] == "collected").all()
    assert (chunks["attempt"] > 1).any(), "the failed job's articles went out again"
    assert (run.results()["status"] == "succeeded").all()


def test_describe_never_shows_a_secret(vertex):
    text = vertex.describe() + repr(vertex)
    assert "Vertex AI emulator" in text
    assert "emulator'" not in text
    assert "token" not in text.lower()


@pytest.mark.parametrize(
    "fault",
    [
        {"op": "batches.create", "drop_response": True},  # the job exists; the answer is lost
        {"op": "batches.create", "drop_response": "disconnect"},
        {"op": "batches.create", "status": 429, "message": "Quota exceeded; retry in 0.1s"},
        {"op": "batches.get", "status": 503},
        {"op": "batches.list", "status": 500},
    ],
    ids=["lost-answer", "disconnect", "quota-429", "get-503", "list-500"],
)
def test_faults_on_the_vertex_surface_neither_lose_nor_double(vertex, tmp_path, fault):
    arts = gb.read_articles(gb.synthetic_articles(10, mean_chars=900, seed=9), id_col="id")
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\n{text}", chunk_tokens=4_000)
    run = gb.Run.create(tmp_path / "run", arts, plan, client=vertex, **FAST)
    reply = httpx.post(f"{vertex.base_url}/emulator/v1/faults", json={**fault, "count": 1})
    assert reply.status_code == 200, reply.text
    assert run.wait(timeout=120, progress=False)
    assert_accounted(run, 10)
    assert (run.results()["status"] == "succeeded").all()
    stats = httpx.get(f"{vertex.base_url}/emulator/v1/stats").json()
    assert_no_duplicate_jobs(stats, run.run_id)
    assert not stats["pending_faults"], "the fault was never met"
