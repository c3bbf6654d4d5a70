"""A whole run on Vertex (emulated) from a BigQuery table to BigQuery tables: every article accounted for."""

from __future__ import annotations

import httpx
import pytest
from runs_support import FAST, assert_accounted, assert_no_duplicate_jobs, read_ledger

import gembatch as gb
from gembatch.planning.vertex_limits import vertex_catalog

DATASET = "local.bqrun"
N = 40


@pytest.fixture(scope="module")
def vbq(vertex, bq_url, gcs_url):
    """The session's emulator, with job inputs and outputs as tables of ``DATASET``."""
    return gb.connect(backend="vertex-emulator", base_url=vertex.base_url, storage_url=gcs_url,
                      bigquery_url=bq_url, dataset=DATASET)  # fmt: skip


@pytest.fixture(scope="module")
def source(vbq):
    """``N`` articles in a BigQuery table of their own."""
    from google.cloud import bigquery as bq

    client = vbq.bq.client
    client.create_dataset("local.news", exists_ok=True)
    schema = [bq.SchemaField("id", "STRING"), bq.SchemaField("body", "STRING")]
    client.create_table(bq.Table("local.news.items", schema=schema), exists_ok=True)
    frame = gb.synthetic_articles(N, mean_chars=900, seed=3)
    rows = [{"id": str(i), "body": str(t)} for i, t in zip(frame["id"], frame["text"], strict=True)]
    assert client.insert_rows_json("local.news.items", rows) == []
    return "local.news.items"


def _run_tables(vbq, run_id: str) -> list[str]:
    """Tables of ``DATASET`` that belong to the run (input and output alike)."""
    return vbq.bq.list_tables(f"gembatch/{run_id}/")


def _stats(vbq) -> dict:
    return httpx.get(f"{vbq.base_url}/emulator/v1/stats").json()


@pytest.mark.parametrize("mode", ["file", "inline"])
def test_bigquery_in_bigquery_out_completes_once_and_cleans_up(vbq, source, tmp_path, mode):
    arts = gb.read_bigquery(table=source, id_col="id", text_col="body", client=vbq, page_size=15)
    plan = gb.plan(
        arts,
        "gemini-2.5-flash-lite",
        prompt="Summarise:\n{text}",
        chunk_tokens=4_000,
        catalog=vertex_catalog(),
    )
    knobs = {"inline_limit_bytes": 0} if mode == "file" else {}
    run = gb.Run.create(tmp_path / "run", arts, plan, client=vbq, **FAST, **knobs)
    seen_tables: set[str] = set()
    for _ in range(2_000):  # watch the run's tables while it works
        done = run.step().done
        seen_tables.update(_run_tables(vbq, run.run_id))
        if done:
            break
    assert run.wait(timeout=120, progress=False)
    assert_accounted(run, N)
    res = run.results()
    assert set(res.index) == set(arts.index)
    assert (res["status"] == "succeeded").all()
    assert res["output_text"].str.len().gt(0).all()
    assert (res["prompt_tokens"] > 0).all()

    rows = read_ledger(run, "SELECT output_file, source FROM chunks")
    assert len(rows) > 1
    for row in rows:
        assert row["source"] == mode
        assert str(row["output_file"]).startswith(f"bq://{DATASET}.gembatch__")
    assert any("__input_" in t for t in seen_tables), "job inputs went through input tables"
    assert any("__output_" in t for t in seen_tables)
    assert_no_duplicate_jobs(_stats(vbq), run.run_id)
    assert _run_tables(vbq, run.run_id) == [], "tables of the run left behind"
    remote = [j for j in vbq.list_jobs() if (j.display_name or "").startswith(f"gembatch/{run.run_id}/")]
    assert remote == [], "collected jobs are deleted"


def test_failed_lines_are_retried_and_accounted(source, gcs_url, bq_url, tmp_path):
    profile = tmp_path / "flaky.toml"
    profile.write_text('line_error_rate = 0.3\n[line_error_mix]\n"429" = 1.0\n')
    flaky = gb.connect(backend="vertex-emulator", profile=str(profile), speed=20_000,
                       state_dir=tmp_path / "emu", storage_url=gcs_url, bigquery_url=bq_url,
                       dataset=DATASET)  # fmt: skip
    arts = gb.read_bigquery(table=source, id_col="id", text_col="body", client=flaky)
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\n{text}", chunk_tokens=4_000,
                   catalog=vertex_catalog())  # fmt: skip
    run = gb.Run.create(
        tmp_path / "run", arts, plan, client=flaky, inline_limit_bytes=0, max_attempts=8, **FAST
    )
    assert run.wait(timeout=120, progress=False)
    assert_accounted(run, N)
    errors = read_ledger(run, "SELECT COUNT(*) FROM results WHERE status='retryable' AND error LIKE '%429%'")
    assert errors[0][0] >= 1, "some lines failed with the injected 429"
    retried = read_ledger(run, "SELECT COUNT(*) FROM chunks WHERE attempt > 1")[0][0]
    assert retried >= 1, "failed lines go out again in a retry chunk"
    assert (run.results()["status"] == "succeeded").all()
    assert_no_duplicate_jobs(_stats(flaky), run.run_id)
    assert _run_tables(flaky, run.run_id) == []


def test_results_left_in_bigquery_are_kept_and_read_back(vbq, source, tmp_path):
    arts = gb.read_bigquery(table=source, id_col="id", text_col="body", client=vbq)
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="Summarise:\n{text}", chunk_tokens=4_000,
                   catalog=vertex_catalog())  # fmt: skip
    run = gb.Run.create(tmp_path / "run", arts, plan, client=vbq, results_in="bigquery", **FAST)
    assert run.wait(timeout=120, progress=False)
    assert_accounted(run, N)
    assert_no_duplicate_jobs(_stats(vbq), run.run_id)

    stored = read_ledger(run, "SELECT output_text, prompt_tokens, status FROM results")
    assert len(stored) == N
    assert all(not r["output_text"] for r in stored), "no response text is stored locally"
    assert all(r["prompt_tokens"] > 0 and r["status"] == "succeeded" for r in stored), "usage still counted"

    tables = run.result_tables()
    assert len(tables) == len(run.chunks()) > 1
    assert all("__output_" in t and vbq.bq.exists(t) for t in tables)
    report = run.cleanup()
    assert not report.failed
    assert sorted(_run_tables(vbq, run.run_id)) == sorted(tables), "only the result tables are left"

    res = run.results()
    assert (res["status"] == "succeeded").all()
    assert res["output_text"].str.len().gt(0).all()
    direct = {line["key"]: line for uri in tables for line in vbq.bq.iter_results(uri)}
    assert set(direct) == set(res.index)
    first = res.index[0]
    parts = direct[first]["response"]["candidates"][0]["content"]["parts"]
    assert res.loc[first, "output_text"] == "".join(p.get("text", "") for p in parts)
    for uri in tables:  # leave the dataset as the other tests expect it
        vbq.bq.drop(uri)


def test_results_in_bigquery_needs_a_dataset(vertex, tmp_path):
    arts = gb.read_articles(gb.synthetic_articles(3, mean_chars=300, seed=1), id_col="id")
    plan = gb.plan(arts, "gemini-2.5-flash-lite", prompt="{text}", catalog=vertex_catalog())
    with pytest.raises(gb.InputError, match="results_in='bigquery' needs the vertex backend with a BigQuery"):
        gb.Run.create(tmp_path / "run", arts, plan, client=vertex, results_in="bigquery")
    with pytest.raises(gb.InputError, match="results_in must be 'local' or 'bigquery', not 'gcs'"):
        gb.Run.create(tmp_path / "run", arts, plan, client=vertex, results_in="gcs")
    assert not (tmp_path / "run" / "ledger.sqlite").exists()
