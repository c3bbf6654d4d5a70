"""A run over a streamed Parquet input on Vertex (emulated): Cloud Storage in and out, page by page."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from runs_support import FAST, assert_no_duplicate_jobs

import gembatch as gb
from gembatch.planning.vertex_limits import vertex_catalog

N = 600


def test_streamed_vertex_run_completes_page_by_page(vertex, tmp_path):
    import httpx

    frame = gb.synthetic_articles(N, mean_chars=500, seed=8)
    path = tmp_path / "articles.parquet"
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=128)
    spec = gb.RequestSpec.create("gemini-2.5-flash-lite", "Summarise:\n{text}")
    plan = gb.plan_stream(
        gb.ArticleStream(path, batch_size=200), spec, catalog=vertex_catalog(), chunk_tokens=40_000
    )
    assert len(plan.chunks) > 1
    run = gb.Run.create(tmp_path / "run", path, plan, client=vertex, inline_limit_bytes=0, **FAST)
    assert run.wait(timeout=180, progress=False)
    pages = list(run.iter_results(page_size=128))
    res = pd.concat(pages)
    assert res.index.tolist() == frame["id"].tolist()
    assert (res["status"] == "succeeded").all()
    assert res["output_text"].str.len().gt(0).all()
    sources = set(run.chunks()["source"])
    assert sources == {"file"}
    stats = httpx.get(f"{vertex.base_url}/emulator/v1/stats").json()
    assert_no_duplicate_jobs(stats, run.run_id)
    reopened = gb.Run.open(tmp_path / "run")  # the backend it recorded, without a client
    assert reopened.transport.name == vertex.name
    assert reopened.summary().done
