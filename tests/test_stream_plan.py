"""Streaming inputs: Parquet read batch by batch, chunks cut by every limit, request files written."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import gembatch as gb
from gembatch.inputs.request_lines import RequestSpec, iter_request_lines
from gembatch.inputs.stream import iter_article_batches, parquet_rows
from gembatch.planning.stream_plan import plan_stream

SPEC = RequestSpec.create("gemini-2.5-flash-lite", "Summarise:\n{text}")


@pytest.fixture
def parquet(tmp_path):
    frame = gb.synthetic_articles(1_000, mean_chars=600, seed=4)
    path = tmp_path / "articles.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=250)
    return path, frame


def test_batches_cover_every_article_once(parquet):
    path, frame = parquet
    assert parquet_rows(path) == len(frame)
    batches = list(iter_article_batches(path, batch_size=300))
    assert max(len(b) for b in batches) <= 300
    joined = pd.concat(batches)
    assert joined.index.tolist() == frame["id"].tolist()
    assert joined["text"].tolist() == frame["text"].tolist()


def test_plan_respects_token_request_and_byte_caps_and_writes_the_lines(parquet, tmp_path):
    path, frame = parquet
    out = tmp_path / "requests"
    plan = plan_stream(iter_article_batches(path, batch_size=128), SPEC, chunk_tokens=40_000,
                       max_requests=150, file_limit_bytes=150_000, out_dir=out)  # fmt: skip
    assert plan.articles == len(frame)
    assert len(plan.chunks) > 1
    for chunk in plan.chunks:
        assert chunk.est_input_tokens <= 40_000
        assert chunk.articles <= 150
        assert chunk.bytes <= 150_000
        assert chunk.path is not None
        assert chunk.path.stat().st_size == chunk.bytes
    written = [json.loads(x) for c in plan.chunks for x in c.path.read_text("utf-8").splitlines()]
    articles = gb.read_articles(frame, id_col="id")
    assert written == list(iter_request_lines(articles, SPEC))  # same lines as the in-memory path
    estimate = gb.estimate(articles, spec=SPEC)
    assert plan.est_cost_usd == pytest.approx(estimate.batch_cost_usd, rel=0.02)


def test_bad_input_names_the_row_or_column(tmp_path):
    path = tmp_path / "dup.parquet"
    pq.write_table(pa.table({"id": ["a", "b", "a"], "text": ["x", "y", "z"]}), path)
    with pytest.raises(gb.InputError, match=r"row 2: article id 'a' appears twice"):
        list(iter_article_batches(path))
    with pytest.raises(gb.InputError, match=r"no column\(s\) 'body'"):
        list(iter_article_batches(path, text_col="body"))
    with pytest.raises(gb.InputError, match="not a readable Parquet file"):
        list(iter_article_batches(tmp_path / "missing.parquet"))


def test_an_article_too_large_for_any_job_is_named(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(pa.table({"id": ["small", "huge"], "text": ["x" * 100, "y" * 200_000]}), path)
    with pytest.raises(gb.InputError, match="article 'huge'"):
        plan_stream(iter_article_batches(path), SPEC, chunk_tokens=10_000)
