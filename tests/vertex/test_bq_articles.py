"""Articles read from the BigQuery stand-in: a table, a query, page by page; bad inputs named."""

from __future__ import annotations

import pytest

import gembatch as gb
from gembatch.errors import InputError
from gembatch.inputs.bigquery import iter_bigquery_batches, iter_bigquery_record_batches
from gembatch.inputs.request_lines import RequestSpec
from gembatch.planning.stream_plan import plan_stream

DATASET = "local.bqarticles"
N = 57


@pytest.fixture(scope="module")
def news(bigquery):
    from google.cloud import bigquery as bq

    bigquery.create_dataset(DATASET, exists_ok=True)
    schema = [bq.SchemaField("id", "STRING"), bq.SchemaField("body", "STRING"),
              bq.SchemaField("topic", "STRING"), bq.SchemaField("n", "INTEGER")]  # fmt: skip
    table = f"{DATASET}.news"
    bigquery.create_table(bq.Table(table, schema=schema), exists_ok=True)
    rows = [{"id": f"n{i:03d}", "body": f"Article {i}. " + "word " * (i % 7 + 3), "topic": f"t{i % 3}",
             "n": i} for i in range(N)]  # fmt: skip
    assert bigquery.insert_rows_json(table, rows) == []
    return table


def _table(bigquery, name: str, rows: list[dict]) -> str:
    from google.cloud import bigquery as bq

    schema = [bq.SchemaField("id", "STRING"), bq.SchemaField("body", "STRING")]
    table = f"{DATASET}.{name}"
    bigquery.create_table(bq.Table(table, schema=schema), exists_ok=True)
    assert bigquery.insert_rows_json(table, rows) == []
    return table


def test_read_a_table_page_by_page(news, bigquery):
    batches = list(iter_bigquery_record_batches(news, columns=["id", "body"], client=bigquery, page_size=20))
    assert [b.num_rows for b in batches] == [20, 20, 17]
    assert batches[0].schema.names == ["id", "body"]
    arts = gb.read_bigquery(table=news, id_col="id", text_col="body", client=bigquery, page_size=20)
    assert len(arts) == N
    assert arts.index.name == "article_id"
    assert arts.loc["n010", "text"].startswith("Article 10.")
    assert arts.loc["n010", "chars"] == len(arts.loc["n010", "text"])
    assert list(arts.columns[:3]) == ["text", "chars", "est_tokens"]
    assert "topic" not in arts.columns


def test_read_a_query_keeping_extra_columns(news, bigquery):
    sql = f"SELECT id, body, topic FROM {DATASET}.news WHERE n >= 50 ORDER BY id"
    arts = gb.read_bigquery(
        query=sql, id_col="id", text_col="body", columns=["topic"], client=bigquery, page_size=3
    )
    assert list(arts.index) == [f"n{i:03d}" for i in range(50, N)]
    assert arts.loc["n051", "topic"] == "t0"


def test_batches_feed_the_streaming_planner(news, bigquery):
    sizes: list[int] = []

    def frames():
        for frame in iter_bigquery_batches(news, id_col="id", text_col="body", client=bigquery, page_size=25):
            assert frame.index.name == "article_id"
            assert "text" in frame.columns
            sizes.append(len(frame))
            yield frame

    spec = RequestSpec(model="gemini-2.5-flash-lite", prompt="Summarise:\n{text}")
    plan = plan_stream(frames(), spec, chunk_tokens=300)
    assert sizes == [25, 25, 7]
    assert plan.articles == N
    assert len(plan.chunks) > 1
    assert plan.chunks[0].first_article == "n000"


def test_missing_table_is_named(bigquery):
    with pytest.raises(InputError, match=r"BigQuery table 'local\.bqarticles\.nope' not found"):
        gb.read_bigquery(table=f"{DATASET}.nope", client=bigquery)


def test_missing_column_is_named_with_the_columns_there(news, bigquery):
    with pytest.raises(InputError, match=r"no column\(s\) 'text'; it has id, body, topic, n") as err:
        gb.read_bigquery(table=news, id_col="id", client=bigquery)
    assert err.value.field == "text"
    with pytest.raises(InputError, match=r"the query's result has no column\(s\) 'body'"):
        gb.read_bigquery(query=f"SELECT id FROM {DATASET}.news", text_col="body", client=bigquery)


def test_duplicate_and_empty_ids_are_named_with_their_row(bigquery):
    dup = _table(bigquery, "dup", [{"id": "a", "body": "one"}, {"id": "b", "body": "two"},
                                   {"id": "a", "body": "three"}])  # fmt: skip
    sql = f"SELECT id, body FROM {dup} ORDER BY body"  # one, three, two: rows 0 and 1 share an id
    with pytest.raises(InputError, match=r"duplicate article id 'a' at row 0 and row 1") as err:
        gb.read_bigquery(query=sql, text_col="body", client=bigquery)
    assert err.value.row == 1
    with pytest.raises(InputError, match=r"row 1: article id 'a' appears twice"):
        list(iter_bigquery_batches(query=sql, text_col="body", client=bigquery, page_size=1))
    empty = _table(bigquery, "empty_id", [{"id": "x", "body": "one"}, {"id": "", "body": "two"}])
    with pytest.raises(InputError, match=r"id field 'id' is empty"):
        gb.read_bigquery(
            query=f"SELECT id, body FROM {empty} ORDER BY body", text_col="body", client=bigquery
        )


def test_bad_arguments_are_refused(bigquery):
    with pytest.raises(InputError, match="exactly one of table="):
        gb.read_bigquery(client=bigquery)
    with pytest.raises(InputError, match="not a BigQuery table name"):
        gb.read_bigquery(table="x; DROP TABLE y", client=bigquery)
    with pytest.raises(InputError, match="the BigQuery query failed"):
        gb.read_bigquery(query="SELECT id, body FROM local.bqarticles.missing_table", client=bigquery)
    with pytest.raises(InputError, match="client must be"):
        gb.read_bigquery(table="p.d.t", client=object())
