"""The official google-genai SDK (vertexai=True) runs batch prediction jobs from and to BigQuery tables.

The emulator reads the input table from the BigQuery stand-in (bqemulator) and writes the output
table there; the tests read both with the official google-cloud-bigquery client.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from google import genai
from google.genai import errors, types

from gembatch.emulator._vertex_backend import LOCATION, PROJECT, token_credentials

MODEL = "gemini-2.5-flash-lite"
DATASET = f"{PROJECT}.bq_in"


@pytest.fixture(scope="module")
def client(vertex, bigquery):
    bigquery.create_dataset(DATASET, exists_ok=True)
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=token_credentials(),
        http_options=types.HttpOptions(base_url=vertex.base_url),
    )


def _request(text: str, role: str = "user") -> dict:
    return {"contents": [{"role": role, "parts": [{"text": text}]}]}


def _table(bigquery, rows: list[dict], request_type: str = "STRING") -> str:
    """A new input table: a ``request`` column of ``request_type`` and extra columns; its bq:// URI."""
    from google.cloud import bigquery as bq

    name = f"{DATASET}.in_{uuid.uuid4().hex[:10]}"
    schema = [
        bq.SchemaField("article_id", "STRING"),
        bq.SchemaField("n", "INTEGER"),
        bq.SchemaField("score", "FLOAT"),
        bq.SchemaField("published", "TIMESTAMP"),
        bq.SchemaField("request", request_type),
    ]
    bigquery.create_table(bq.Table(name, schema=schema))
    assert bigquery.insert_rows_json(name, rows) == []
    return f"bq://{name}"


def _rows(n: int) -> list[dict]:
    return [
        {"article_id": f"a-{i}", "n": i, "score": i / 4, "published": f"2026-0{1 + i % 9}-02T03:04:05+00:00",
         "request": json.dumps(_request(f"Summarise article {i}: trams in Northbrook, part {i}."))}
        for i in range(n)
    ]  # fmt: skip


def _wait(client, name: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.batches.get(name=name)
        if job.done:
            return job
        time.sleep(0.1)
    raise AssertionError(f"{name} did not finish")


def _read(bigquery, table: str) -> dict[str, dict]:
    return {row["article_id"]: dict(row) for row in bigquery.list_rows(table)}


def test_table_in_table_out_carries_every_column(client, bigquery):
    rows = _rows(6)
    rows[2]["request"] = "{not json"  # a bad row: a status, not a failed job
    rows[4]["request"] = json.dumps(_request("hello", role="robot"))  # refused by the service's checks
    src = _table(bigquery, rows)
    dest = f"bq://{PROJECT}.bq_out.preds_{uuid.uuid4().hex[:8]}"
    job = client.batches.create(model=MODEL, src=src, config={"dest": dest, "display_name": "bq-1"})
    assert job.src.bigquery_uri == src
    assert job.dest.bigquery_uri == dest

    done = _wait(client, job.name)
    assert done.state.value == "JOB_STATE_SUCCEEDED"
    assert done.completion_stats.successful_count == 4
    assert done.completion_stats.failed_count == 2
    table = dest.removeprefix("bq://")
    assert done.output_info.bigquery_output_table == table.rsplit(".", 1)[-1]
    assert bigquery.get_table(table).num_rows == 6

    out = _read(bigquery, table)
    assert sorted(out) == sorted(r["article_id"] for r in rows)
    columns = {field.name for field in bigquery.get_table(table).schema}
    assert columns == {"article_id", "n", "score", "published", "request", "response", "status"}
    for sent in rows:
        got = out[sent["article_id"]]
        assert got["n"] == sent["n"]
        assert got["score"] == pytest.approx(sent["score"])
        assert got["published"].isoformat() == sent["published"]
        assert got["request"] == sent["request"]  # the request column is carried too
    for key in ("a-0", "a-1", "a-3", "a-5"):
        assert out[key]["status"] == ""
        response = types.GenerateContentResponse.model_validate_json(out[key]["response"])
        assert response.text
        assert response.usage_metadata.prompt_token_count > 0
    assert out["a-2"]["response"] is None
    assert out["a-2"]["status"].startswith("Bad Request: ")
    assert "row 2" in json.loads(out["a-2"]["status"].removeprefix("Bad Request: "))["error"]["message"]
    assert out["a-4"]["response"] is None
    assert "role" in out["a-4"]["status"]


def test_dataset_destination_makes_a_predictions_table(client, bigquery, vertex):
    rows = _rows(3)  # insertAll takes a JSON column's value as a JSON string
    src = _table(bigquery, rows, request_type="JSON")
    dataset = f"{PROJECT}.bq_ds_{uuid.uuid4().hex[:8]}"
    job = client.batches.create(model=MODEL, src=src, config={"dest": f"bq://{dataset}"})
    done = _wait(client, job.name)
    assert done.state.value == "JOB_STATE_SUCCEEDED"
    table = done.output_info.bigquery_output_table
    assert table.startswith("predictions_")
    resource = httpx.get(
        f"{vertex.base_url}/v1beta1/{job.name}", headers={"Authorization": "Bearer emulator"}
    ).json()
    expected = {"bigqueryOutputDataset": f"bq://{dataset}", "bigqueryOutputTable": table}
    assert resource["outputInfo"] == expected
    out = _read(bigquery, f"{dataset}.{table}")
    assert sorted(out) == ["a-0", "a-1", "a-2"]
    for row in out.values():
        assert row["status"] == ""
        assert json.loads(row["response"])["candidates"][0]["content"]["parts"][0]["text"]
        assert row["request"]["contents"][0]["role"] == "user"  # a JSON column stays JSON


def test_unreadable_source_fails_the_job(client, bigquery):
    from google.cloud import bigquery as bq

    missing = f"bq://{DATASET}.no_such_table"
    job = client.batches.create(model=MODEL, src=missing, config={"dest": f"bq://{PROJECT}.bq_out"})
    done = _wait(client, job.name)
    assert done.state.value == "JOB_STATE_FAILED"
    assert "no_such_table" in done.error.message
    assert done.output_info is None

    name = f"{DATASET}.no_request_{uuid.uuid4().hex[:8]}"
    bigquery.create_table(bq.Table(name, schema=[bq.SchemaField("prompt", "STRING")]))
    assert bigquery.insert_rows_json(name, [{"prompt": "hello"}]) == []
    job = client.batches.create(model=MODEL, src=f"bq://{name}", config={"dest": f"bq://{PROJECT}.bq_out"})
    failed = _wait(client, job.name)
    assert failed.state.value == "JOB_STATE_FAILED"
    assert "'request' column" in failed.error.message

    with pytest.raises(errors.ClientError) as bad_uri:  # not a table URI: refused at create
        client.batches.create(model=MODEL, src=f"bq://{PROJECT}", config={"dest": f"bq://{PROJECT}.bq_out"})
    assert bad_uri.value.code == 400


def test_faults_apply_as_on_the_cloud_storage_path(client, bigquery, vertex):
    admin = f"{vertex.base_url}/emulator/v1/faults"
    src = _table(bigquery, _rows(2))
    dest = f"bq://{PROJECT}.bq_out.faults_{uuid.uuid4().hex[:8]}"
    before = len(list(client.batches.list()))
    assert httpx.post(admin, json={"op": "batches.create", "status": 429}).status_code == 200
    with pytest.raises(errors.ClientError) as limited:
        client.batches.create(model=MODEL, src=src, config={"dest": dest})
    assert limited.value.code == 429
    assert len(list(client.batches.list())) == before  # nothing was created

    spec = {"op": "batch", "display_name": "bq-doomed", "outcome": "FAILED"}
    assert httpx.post(admin, json=spec).status_code == 200
    job = client.batches.create(model=MODEL, src=src, config={"dest": dest, "display_name": "bq-doomed"})
    failed = _wait(client, job.name)
    assert failed.state.value == "JOB_STATE_FAILED"
    assert failed.output_info is None  # no output table for a failed job
    assert dest.removeprefix("bq://").rsplit(".", 1)[-1] not in {t.table_id for t in bigquery.list_tables(
        f"{PROJECT}.bq_out")}  # fmt: skip

    job = client.batches.create(model=MODEL, src=src, config={"dest": dest})  # faults are one-shot
    assert _wait(client, job.name).state.value == "JOB_STATE_SUCCEEDED"


def test_backend_reaches_bigquery_only_when_asked(gcs_url, bq_url, monkeypatch, tmp_path):
    import gembatch as gb
    from gembatch.emulator._vertex_bq import BIGQUERY_VAR

    monkeypatch.delenv(BIGQUERY_VAR, raising=False)
    plain = gb.connect(backend="vertex-emulator", storage_url=gcs_url, speed=20_000, state_dir=tmp_path / "a")
    assert plain.bigquery is None  # a Cloud Storage-only rehearsal starts no BigQuery stand-in
    assert plain.dataset is None

    with_bq = gb.connect(backend="vertex-emulator", base_url=plain.base_url, storage_url=gcs_url,
                         bigquery_url=bq_url, dataset="run_tables")  # fmt: skip
    assert with_bq.dataset == f"{PROJECT}.run_tables"
    assert with_bq.bigquery.get_dataset(with_bq.dataset).dataset_id == "run_tables"  # created
