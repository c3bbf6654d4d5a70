"""The Vertex backend's BigQuery tables against the BigQuery stand-in: write, read back, list, drop."""

from __future__ import annotations

import io
import json

import pytest

from gembatch.errors import InputError
from gembatch.transport.vertex import VertexTransport, parse_vertex_job
from gembatch.transport.vertex_bq import display_of, parse_bq_uri, table_name

DATASET = "local.bqtables"


@pytest.fixture(scope="module")
def bqt(vertex, bigquery):
    """The session's Vertex transport client with its job data in the stand-in's dataset."""
    bigquery.create_dataset(DATASET, exists_ok=True)
    return VertexTransport(vertex.client, None, bucket="", bigquery=bigquery, dataset=DATASET)


def _lines(n: int, run: str = "r1") -> bytes:
    def request(i: int) -> dict:
        return {"contents": [{"role": "user", "parts": [{"text": f"t{i}"}]}]}

    rows = [{"key": f"{run}-{i:03d}", "request": request(i)} for i in range(n)]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _tables(bigquery) -> set[str]:
    return {t.table_id for t in bigquery.list_tables(DATASET)}


@pytest.mark.parametrize(
    "display", ["gembatch/run-1/c00001/1", "gembatch/my_run.v2-ab12/r2-00003/2", "gembatch/émile/c1/1"]
)
def test_table_names_round_trip_to_display_names(display):
    name = table_name("gembatch", display, "input", "abc")
    assert all(c.isalnum() or c == "_" for c in name), name
    assert display_of("gembatch", name) == display
    assert display_of("other", name) is None
    assert display_of("gembatch", table_name("gembatch", display, "output", "abc")) is None


def test_upload_writes_key_and_request_columns_in_pages(bqt, bigquery):
    uri = bqt.upload(io.BytesIO(_lines(1_203, "up-1")), "gembatch/up-1/c00001/1")
    project, dataset, table = parse_bq_uri(uri)
    assert f"{project}.{dataset}" == DATASET
    assert display_of("gembatch", table) == "gembatch/up-1/c00001/1"
    rows = list(bigquery.list_rows(f"{DATASET}.{table}", page_size=400))
    assert len(rows) == 1_203
    by_key = {r["gembatch_key"]: json.loads(r["request"]) for r in rows}
    assert by_key["up-1-1202"]["contents"][0]["parts"][0]["text"] == "t1202"
    assert bqt.file_exists(uri)
    assert (uri, "gembatch/up-1/c00001/1") in set(bqt.list_files())
    bqt.delete_file(uri)
    assert not bqt.file_exists(uri)
    assert table not in _tables(bigquery)
    bqt.delete_file(uri)  # already gone: not an error


def test_too_many_requests_are_refused_before_any_table(bqt, bigquery):
    before = _tables(bigquery)
    bqt.bq.limit = 10
    try:
        with pytest.raises(InputError, match=r"11 requests in one job; Vertex takes at most 10"):
            bqt.upload(io.BytesIO(_lines(11)), "gembatch/big-1/c00001/1")
    finally:
        bqt.bq.limit = 200_000
    assert _tables(bigquery) == before


def test_download_reads_the_output_table_as_response_lines(bqt, bigquery):
    from google.cloud import bigquery as bq

    out = f"{DATASET}.gembatch__dl_d1_sc00001_s1__output_x1"
    schema = [bq.SchemaField(n, "STRING") for n in ("gembatch_key", "request", "response", "status")]
    bigquery.create_table(bq.Table(out, schema=schema), exists_ok=True)
    ok = {"candidates": [{"content": {"role": "model", "parts": [{"text": "fine"}]}, "finishReason": "STOP"}],
          "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1}}  # fmt: skip
    bad = 'Bad Request: {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"}}'
    rows = [{"gembatch_key": f"k{i:03d}", "request": "{}", "response": json.dumps(ok), "status": ""}
            for i in range(700)]  # fmt: skip
    rows.append({"gembatch_key": "k-bad", "request": "{}", "response": "", "status": bad})
    for start in range(0, len(rows), 500):
        assert bigquery.insert_rows_json(out, rows[start : start + 500]) == []
    lines = [json.loads(raw) for raw in bqt.download(f"bq://{out}").splitlines()]
    assert len(lines) == 701
    good = {line["key"]: line for line in lines if "response" in line}
    assert len(good) == 700
    assert good["k699"]["response"]["candidates"][0]["content"]["parts"][0]["text"] == "fine"
    (failed,) = [line for line in lines if "error" in line]
    assert failed["key"] == "k-bad"
    assert failed["error"]["status"] == "RESOURCE_EXHAUSTED"
    assert failed["error"]["code"] == 429


def test_a_finished_bigquery_job_reports_its_output_table():
    dest = {"predictionsFormat": "bigquery", "bigqueryDestination": {"outputUri": "bq://p.d.out"}}
    info = {"bigqueryOutputDataset": "bq://p.d", "bigqueryOutputTable": "predictions_1"}
    job = {"name": "projects/p/locations/l/batchPredictionJobs/1", "state": "JOB_STATE_SUCCEEDED",
           "outputConfig": dest, "outputInfo": info}  # fmt: skip
    assert parse_vertex_job(job).output_file == "bq://p.d.predictions_1"
    del job["outputInfo"]
    assert parse_vertex_job(job).output_file == "bq://p.d.out"
    job["state"] = "JOB_STATE_RUNNING"
    assert parse_vertex_job(job).output_file is None


def test_a_bad_dataset_is_refused(vertex, bigquery):
    with pytest.raises(InputError, match=r"dataset must be 'project\.dataset'"):
        VertexTransport(vertex.client, None, bucket="", bigquery=bigquery, dataset="a.b.c")


def test_an_input_table_is_kept_while_its_job_may_read_it(gcs_url, bq_url, bigquery, tmp_path):
    import time

    import gembatch as gb

    slow = gb.connect(backend="vertex-emulator", speed=1, state_dir=tmp_path / "emu", storage_url=gcs_url,
                      bigquery_url=bq_url, dataset=DATASET)  # fmt: skip
    uri = slow.upload(io.BytesIO(_lines(3, "slow")), "gembatch/slow-1/c00001/1")
    job = slow.create("gemini-2.5-flash-lite", "gembatch/slow-1/c00001/1", file_name=uri)
    assert not job.state.done
    with pytest.raises(OSError, match="still read by") as err:
        slow.delete_file(uri)
    assert slow.classify(err.value).transient
    assert slow.file_exists(uri)
    slow.cancel(job.name)
    deadline = time.monotonic() + 30
    while not slow.get(job.name).state.done and time.monotonic() < deadline:
        time.sleep(0.2)
    slow.delete(job.name)  # a cancelled job: its input table (and any partial output) go with it
    assert not slow.file_exists(uri)
    assert slow.bq.list_tables("gembatch/slow-1/") == []


def test_the_vertex_factory_takes_a_dataset_instead_of_a_bucket(vertex, bigquery):
    from gembatch.errors import BackendError
    from gembatch.transport.vertex_connect import create

    t = create(client=vertex.client, dataset=DATASET, bigquery=bigquery)
    assert t.bq is not None
    assert t.bq.dataset == DATASET
    assert t.storage is None
    assert "data in bq://local.bqtables" in t.describe()
    with pytest.raises(BackendError, match=r"needs bucket=.*or dataset="):
        create(client=vertex.client)
