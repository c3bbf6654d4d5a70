"""The tail-aware policy: which job sizes it picks from the quota, the job limit and the latency model,
and what the plan says about it; the scheduler simulation that the benchmark reports."""

from __future__ import annotations

import re

import pytest

import gembatch as gb
from gembatch.planning.latency import PRIOR, LatencyModel, blended_quantile, forecast_makespan
from gembatch.runs.simulate import SimChunk, simulate, simulate_plan

MODEL = "gemini-2.5-flash-lite"
# no queue tail, slow processing: splitting the quota into parallel jobs is all that helps
NO_TAIL = LatencyModel(queue_median_s=60.0, queue_sigma=0.01, overhead_s=10.0, tokens_per_s=500.0,
                       proc_sigma=0.01, source="test: no tail")  # fmt: skip


@pytest.fixture(scope="module")
def articles_12k():
    return gb.read_articles(gb.synthetic_articles(12_000, seed=1), id_col="id")


def _at_once(p: gb.Plan) -> int:
    match = re.search(r"up to (\d+) at once", p.policy_reason)
    assert match, p.policy_reason
    return int(match.group(1))


def test_tail_is_the_default_and_says_why(articles_12k):
    p = gb.plan(articles_12k, MODEL, tier="tier1")
    waves = gb.plan(articles_12k, MODEL, tier="tier1", policy="waves")
    rolling = gb.plan(articles_12k, MODEL, tier="tier1", policy="rolling")
    assert p.policy == "tail"
    assert len(waves.chunks) < len(p.chunks) < len(rolling.chunks)  # sized between the two
    assert (p.chunks["est_tokens"] <= p.cap_tokens).all()
    assert "expected makespan" in p.policy_reason
    assert "with waves" in p.policy_reason
    assert "hedged" in p.policy_reason
    assert p.to_dict()["policy_reason"] == p.policy_reason
    assert f"policy tail: {p.policy_reason}" in repr(p)
    assert "no hedging" in waves.policy_reason


def test_tail_splits_the_quota_when_processing_dominates(articles_12k):
    p = gb.plan(articles_12k, MODEL, tier="tier1", latency=NO_TAIL)
    assert _at_once(p) == 12  # the most parallel split considered
    assert "test: no tail" in p.policy_reason


def test_tail_respects_the_concurrent_job_limit(articles_12k):
    cat = gb.load_catalog({MODEL: {"concurrent_batch_jobs": 2}})
    p = gb.plan(articles_12k, MODEL, tier="tier1", latency=NO_TAIL, catalog=cat)
    assert _at_once(p) <= 2  # more, smaller jobs could not run at once anyway
    assert (p.waves["chunks"] <= 2).all()


def test_explicit_chunk_tokens_wins(articles_12k):
    p = gb.plan(articles_12k, MODEL, tier="tier1", chunk_tokens=500_000)
    assert (p.chunks["est_tokens"] <= 500_000).all()
    assert "chunk_tokens" in p.policy_reason


def test_forecast_prefers_hedging_under_a_heavy_tail():
    total, cap = 34_000_000, 9_000_000
    hedged = forecast_makespan(total, cap // 4, cap, 100, PRIOR)
    unhedged = forecast_makespan(total, cap // 4, cap, 100, PRIOR, hedge_quantile=None)
    assert hedged.p90_s < unhedged.p90_s
    assert hedged.jobs == unhedged.jobs == 16


def test_blended_quantile_moves_from_prior_to_observations():
    prior_only = blended_quantile(0.5, [])
    assert prior_only == pytest.approx(PRIOR.quantile(0.5), rel=0.35)
    fast = blended_quantile(0.5, [30.0] * 200)
    assert fast < 60.0 < prior_only


def test_simulation_waits_for_the_wave_and_hedges_only_when_asked():
    chunks = [SimChunk(f"c{i:05d}", 1 + i // 2, 1_000) for i in range(6)]
    heavy = LatencyModel(queue_median_s=600.0, queue_sigma=1.5, overhead_s=10.0, tokens_per_s=1e6)
    kw = {"cap_tokens": 2_000, "max_jobs": 10, "model": heavy}
    for seed in range(5):
        waves = simulate(chunks, policy="waves", seed=seed, **kw)
        assert waves.hedges == 0
        assert waves.jobs == 6
        # the quota holds two jobs at once: utilisation can never pass 100%
        assert 0 < waves.utilisation <= 1.0 + 1e-9
    hedged = [simulate(chunks, policy="tail", seed=s, hedge_quantile=0.5, **kw) for s in range(20)]
    assert sum(r.hedges for r in hedged) > 0
    assert all(r.jobs == 6 + r.hedges for r in hedged)  # every hedge is one more job, same articles
    plain = [simulate(chunks, policy="tail", seed=s, hedge_quantile=None, **kw) for s in range(20)]
    assert all(r.hedges == 0 for r in plain)


def test_simulate_plan_bills_each_chunk_once(articles_12k):
    p = gb.plan(articles_12k, MODEL, tier="tier1")
    r = simulate_plan(p, model=PRIOR, seed=3)
    assert r.cost_usd == pytest.approx(p.est_cost_usd)  # hedged copies replace, never add, cost
    assert r.jobs == len(p.chunks) + r.hedges
