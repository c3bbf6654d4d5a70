"""Runs over streamed inputs (Parquet read batch by batch) through the SDK against the emulator."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from runs_support import FAST, MODEL, assert_no_duplicate_jobs, read_ledger, small_catalog

import gembatch as gb
from gembatch.emulator import running

PROMPT = "Summarise in one sentence:\n{text}"
N = 1_200


@pytest.fixture(scope="module")
def emu():
    os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
    with running(speed=5_000, catalog=small_catalog()) as server:  # output files live 35 s
        yield server


def write(frame: pd.DataFrame, path, row_group: int = 150):
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group)
    return path


@pytest.fixture
def source(tmp_path):
    frame = gb.synthetic_articles(N, mean_chars=400, seed=11)
    frame.loc[7, "text"] = frame.loc[2, "text"]  # one repeated request: sent once, answered twice
    return write(frame, tmp_path / "articles.parquet"), frame


def stream_plan(path, **kw):
    spec = gb.RequestSpec.create(MODEL, PROMPT)
    kw.setdefault("chunk_tokens", 30_000)
    return gb.plan_stream(gb.ArticleStream(path, batch_size=400), spec, catalog=small_catalog(), **kw)


def test_streamed_run_accounts_for_every_article_like_the_frame_run(emu, source, tmp_path):
    path, frame = source
    assert pq.ParquetFile(path).metadata.num_row_groups > 1
    plan = stream_plan(path)
    assert len(plan.chunks) > 1
    run = gb.Run.create(
        tmp_path / "s", gb.ArticleStream(path, batch_size=400), plan, client=emu.client(), **FAST
    )
    assert run.wait(timeout=180, progress=False)
    res = run.results()
    assert res.index.tolist() == frame["id"].tolist()
    assert (res["status"] == "succeeded").all()
    assert_no_duplicate_jobs(emu.stats(), run.run_id)
    assert set(run.chunks()["source"]) == {"file"}, "a streamed run's jobs go as files"
    sent = read_ledger(run, "SELECT SUM(articles) FROM chunks WHERE attempt = 1")[0][0]
    repeats = int(frame["text"].duplicated().sum())
    assert repeats >= 1
    assert sent == N - repeats, "a repeated request is sent once"
    assert res.loc[frame["id"][7], "output_text"] == res.loc[frame["id"][2], "output_text"]

    arts = gb.read_articles(frame, id_col="id")
    fplan = gb.plan(arts, MODEL, prompt=PROMPT, catalog=small_catalog(), chunk_tokens=30_000)
    other = gb.Run.create(tmp_path / "f", arts, fplan, client=emu.client(), **FAST)
    assert other.wait(timeout=180, progress=False)
    expected = other.results()
    assert run.config.fingerprints["input"] == other.config.fingerprints["input"]
    for col in ("status", "output_text", "prompt_tokens", "output_tokens", "cost_usd"):
        pd.testing.assert_series_equal(res[col], expected[col], check_names=False)
    pd.testing.assert_frame_equal(pd.concat(other.iter_results(page_size=333)), expected)  # any run pages


def test_pages_cover_every_row_once_and_export(emu, source, tmp_path):
    path, _ = source
    plan = stream_plan(path)
    run = gb.Run.create(tmp_path / "s", path, plan, client=emu.client(), **FAST)
    before = list(run.iter_results(page_size=500))  # nothing collected yet: every article pending
    assert sum(len(p) for p in before) == N
    assert (pd.concat(before)["status"] == "pending").all()
    pd.testing.assert_frame_equal(pd.concat(before), run.results())
    assert run.wait(timeout=180, progress=False)
    pages = list(run.iter_results(page_size=250))
    assert [len(p) for p in pages] == [250, 250, 250, 250, 200]
    joined = pd.concat(pages)
    assert joined.index.is_unique
    pd.testing.assert_frame_equal(joined, run.results())
    out = run.export_results(tmp_path / "results.parquet", page_size=300)
    pd.testing.assert_frame_equal(pd.read_parquet(out), run.results(), check_index_type=False)
    with pytest.raises(gb.InputError, match="page_size"):
        next(run.iter_results(page_size=0))


def test_same_source_reopens_and_a_changed_one_is_refused(emu, source, tmp_path):
    path, frame = source
    plan = stream_plan(path)
    run = gb.Run.create(tmp_path / "s", path, plan, client=emu.client(), **FAST)
    again = gb.Run.create(tmp_path / "s", gb.ArticleStream(path, batch_size=97), plan, client=emu.client())
    assert again.run_id == run.run_id
    assert len(again.chunks()) == len(run.chunks())

    changed = frame.copy()
    changed.loc[900, "text"] = "A different text altogether."
    other = write(changed, tmp_path / "changed.parquet")
    with pytest.raises(gb.RunMismatch, match="the articles") as info:
        gb.Run.create(tmp_path / "s", other, stream_plan(other), client=emu.client())
    assert "gb.Run.open" in str(info.value)
    spec = gb.RequestSpec.create(MODEL, "Translate:\n{text}")
    with pytest.raises(gb.RunMismatch, match="the prompt"):
        gb.Run.create(
            tmp_path / "s", path, gb.plan_stream(path, spec, catalog=small_catalog()), client=emu.client()
        )


def _refused(emu, run_dir, source, plan, match):
    made = len(emu.stats()["batches_created_by_display_name"])
    with pytest.raises(gb.InputError, match=match) as info:
        gb.Run.create(run_dir, source, plan, client=emu.client(), **FAST)
    assert len(emu.stats()["batches_created_by_display_name"]) == made, "nothing is submitted"
    assert not (run_dir / "ledger.sqlite").exists(), "no half-made run is left"
    with pytest.raises(gb.GembatchError, match="holds no gembatch run"):
        gb.Run.open(run_dir)
    return info.value


def test_bad_parquet_is_one_clear_error_and_nothing_is_submitted(emu, source, tmp_path):
    path, frame = source
    plan = stream_plan(path)
    no_id = write(frame.drop(columns=["id"]), tmp_path / "no_id.parquet")
    err = _refused(emu, tmp_path / "r1", no_id, plan, r"no column\(s\) 'id'")
    assert err.field == "id"

    dup = frame.copy()
    dup.loc[1_000, "id"] = dup.loc[10, "id"]  # a repeat in a later batch than the first
    dup_src = gb.ArticleStream(write(dup, tmp_path / "dup.parquet"), batch_size=400)
    err = _refused(
        emu, tmp_path / "r2", dup_src, plan, rf"row 1000: article id '{dup.loc[10, 'id']}' appears twice"
    )
    assert (err.row, err.field) == (1000, "id")
    with pytest.raises(gb.InputError, match="row 1000: article id"):
        stream_plan(tmp_path / "dup.parquet")

    blank = frame.copy()
    blank.loc[650, "text"] = "   "
    err = _refused(emu, tmp_path / "r3", write(blank, tmp_path / "blank.parquet"), plan,
                   rf"row 650: article '{frame.loc[650, 'id']}' has an empty 'text'")  # fmt: skip
    assert err.field == "text"

    shorter = write(frame.iloc[:1000], tmp_path / "short.parquet")
    _refused(emu, tmp_path / "r4", shorter, plan, "the plan was not made from")
    frame_plan = gb.plan(gb.read_articles(frame, id_col="id"), MODEL, prompt=PROMPT, catalog=small_catalog())
    _refused(emu, tmp_path / "r5", path, frame_plan, "gb.plan_stream")
    arts = gb.read_articles(frame, id_col="id")
    _refused(emu, tmp_path / "r6", arts, plan, "made by gb.plan_stream")


def test_a_directory_of_parquet_files_is_one_source(emu, tmp_path):
    frame = gb.synthetic_articles(600, mean_chars=300, seed=3)
    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate(range(0, 600, 200)):
        write(frame.iloc[start : start + 200], folder / f"part-{i}.parquet", row_group=64)
    plan = stream_plan(folder, chunk_tokens=20_000)
    assert plan.articles == 600
    run = gb.Run.create(tmp_path / "run", folder, plan, client=emu.client(), **FAST)
    assert run.wait(timeout=180, progress=False)
    res = run.results()
    assert res.index.tolist() == frame["id"].tolist()
    assert (res["status"] == "succeeded").all()


def test_retries_read_their_scattered_rows_back(source, tmp_path):
    """Articles answered with retryable errors go out again in retry chunks: rows picked from many
    row groups of the snapshot, not one planned chunk's contiguous slice."""
    path, frame = source
    plan = stream_plan(path)
    with running(speed=5_000, profile="realistic", seed=3, catalog=small_catalog()) as server:
        run = gb.Run.create(tmp_path / "s", path, plan, client=server.client(), max_attempts=4, **FAST)
        assert run.wait(timeout=240, progress=False)
        stats = server.stats()
    res = run.results()
    assert res.index.tolist() == frame["id"].tolist()
    assert set(res["status"].astype(str)) <= {"succeeded", "failed"}
    assert res.loc[res["status"] == "failed", "error"].notna().all()
    chunks = run.chunks()
    retried = chunks[chunks["attempt"] > 1]
    assert len(retried), "the realistic profile answers some lines with retryable errors"
    again = res[res["attempt"] > 1]
    assert again["status"].eq("succeeded").any()
    positions = frame.index[frame["id"].isin(again.index)]
    assert positions.max() - positions.min() + 1 > len(positions), "rows scattered over the input"
    assert again.loc[again["status"] == "succeeded", "output_text"].str.len().gt(0).all()
    assert_no_duplicate_jobs(stats, run.run_id)
