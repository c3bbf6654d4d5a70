"""plan(): the 12k wave shape, rolling chunks, limits never exceeded, budget, overrides."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gembatch as gb
from gembatch.errors import BudgetExceeded, InputError, QuotaExceeded
from gembatch.inputs.request_lines import iter_request_lines, write_jsonl
from gembatch.planning.plan import request_bytes

CHUNK_COLUMNS = ["wave", "articles", "est_input_tokens", "est_output_tokens", "est_tokens",
                 "est_cost_usd", "bytes", "source"]  # fmt: skip


@pytest.fixture(scope="module")
def articles_12k():
    return gb.read_articles(gb.synthetic_articles(12_000))


def check_plan(p: gb.Plan, articles: pd.DataFrame) -> None:
    chunks, waves, info = p.chunks, p.waves, p.model_info
    assert list(chunks.columns) == CHUNK_COLUMNS
    assert chunks.index.name == "chunk_id"
    assert chunks.index.is_unique
    assert all(c.startswith("c") for c in chunks.index)
    # every article in exactly one chunk, order kept
    assert p.assignments.index.equals(articles.index)
    assert set(p.assignments) == set(chunks.index)
    counts = p.assignments.value_counts()
    assert (counts.reindex(chunks.index) == chunks["articles"]).all()
    assert chunks["articles"].sum() == len(articles)
    assert (chunks["est_tokens"] == chunks["est_input_tokens"]).all()
    # limits
    cap = int(p.quota_tokens * p.headroom)
    assert (waves["est_tokens"] <= cap).all()
    assert (waves["chunks"] <= info.concurrent_batch_jobs).all()
    assert (chunks["bytes"] <= info.file_limit_bytes).all()
    assert (chunks.loc[chunks["source"] == "inline", "bytes"] <= info.inline_limit_bytes).all()
    assert set(chunks["source"]) <= {"inline", "file"}
    assert chunks["est_cost_usd"].sum() == pytest.approx(p.cost.batch_cost_usd)
    assert waves.index.tolist() == list(range(1, len(waves) + 1))


def test_12k_waves_reproduce_the_seed_shape(articles_12k):
    p = gb.plan(articles_12k, model="gemini-2.5-flash-lite", tier="tier1", policy="waves")
    check_plan(p, articles_12k)
    assert p.quota_tokens == 10_000_000
    waves = p.waves
    assert len(waves) == 4
    full = waves.iloc[:-1]
    assert full["articles"].between(3_100, 3_300).all()  # ~3,200 articles
    assert full["est_tokens"].between(8_900_000, 9_000_000).all()  # ~9M tokens
    assert waves["articles"].iloc[-1] < full["articles"].min()  # the last one smaller
    assert (p.chunks["source"] == "file").all()  # ~29 MB per wave: over the inline limit
    assert len(p.chunks) == 4  # one job per wave


def test_12k_rolling_chunks_are_small_and_many(articles_12k):
    p = gb.plan(articles_12k, model="gemini-2.5-flash-lite", tier="tier1", policy="rolling")
    check_plan(p, articles_12k)
    assert p.policy == "rolling"
    assert len(p.chunks) >= 30
    assert (p.chunks["est_tokens"] <= 1_000_000).all()
    assert p.chunks["articles"].between(200, 400).iloc[:-1].all()
    assert (p.chunks["source"] == "inline").all()
    assert (p.waves["chunks"] >= 8).iloc[:-1].all()  # many in flight at once


def test_chunk_bytes_are_exact(tmp_path):
    arts = gb.read_articles(
        [{"id": "ü-1", "title": 'He said "hi"', "text": "Zürich\n東京 \\ \t\x01 🙂 " * 50},
         {"id": 2, "title": None, "text": "plain"}]
    )  # fmt: skip
    spec = gb.RequestSpec.create("gemini-2.5-flash", "{title}: {text}", system_instruction="Be brief.",
                                 temperature=0.1, thinking_budget=0)  # fmt: skip
    predicted = request_bytes(arts, spec)
    lines = list(iter_request_lines(arts, spec))
    for line, n in zip(lines, predicted, strict=True):
        assert write_jsonl([line], tmp_path / "one.jsonl") == n
    assert write_jsonl(lines, tmp_path / "all.jsonl") == predicted.sum()


def test_budget_exceeded_and_within_budget(articles_12k):
    small = articles_12k.iloc[:100]
    cost = gb.estimate(small, model="gemini-2.5-flash").batch_cost_usd
    with pytest.raises(BudgetExceeded, match=r"over budget_usd=.*raise the budget"):
        gb.plan(small, model="gemini-2.5-flash", budget_usd=cost * 0.9)
    p = gb.plan(small, model="gemini-2.5-flash", budget_usd=cost * 1.1)
    assert p.budget_usd == pytest.approx(cost * 1.1)


def test_catalogue_override_drives_quota_and_prices():
    cat = gb.load_catalog({"gemini-2.5-flash-lite": {"enqueued_tokens": {"tier1": 100_000}}})
    arts = gb.read_articles(gb.synthetic_articles(200))
    p = gb.plan(arts, model="gemini-2.5-flash-lite", policy="waves", catalog=cat)
    check_plan(p, arts)
    assert p.quota_tokens == 100_000
    assert (p.waves["est_tokens"] <= 90_000).all()
    assert len(p.waves) >= 6


def test_tier_changes_the_quota(articles_12k):
    p = gb.plan(articles_12k, model="gemini-2.5-flash-lite", tier="tier2", policy="waves")
    assert p.quota_tokens == 500_000_000
    assert len(p.waves) == 1
    with pytest.raises(gb.CatalogError, match="free"):
        gb.plan(articles_12k.iloc[:5], model="gemini-2.5-flash-lite", tier="free")


def test_an_article_bigger_than_the_quota_is_refused():
    cat = gb.load_catalog({"gemini-2.5-flash-lite": {"enqueued_tokens": {"tier1": 1_000}}})
    arts = gb.read_articles(["short", "x" * 10_000])
    with pytest.raises(QuotaExceeded, match="'00001' needs"):
        gb.plan(arts, model="gemini-2.5-flash-lite", catalog=cat)


def test_bad_arguments():
    arts = gb.read_articles(["a", "b"])
    with pytest.raises(InputError, match="policy"):
        gb.plan(arts, model="gemini-2.5-flash-lite", policy="fast")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="headroom"):
        gb.plan(arts, model="gemini-2.5-flash-lite", headroom=1.5)
    with pytest.raises(InputError, match="chunk_tokens"):
        gb.plan(arts, model="gemini-2.5-flash-lite", chunk_tokens=10**9)
    with pytest.raises(InputError, match=r"\{author\}"):
        gb.plan(arts, model="gemini-2.5-flash-lite", prompt="{author}")


def test_inline_switch():
    arts = gb.read_articles(gb.synthetic_articles(50))
    assert (gb.plan(arts, model="gemini-2.5-flash-lite", inline=False).chunks["source"] == "file").all()
    cat = gb.load_catalog({"gemini-2.5-flash-lite": {"inline_limit_bytes": 10_000}})
    with pytest.raises(QuotaExceeded, match="inline limit"):
        gb.plan(arts, model="gemini-2.5-flash-lite", catalog=cat, inline=True)


def test_plan_takes_a_spec_and_raw_input_and_reprs():
    spec = gb.RequestSpec.create("gemini-2.5-flash-lite", "Summarise: {text}", expected_output_tokens=100)
    p = gb.plan(["first <b>one</b>", "second"], spec=spec)
    assert p.spec is spec
    assert p.cost.output_tokens == 200
    text = repr(p)
    assert "Plan: 2 articles" in text
    assert "enqueued-token cap 9,000,000" in text
    page = p._repr_html_()
    assert "gb-repr" in page
    assert "c00001" in page  # the chunks table is shown
    data = json.loads(json.dumps(p.to_dict()))
    assert data["chunks"][0]["chunk_id"] == "c00001"
    assert data["cap_tokens"] == 9_000_000
    with pytest.raises(InputError, match="disagrees"):
        gb.plan(["a"], model="gemini-2.5-flash", spec=spec)


@st.composite
def workloads(draw):
    n = draw(st.integers(1, 60))
    lengths = draw(st.lists(st.integers(1, 40_000), min_size=n, max_size=n))
    quota = draw(st.integers(26_000, 400_000))  # the largest article (12,500 tokens) must fit
    inline_limit = draw(st.integers(30_000, 2_000_000))
    file_limit = draw(st.integers(max(inline_limit, 130_000), 4_000_000))
    jobs = draw(st.integers(1, 5))
    headroom = draw(st.sampled_from([0.5, 0.8, 0.9, 1.0]))
    policy = draw(st.sampled_from(["rolling", "waves"]))
    share = draw(st.one_of(st.none(), st.floats(0.0, 1.0)))
    cap = int(quota * headroom)
    chunk = None if share is None else 12_500 + int(share * (cap - 12_500))
    return lengths, quota, inline_limit, file_limit, jobs, headroom, policy, chunk


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(workloads())
def test_limits_are_never_exceeded(workload):
    lengths, quota, inline_limit, file_limit, jobs, headroom, policy, chunk = workload
    cat = gb.load_catalog({"gemini-2.5-flash-lite": {
        "enqueued_tokens": {"tier1": quota}, "inline_limit_bytes": inline_limit,
        "file_limit_bytes": file_limit, "concurrent_batch_jobs": jobs}})  # fmt: skip
    arts = gb.read_articles([{"id": f"x{i}", "text": "é" * k} for i, k in enumerate(lengths)])
    p = gb.plan(arts, model="gemini-2.5-flash-lite", catalog=cat, headroom=headroom, policy=policy,
                chunk_tokens=chunk)  # fmt: skip
    check_plan(p, arts)
    cap = int(quota * headroom)
    assert (p.chunks["est_tokens"] <= (chunk or cap)).all()
    if chunk is None and policy == "rolling":
        assert (
            p.chunks["est_tokens"] <= max(min(1_000_000, cap // 8), p.cost.per_article["input_tokens"].max())
        ).all()
    # contiguous: chunk ids follow input order
    ids = p.assignments.to_numpy()
    assert (ids[:-1] <= ids[1:]).all()
    assert np.all(np.diff(p.chunks["wave"].to_numpy()) >= 0)


@settings(max_examples=40, deadline=None, database=None)
@given(st.lists(st.text(min_size=1, max_size=200).filter(str.strip), min_size=1, max_size=8, unique=True))
def test_request_bytes_match_the_written_lines_for_any_text(texts):
    arts = gb.read_articles([{"id": t[:10] + str(i), "text": t} for i, t in enumerate(texts)])
    spec = gb.RequestSpec("gemini-2.5-flash-lite", prompt="Say {{hi}} to: {text}")
    buf = io.BytesIO()
    write_jsonl(iter_request_lines(arts, spec), buf)
    sizes = [len(line) + 1 for line in buf.getvalue().split(b"\n")[:-1]]
    assert sizes == request_bytes(arts, spec).tolist()


def test_reprs_stay_bounded_for_many_jobs():
    arts = gb.read_articles(gb.synthetic_articles(400, mean_chars=1_000))
    p = gb.plan(arts, model="gemini-2.5-flash-lite", chunk_tokens=1_000)
    assert len(p.chunks) > 100
    assert len(p.waves) >= 2  # the 100-concurrent-jobs limit splits the waves
    assert (p.waves["chunks"] <= 100).all()
    page = p._repr_html_()
    assert len(page) < 20_000
    assert "…" in page
    assert len(repr(p).splitlines()) < 25
