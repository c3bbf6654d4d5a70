"""The BigQuery stand-in starts without a network and answers the official google-cloud-bigquery client."""

from __future__ import annotations

import pytest

from gembatch.emulator._vertex_bq import BIGQUERY_VAR, local_bigquery
from gembatch.errors import BackendError


def test_rows_in_and_paged_query_out(bigquery) -> None:
    from google.cloud import bigquery as bq

    bigquery.create_dataset("standin", exists_ok=True)
    table = bq.Table(
        "local.standin.articles", schema=[bq.SchemaField("id", "STRING"), bq.SchemaField("text", "STRING")]
    )
    bigquery.create_table(table, exists_ok=True)
    rows = [{"id": f"a{i:03d}", "text": "word " * (i + 1)} for i in range(25)]
    assert bigquery.insert_rows_json("local.standin.articles", rows) == []
    result = bigquery.query("SELECT id, LENGTH(text) AS n FROM standin.articles ORDER BY id").result(
        page_size=10
    )
    pages = [[dict(row) for row in page] for page in result.pages]
    assert [len(page) for page in pages] == [10, 10, 5]
    assert pages[0][0] == {"id": "a000", "n": 5}
    assert pages[-1][-1] == {"id": "a024", "n": 125}


def test_a_remote_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(BIGQUERY_VAR, "http://bigquery.example.com:9050")
    with pytest.raises(BackendError, match="not a loopback address"):
        local_bigquery("local")
