"""The scheduler's decisions: quota × headroom, job limit, budget, rolling vs waves."""

from __future__ import annotations

import pytest

from gembatch.runs.scheduler import Candidate, Capacity, choose


def _chunks(n, tokens=100, cost=1.0, waves=1):
    return [Candidate(f"c{i}", 1 + i * waves // n, tokens, cost) for i in range(n)]


def test_rolling_fills_up_to_cap_first_fit():
    planned = [Candidate("a", 1, 60, 0), Candidate("b", 1, 60, 0), Candidate("c", 1, 30, 0)]
    d = choose(planned, Capacity(0, 0, 0.0), policy="rolling", cap_tokens=100)
    assert d.submit == ["a", "c"]


def test_in_flight_tokens_count():
    d = choose(_chunks(5), Capacity(250, 2, 0.0), policy="rolling", cap_tokens=500)
    assert d.submit == ["c0", "c1"]


def test_job_limit():
    d = choose(_chunks(10, tokens=1), Capacity(0, 97, 0.0), policy="rolling", cap_tokens=10**6, max_jobs=100)
    assert len(d.submit) == 3


def test_budget_blocks_and_reports():
    d = choose(_chunks(4, cost=1.0), Capacity(0, 0, 1.5), policy="rolling", cap_tokens=10**6, budget_usd=3.0)
    assert d.submit == ["c0"]
    assert d.over_budget == ["c1", "c2", "c3"]


def test_waves_only_open_wave():
    planned = _chunks(6, waves=3)
    d = choose(planned, Capacity(0, 0, 0.0, open_wave=2), policy="waves", cap_tokens=10**6)
    assert {c.wave for c in planned if c.chunk_id in d.submit} == {2}


def test_oversized_chunk_goes_alone_when_idle():
    d = choose([Candidate("big", 1, 10**9, 0)], Capacity(0, 0, 0.0), policy="rolling", cap_tokens=100)
    assert d.submit == ["big"]
    d = choose([Candidate("big", 1, 10**9, 0)], Capacity(10, 1, 0.0), policy="rolling", cap_tokens=100)
    assert d.submit == []


def test_unknown_policy():
    with pytest.raises(ValueError, match="policy"):
        choose([], Capacity(0, 0, 0.0), policy="eager", cap_tokens=1)
